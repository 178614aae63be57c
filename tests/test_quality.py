"""Data-quality checks: the dq_* tasks of jobreqs_daily (common-sql check operators) on a real
warehouse, run by Airflow (``dag.test``): a 'warn' miss is recorded and the run succeeds; a
'fail' miss is recorded and fails the run."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg.rows import dict_row

from jobreqs.warehouse import migrate

DAY = dt.date(2026, 11, 20)
HISTORY = [DAY - dt.timedelta(days=n) for n in range(1, 8)]


def _posting(conn, sid: str, day: dt.date, *, technology: str | None = "python", classified: bool = True,
             posted: bool = True) -> None:
    conn.execute(
        """INSERT INTO jobreqs.postings (source, source_id, title, company, location, posted_at, posting_date,
               description_text, content_hash, kept_text, classifier_version, extraction_backend)
           VALUES ('indeed', %s, 'Data engineer', 'Acme', 'Remote', %s, %s, 'text', %s, %s, %s, 'local')""",
        (sid, dt.datetime.combine(day, dt.time(9), dt.timezone.utc) if posted else None, day, f"h-{sid}",
         "text" if classified else None, "v1" if classified else None))
    if technology:
        conn.execute("INSERT INTO jobreqs.posting_technologies VALUES ('indeed', %s, %s)", (sid, technology))


@pytest.fixture
def history(warehouse):
    """Seven usual dates: ten postings a day, each with a technology and one new unmapped term."""
    migrate(warehouse)
    with psycopg.connect(warehouse) as conn:
        conn.execute("INSERT INTO jobreqs.technologies (name, category) VALUES ('python', 'language')")
        for day in HISTORY:
            for n in range(10):
                _posting(conn, f"{day}-{n}", day)
            conn.execute("INSERT INTO jobreqs.unmapped_terms VALUES (%s, 'indeed', %s, %s)",
                         (f"term-{day}", f"{day}-0", day))
    return warehouse


def _run_checks(day: dt.date) -> str:
    """Run the daily DAG's check tasks for ``day`` as a worker does (templates rendered from the
    run's context, then ``execute``); return the run's outcome: 'failed' when a task raised."""
    from types import SimpleNamespace

    from airflow.sdk import DAG
    from airflow.sdk.exceptions import AirflowFailException

    from jobreqs.quality import check_tasks

    moment = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    with DAG(dag_id="jobreqs_daily", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) as dag:
        tasks = check_tasks()
    state = "success"
    for task in tasks:
        context = {"logical_date": moment, "run_id": f"manual__{day}", "dag": dag, "params": {}, "task": task,
                   "dag_run": SimpleNamespace(run_after=moment), "ds": day.isoformat()}
        task.render_template_fields(context)
        try:
            result = task.execute(context)
        except AirflowFailException:
            assert task.severity == "fail", task.task_id  # a warn check never fails its task
            state = "failed"
        else:
            assert result["check"] == task.task_id
    return state


def _results(conninfo: str, day: dt.date) -> dict[str, dict]:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        return {r["check_name"]: r for r in conn.execute(
            "SELECT * FROM jobreqs.quality_checks_latest WHERE check_date = %s", (day,))}


def test_a_usual_day_passes_every_check(history):
    with psycopg.connect(history) as conn:
        for n in range(10):
            _posting(conn, f"d-{n}", DAY)
    state = _run_checks(DAY)
    assert state == "success"
    results = _results(history, DAY)
    assert {name for name in results} >= {"dq_row_count", "dq_row_count_usual", "dq_no_technology_share",
                                          "dq_unmapped_spike", "dq_key_columns.classifier_version.null_check",
                                          "dq_null_rates.posted_at_null_rate"}
    assert all(r["passed"] for r in results.values()), {k: r["message"] for k, r in results.items() if not r["passed"]}
    assert results["dq_row_count"]["value"] == 10 and results["dq_row_count"]["severity"] == "fail"


def test_warn_misses_are_recorded_and_the_run_goes_on(history):
    with psycopg.connect(history) as conn:
        # fewer postings than usual, half of them without a technology or a publish time,
        # and a burst of new unmapped terms
        for n in range(6):
            _posting(conn, f"d-{n}", DAY, technology=None if n % 2 else "python", posted=n % 2 == 0)
        for n in range(15):
            conn.execute("INSERT INTO jobreqs.unmapped_terms VALUES (%s, 'indeed', 'd-0', %s)", (f"new-{n}", DAY))
    state = _run_checks(DAY)
    assert state == "success"
    results = _results(history, DAY)
    missed = {name for name, r in results.items() if not r["passed"]}
    assert missed == {"dq_row_count_usual", "dq_no_technology_share", "dq_unmapped_spike",
                      "dq_null_rates.posted_at_null_rate"}
    assert {results[name]["severity"] for name in missed} == {"warn"}
    assert results["dq_no_technology_share"]["value"] == pytest.approx(0.5)
    assert results["dq_unmapped_spike"]["value"] == 15
    assert "not within thresholds" in results["dq_row_count_usual"]["message"]


def test_a_fail_miss_is_recorded_and_fails_the_run(history):
    with psycopg.connect(history) as conn:
        _posting(conn, "d-0", DAY, classified=False)
    state = _run_checks(DAY)
    assert state == "failed"
    results = _results(history, DAY)
    assert not results["dq_row_count"]["passed"] and results["dq_row_count"]["value"] == 1
    assert not results["dq_key_columns.classifier_version.null_check"]["passed"]
    assert results["dq_key_columns.extraction_backend.null_check"]["passed"]
    assert {r["severity"] for name, r in results.items() if name.startswith(("dq_row_count.", "dq_key_columns"))} == {"fail"}


def test_the_trends_page_shows_the_checks(history):
    """The page's checks: the misses of the period, then the last date's checks that passed; and
    the versions that produced its figures."""
    import json
    import sys
    import urllib.request
    from pathlib import Path

    with psycopg.connect(history) as conn:
        for n in range(6):
            _posting(conn, f"d-{n}", DAY)
        conn.execute("""UPDATE jobreqs.posting_technologies SET taxonomy_version = 'tax-7', classifier_version = 'v1'
                        WHERE source_id LIKE 'd-%'""")
    assert _run_checks(DAY) == "success"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from jobreqs.sandbox_month import trends_page

    query = f"?start={HISTORY[-1]}&end={DAY}"
    with trends_page() as url:
        with urllib.request.urlopen(url + "api/trends" + query, timeout=60) as answer:
            data = json.loads(answer.read())
            checks = data["checks"]
        with urllib.request.urlopen(url + query, timeout=60) as answer:
            html = answer.read().decode()
    assert checks["last_day"] == DAY.isoformat()
    assert [c["check_name"] for c in checks["missed"]] == ["dq_row_count_usual"]
    assert 'data-check="dq_row_count_usual" data-passed="false"' in html
    assert 'data-check="dq_row_count" data-passed="true"' in html
    # and which versions its figures come from (history loaded before versions were recorded)
    assert data["versions"] == [{"taxonomy_version": None, "classifier_version": None, "rows": 70},
                                {"taxonomy_version": "tax-7", "classifier_version": "v1", "rows": 6}]
    assert "taxonomy <b>tax-7</b> with classifier <b>v1</b> (6 technology rows)" in html


def test_checks_render_for_a_run_triggered_without_a_logical_date():
    """A run triggered from the UI has no logical date (the name is undefined in the template
    context, and Airflow renders with StrictUndefined): every check still reads its date, the run's."""
    from types import SimpleNamespace

    from airflow.sdk import DAG

    from jobreqs.quality import check_tasks

    day = dt.date(2026, 11, 30)
    moment = dt.datetime.combine(day, dt.time(4, 52), dt.timezone.utc)
    with DAG(dag_id="jobreqs_daily", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) as dag:
        tasks = check_tasks()
    for task in tasks:
        context = {"run_id": "manual__2026-11-30T04:52:07", "dag": dag, "params": {}, "task": task,
                   "dag_run": SimpleNamespace(run_after=moment, logical_date=None)}
        task.render_template_fields(context)
        rendered = " ".join(str(getattr(task, field)) for field in task.template_fields)
        assert f"'{day.isoformat()}'::date" in rendered, task.task_id
