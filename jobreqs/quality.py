"""Data-quality checks after load: the common-sql provider's check operators, with a severity.

``jobreqs_daily`` runs one task per check (``dq_*``) between ``load`` and ``publish``
(``check_tasks``). Each is a provider check operator (threshold, column, table) that also records
its result, passed or not, in ``jobreqs.quality_checks`` (migration 0011; the trends page shows
them). Severity:

* ``fail``: a miss fails the task at once (no retry: the data will not change by waiting), so the
  run fails and the date is not published;
* ``warn``: a miss is recorded and logged, and the task succeeds: the run goes on.

An error that is not a check's verdict (the warehouse cannot be reached) fails the task whatever
the severity: a warning must not hide that nothing was checked.

The checks read the warehouse through the ``jobreqs_warehouse`` connection, or the embedded
Postgres when that connection is not defined (as every stage does: ``jobreqs.warehouse``). Their
SQL names the run's date through Airflow's template (``DAY``), never user input.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
    SQLThresholdCheckOperator,
)
from airflow.sdk.exceptions import AirflowException

log = logging.getLogger(__name__)

SEVERITIES = ("fail", "warn")
#: The run's date in the checks' SQL (a manual run without a logical date checks the day it runs).
# A run triggered from the UI has no logical date: the name is then undefined, not None, and
# Airflow renders with StrictUndefined, so test "is defined" before using it.
DAY = ("'{{ (logical_date if logical_date is defined and logical_date else dag_run.run_after)"
       ".strftime('%Y-%m-%d') }}'::date")
#: Dates before the checked one that its "usual" levels are the median of.
HISTORY_DAYS = 28


def _median_of_daily(expression: str, table_sql: str) -> str:
    """SQL: the median over the ``HISTORY_DAYS`` dates before DAY of a per-date figure
    (``expression`` over ``table_sql``, which has a ``day`` column)."""
    return (f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY figure) FROM ("
            f"SELECT day, {expression} AS figure FROM ({table_sql}) AS t "
            f"WHERE day BETWEEN {DAY} - {HISTORY_DAYS} AND {DAY} - 1 GROUP BY day) AS per_day")


_POSTINGS = "SELECT posting_date AS day, p.* FROM jobreqs.postings p"
_NO_TECH = ("SELECT p.posting_date AS day, NOT EXISTS (SELECT 1 FROM jobreqs.posting_technologies t "
            "WHERE t.source = p.source AND t.source_id = p.source_id) AS no_tech FROM jobreqs.postings p")
# an unmapped term counts on the first date it was met (a spike: many new unknown terms at once)
_NEW_TERMS = "SELECT min(first_seen) AS day, term FROM jobreqs.unmapped_terms GROUP BY term"


def record_results(conn, *, run_id: str, day, task_id: str, severity: str, results: list, message: str | None) -> int:
    """Store one row per check result (``SQLCheckResult``) of a task; return how many."""
    rows = results or [None]
    for result in rows:
        name = task_id if result is None or len(rows) == 1 else f"{task_id}.{result.name}"
        value = _number(getattr(result, "actual", None))
        passed = bool(result.success) if result is not None else False
        expected = getattr(result, "expected", None)
        if expected == "all truthy" and getattr(result, "content", None):  # a table check: its statement
            expected = result.content
        # a task with several checks: each miss says which statement it failed
        why = (f"not true: {expected}" if len(rows) > 1 and expected else message) if not passed else None
        conn.execute(
            """INSERT INTO jobreqs.quality_checks (run_id, check_date, check_name, severity, passed, value,
                                                  threshold, message)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (run_id, check_name) DO UPDATE SET
                   severity = EXCLUDED.severity, passed = EXCLUDED.passed, value = EXCLUDED.value,
                   threshold = EXCLUDED.threshold, message = EXCLUDED.message, recorded_at = now()""",
            (run_id, day, name, severity, passed, value, expected,
             None if passed else (why or "the check did not pass")[:2000]),
        )
    return len(rows)


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class RecordedCheck:
    """Mixin for a common-sql check operator: a severity, the embedded warehouse when the
    connection is absent, and every result recorded in ``jobreqs.quality_checks``."""

    severity: str
    description: str

    @staticmethod
    def _options(severity: str, kwargs: dict) -> dict:
        """The operator's keyword arguments, with this project's defaults."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
        kwargs.setdefault("conn_id", "jobreqs_warehouse")
        # A check's verdict does not change by retrying: a miss fails at once (AirflowFailException);
        # the DAG's retries still cover a warehouse that did not answer.
        kwargs.setdefault("retry_on_failure", False)
        return kwargs

    def _describe(self, severity: str, description: str) -> None:
        self.severity, self.description = severity, description
        self.doc_md = f"**{severity}**: {description}"

    @cached_property
    def _hook(self):
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            return _embedded_hook()
        return super()._hook

    def execute(self, context):
        from jobreqs import warehouse
        from jobreqs.pipeline import RunContext
        from jobreqs.redact import redact

        ctx = RunContext.from_airflow(context)
        verdict: AirflowException | None = None
        try:
            super().execute(context)
        except AirflowException as exc:  # the operator's verdict (a miss, or a query without rows)
            verdict = exc
        message = redact(_first_lines(str(verdict))) if verdict else None
        with warehouse.connect() as conn:
            record_results(conn, run_id=ctx.run_id, day=ctx.day, task_id=self.task_id, severity=self.severity,
                           results=list(self.check_results), message=message)
        if verdict is None:
            return {"check": self.task_id, "passed": True}
        if self.severity == "fail":
            raise verdict
        log.warning("warn check %s did not pass (recorded; the run goes on): %s", self.task_id, message)
        return {"check": self.task_id, "passed": False}


def _first_lines(text: str, lines: int = 12) -> str:
    return "\n".join(text.splitlines()[:lines])


def _embedded_hook():
    """A Postgres hook on the embedded warehouse (no Airflow connection defined)."""
    from airflow.models.connection import Connection
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg.conninfo import conninfo_to_dict

    from jobreqs.warehouse import warehouse_conninfo

    parts = conninfo_to_dict(warehouse_conninfo())
    connection = Connection(conn_id="jobreqs_warehouse_embedded", conn_type="postgres", host=parts.get("host"),
                            port=int(parts["port"]) if parts.get("port") else None, login=parts.get("user"),
                            password=parts.get("password"), schema=parts.get("dbname"))
    return PostgresHook(connection=connection)


class ThresholdCheck(RecordedCheck, SQLThresholdCheckOperator):
    """A figure of the date held between two bounds (numbers or SQL)."""

    # (an __init__ on each operator class: Airflow wraps the operator classes' own __init__)
    def __init__(self, *, severity: str, description: str, **kwargs):
        super().__init__(**self._options(severity, kwargs))
        self._describe(severity, description)


class ColumnCheck(RecordedCheck, SQLColumnCheckOperator):
    """Per-column checks (nulls, distinct values) over the date's rows."""

    # (an __init__ on each operator class: Airflow wraps the operator classes' own __init__)
    def __init__(self, *, severity: str, description: str, **kwargs):
        super().__init__(**self._options(severity, kwargs))
        self._describe(severity, description)


class TableCheck(RecordedCheck, SQLTableCheckOperator):
    """Boolean statements over the date's rows (e.g. null rates)."""

    # (an __init__ on each operator class: Airflow wraps the operator classes' own __init__)
    def __init__(self, *, severity: str, description: str, **kwargs):
        super().__init__(**self._options(severity, kwargs))
        self._describe(severity, description)


def check_tasks() -> list:
    """The ``dq_*`` tasks of ``jobreqs_daily`` (instantiate inside the DAG context)."""
    postings_of_day = f"posting_date = {DAY}"
    median_count = _median_of_daily("count(*)", _POSTINGS)

    def median_band(low: float, high: float) -> dict[str, str]:
        """Thresholds ``low`` and ``high`` times the 28-date median (wide open without history)."""
        return {"min_threshold": f"SELECT COALESCE(round(({low} * ({median_count}))::numeric, 2), 0)",
                "max_threshold": f"SELECT COALESCE(round(({high} * ({median_count}))::numeric, 2), 1e12)"}

    median_no_tech = _median_of_daily("avg(no_tech::int)", _NO_TECH)
    median_new_terms = _median_of_daily("count(*)", _NEW_TERMS)
    count_sql = f"SELECT count(*) FROM jobreqs.postings WHERE {postings_of_day}"
    return [
        ThresholdCheck(
            task_id="dq_row_count", severity="fail",
            description="postings of the date at least a fifth (and at most five times) the median of the 28 "
                        "dates before: a collapse or an explosion is an error, not a trend",
            sql=count_sql, **median_band(0.2, 5)),
        ThresholdCheck(
            task_id="dq_row_count_usual", severity="warn",
            description="postings of the date within 0.7x-1.5x the median of the 28 dates before",
            sql=count_sql, **median_band(0.7, 1.5)),
        ThresholdCheck(
            task_id="dq_no_technology_share", severity="warn",
            description="share of the date's postings with no technology at most 1.5x its median of the 28 "
                        "dates before (and never above 0.5 without history)",
            sql=f"SELECT COALESCE(avg(no_tech::int), 0) FROM ({_NO_TECH}) AS t WHERE day = {DAY}",
            min_threshold=0,
            max_threshold=f"SELECT COALESCE(round(LEAST(1, 1.5 * ({median_no_tech}) + 0.02)::numeric, 4), 0.5)"),
        ThresholdCheck(
            task_id="dq_unmapped_spike", severity="warn",
            description="unmapped terms first met on the date at most 3x the median of the 28 dates before "
                        "(at least 10 allowed): a spike means the taxonomy or the extractor drifted",
            sql=f"SELECT count(*) FROM ({_NEW_TERMS}) AS t WHERE day = {DAY}",
            min_threshold=0,
            max_threshold=f"SELECT GREATEST(10, COALESCE(3 * ({median_new_terms}), 0))"),
        ColumnCheck(
            task_id="dq_key_columns", severity="fail",
            description="every posting of the date was classified and extracted (no NULL classifier_version, "
                        "kept_text or extraction_backend)",
            table="jobreqs.postings", partition_clause=postings_of_day,
            column_mapping={column: {"null_check": {"equal_to": 0}}
                            for column in ("classifier_version", "kept_text", "extraction_backend")}),
        TableCheck(
            task_id="dq_null_rates", severity="warn",
            description="null rates of the columns the trends and filters rely on: posted_at at most 20% of "
                        "the date's postings, an Indeed posting's location and company at most 20% each",
            table="jobreqs.postings", partition_clause=postings_of_day,
            checks={
                "posted_at_null_rate": {"check_statement": "COALESCE(avg((posted_at IS NULL)::int), 0) <= 0.2"},
                # Upwork jobs name no location or company: those rates are Indeed's
                "location_null_rate": {"check_statement": "COALESCE(avg((location IS NULL)::int), 0) <= 0.2",
                                       "partition_clause": "source = 'indeed'"},
                "company_null_rate": {"check_statement": "COALESCE(avg((company IS NULL)::int), 0) <= 0.2",
                                      "partition_clause": "source = 'indeed'"},
            }, accept_none=True),
    ]

