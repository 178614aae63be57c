"""The trend marts: refreshing them (the DAG's publish stage) and reading them (page and export).

The marts themselves are SQL (``sql/migrations/0004_analytics.sql``, ``0005_upwork_marts.sql``,
documented in ``docs/marts.md``). This module:

- refreshes the materialised ones, in dependency order, ``CONCURRENTLY`` so that readers are never
  blocked (``refresh_marts``);
- opens read-only connections as the ``jobreqs_reader`` role (``reader_connection``);
- answers the questions the trends page asks (``filter_options``, ``compare_periods``,
  ``trend_series``, ``last_run``) and streams the rows an export writes (``trend_rows``).

Every query is parameterised; the slice filters are values, never SQL text.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

log = logging.getLogger(__name__)

#: Materialised views in refresh order (each depends only on the ones before it).
MATERIALIZED_MARTS: tuple[str, ...] = (
    "postings_daily",
    "technology_daily",
    "category_daily",
    "technology_trends",
    "technology_period_shares",
    "technology_pairs",
)

#: How the page names each source (the marts hold the codes).
SOURCE_LABELS = {"all": "all sources (cross-source duplicates once)", "indeed": "Indeed", "upwork": "Upwork",
                 "hn": "Hacker News (Who is hiring?)", "greenhouse": "Greenhouse boards", "lever": "Lever boards",
                 "ashby": "Ashby boards"}

READER_ROLE = "jobreqs_reader"
#: Optional Airflow connection that logs in as the reader directly (see docs/marts.md).
READER_CONN_ID = "jobreqs_warehouse_reader"
ALL = "all"


# --- refresh -------------------------------------------------------------------------------------

def refresh_marts(conn: psycopg.Connection) -> dict:
    """Refresh every materialised mart, in dependency order; return rows and seconds per mart.

    ``CONCURRENTLY`` (readers keep reading the old contents meanwhile) when the view holds rows,
    a plain refresh when it is empty or unpopulated (nothing to protect; Postgres refuses
    ``CONCURRENTLY`` on an unpopulated view). Each
    refresh is committed on its own (the connection may be in autocommit mode or not). The caller's role must own the views (the role that migrated).
    Returns ``{"marts": {name: {"rows": n, "seconds": s, "concurrently": bool}}, "seconds": s}``.
    """
    started = time.monotonic()
    report: dict[str, dict] = {}
    for name in MATERIALIZED_MARTS:
        row = conn.execute(
            """SELECT c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'jobreqs' AND c.relname = %s AND c.relkind = 'm'""",
            (name,),
        ).fetchone()
        if row is None:
            raise RuntimeError(f"materialised view jobreqs.{name} does not exist: run `jobreqs migrate`")
        # An empty view has no reader to protect: a plain refresh fills it much faster.
        concurrently = bool(row[0]) and conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier("jobreqs", name))).fetchone()[0]
        t0 = time.monotonic()
        statement = sql.SQL("REFRESH MATERIALIZED VIEW {} {}").format(
            sql.SQL("CONCURRENTLY") if concurrently else sql.SQL(""),
            sql.Identifier("jobreqs", name),
        )
        conn.execute(statement)
        if not conn.autocommit:
            conn.commit()  # each refresh on its own: a later failure does not undo it
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("jobreqs", name))).fetchone()[0]
        report[name] = {"rows": int(rows), "seconds": round(time.monotonic() - t0, 3), "concurrently": concurrently}
        log.info("refreshed jobreqs.%s: %d rows in %.2fs", name, rows, report[name]["seconds"])
    if not conn.autocommit:
        conn.commit()  # end the read transaction of the counts
    return {"marts": report, "seconds": round(time.monotonic() - started, 3)}


def publish(logical_date: dt.date | str, conninfo: str | None = None, lake_root=None) -> dict:
    """The DAG's publish stage for ``logical_date``: refresh the marts, then write the day's trend
    rows to the lake (``curated/technology_trends/dt=D/part-0000.parquet``, replaced on re-run).
    Connects as the ``jobreqs_warehouse`` connection (the role that owns the marts).
    Returns a small JSON-able dict for XCom:
    ``{"logical_date", "marts": {name: rows}, "refresh_seconds", "curated_rows", "curated_path"}``."""
    from jobreqs.warehouse import connect
    from transforms.export import publish_curated

    day = dt.date.fromisoformat(logical_date) if isinstance(logical_date, str) else logical_date
    with connect(conninfo) as conn:
        refreshed = refresh_marts(conn)
        curated = publish_curated(conn, day, lake_root)
    return {
        "logical_date": day.isoformat(),
        "marts": {name: m["rows"] for name, m in refreshed["marts"].items()},
        "refresh_seconds": refreshed["seconds"],
        "curated_rows": curated["rows"],
        "curated_path": curated["path"],
    }


# --- read-only connections -----------------------------------------------------------------------

def reader_conninfo() -> str:
    """The conninfo to read the marts with (then ``SET ROLE jobreqs_reader`` in any case).

    The ``jobreqs_warehouse_reader`` Airflow connection when one is defined (it logs in as the
    reader); otherwise the ``jobreqs_warehouse`` connection, whose user must be a member of
    ``jobreqs_reader`` (``GRANT jobreqs_reader TO <user>``; superusers are).
    """
    from jobreqs import warehouse

    conninfo = warehouse.airflow_conninfo(READER_CONN_ID)
    return conninfo if conninfo is not None else warehouse.warehouse_conninfo()


@contextmanager
def reader_connection(conninfo: str | None = None) -> Iterator[psycopg.Connection]:
    """A read-only connection acting as ``jobreqs_reader``: writes and secrets are refused by the
    database itself, whatever the code does."""
    with psycopg.connect(conninfo or reader_conninfo(), autocommit=True, row_factory=dict_row) as conn:
        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(READER_ROLE)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermissionError(
                f"the warehouse user cannot act as {READER_ROLE}: GRANT {READER_ROLE} TO that user, "
                f"or define the Airflow connection {READER_CONN_ID}"
            ) from exc
        conn.execute("SET default_transaction_read_only = on")
        # The reader role's own limits (sql/grants.sql) apply at login, not through SET ROLE.
        conn.execute("SET statement_timeout = '120s'")
        conn.execute("SET idle_in_transaction_session_timeout = '300s'")
        yield conn


# --- questions the page asks ---------------------------------------------------------------------

@dataclass(frozen=True)
class TrendFilter:
    """A period and a slice: ``source``/``keyword`` are values of the marts ('all' = every one);
    ``category`` limits the technologies shown (None = every category)."""

    start: dt.date
    end: dt.date
    source: str = ALL
    keyword: str = ALL
    category: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "TrendFilter":
        """The period of the same length just before this one, same slice."""
        return TrendFilter(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1),
                           self.source, self.keyword, self.category)


def filter_options(conn: psycopg.Connection) -> dict:
    """Sources, keywords and categories present in the marts, and their first and last day."""
    row = conn.execute(
        "SELECT min(posting_date) AS first_day, max(posting_date) AS last_day FROM jobreqs.postings_daily"
    ).fetchone()
    sources = [r["source"] for r in conn.execute(
        "SELECT DISTINCT source FROM jobreqs.postings_daily WHERE source <> 'all' ORDER BY 1")]
    keywords = [r["keyword"] for r in conn.execute(
        "SELECT DISTINCT keyword FROM jobreqs.postings_daily WHERE keyword <> 'all' ORDER BY 1")]
    categories = [r["category"] for r in conn.execute(
        "SELECT DISTINCT category FROM jobreqs.category_daily ORDER BY 1")]
    return {"first_day": row["first_day"], "last_day": row["last_day"],
            "sources": sources, "keywords": keywords, "categories": categories,
            "source_labels": {s: SOURCE_LABELS.get(s, s) for s in [ALL, *sources]}}


_COMPARE_SQL = """
WITH totals AS (
    SELECT COALESCE(sum(postings) FILTER (WHERE posting_date BETWEEN %(start)s AND %(end)s), 0) AS cur,
           COALESCE(sum(postings) FILTER (WHERE posting_date BETWEEN %(prev_start)s AND %(prev_end)s), 0) AS prev
    FROM jobreqs.postings_daily
    WHERE source = %(source)s AND keyword = %(keyword)s
      AND posting_date BETWEEN %(prev_start)s AND %(end)s
),
counts AS (
    SELECT technology, min(category) AS category,
           COALESCE(sum(postings) FILTER (WHERE posting_date BETWEEN %(start)s AND %(end)s), 0) AS postings,
           COALESCE(sum(postings) FILTER (WHERE posting_date BETWEEN %(prev_start)s AND %(prev_end)s), 0) AS prev_postings
    FROM jobreqs.technology_daily
    WHERE source = %(source)s AND keyword = %(keyword)s
      AND posting_date BETWEEN %(prev_start)s AND %(end)s
      AND (%(category)s::text IS NULL OR category = %(category)s::text)
    GROUP BY technology
)
SELECT c.technology, c.category,
       c.postings::integer AS postings, t.cur::integer AS total_postings,
       c.postings::numeric / NULLIF(t.cur, 0) AS share,
       c.prev_postings::integer AS prev_postings, t.prev::integer AS prev_total_postings,
       c.prev_postings::numeric / NULLIF(t.prev, 0) AS prev_share,
       c.postings::numeric / NULLIF(t.cur, 0) - c.prev_postings::numeric / NULLIF(t.prev, 0) AS change
FROM counts c CROSS JOIN totals t
"""


def compare_periods(conn: psycopg.Connection, f: TrendFilter) -> list[dict]:
    """Every technology asked for in the period or the one before: postings, share of the slice's
    postings, the same for the previous period of equal length, and the change of share.
    Sorted by postings in the period, most first."""
    prev = f.previous()
    rows = conn.execute(
        _COMPARE_SQL + " ORDER BY c.postings DESC, c.technology",
        {"start": f.start, "end": f.end, "prev_start": prev.start, "prev_end": prev.end,
         "source": f.source, "keyword": f.keyword, "category": f.category},
    ).fetchall()
    return [_plain(r) for r in rows]


def movers(rows: list[dict], limit: int = 10, min_postings: int = 2) -> dict:
    """Risers and fallers from ``compare_periods`` rows: the largest changes of share, among the
    technologies asked for by at least ``min_postings`` postings in one of the two periods."""
    eligible = [r for r in rows if r["change"] is not None and max(r["postings"], r["prev_postings"]) >= min_postings]
    risers = sorted((r for r in eligible if r["change"] > 0), key=lambda r: (-r["change"], r["technology"]))
    fallers = sorted((r for r in eligible if r["change"] < 0), key=lambda r: (r["change"], r["technology"]))
    return {"risers": risers[:limit], "fallers": fallers[:limit]}


def trend_series(conn: psycopg.Connection, f: TrendFilter, technologies: list[str]) -> dict[str, list[dict]]:
    """Daily points for each technology over the period: ``{technology: [{day, share, share_7d,
    postings}]}``, one point per day on which the slice has postings (0 when none asked for it)."""
    if not technologies:
        return {}
    rows = conn.execute(
        """SELECT d.posting_date AS day, tech.technology,
                  COALESCE(tr.postings, 0) AS postings,
                  COALESCE(tr.share, 0) AS share,
                  COALESCE(tr.share_7d, 0) AS share_7d
           FROM jobreqs.postings_daily d
           CROSS JOIN unnest(%(techs)s::text[]) AS tech (technology)
           LEFT JOIN jobreqs.technology_trends tr
             ON tr.posting_date = d.posting_date AND tr.source = d.source
            AND tr.keyword = d.keyword AND tr.technology = tech.technology
           WHERE d.source = %(source)s AND d.keyword = %(keyword)s
             AND d.posting_date BETWEEN %(start)s AND %(end)s
           ORDER BY tech.technology, d.posting_date""",
        {"techs": technologies, "source": f.source, "keyword": f.keyword, "start": f.start, "end": f.end},
    ).fetchall()
    series: dict[str, list[dict]] = {t: [] for t in technologies}
    for r in rows:
        series[r["technology"]].append({"day": r["day"].isoformat(), "postings": int(r["postings"]),
                                        "share": float(r["share"]), "share_7d": float(r["share_7d"])})
    return series


def last_run(conn: psycopg.Connection) -> dict | None:
    """The most recent pipeline run (run_summary) with its stages' status and statistics."""
    run = conn.execute(
        "SELECT * FROM jobreqs.run_summary ORDER BY last_recorded_at DESC, run_id DESC LIMIT 1"
    ).fetchone()
    if run is None:
        return None
    stages = conn.execute(
        """SELECT stage, status, stats, message, recorded_at FROM jobreqs.pipeline_runs
           WHERE run_id = %s ORDER BY recorded_at, stage""",
        (run["run_id"],),
    ).fetchall()
    result = _plain(run)
    result["stage_details"] = [_plain(s) for s in stages]
    # Why stages failed (error class and message, recorded by the tasks' failure callbacks) and
    # what the extraction could not do, by kind (those postings kept their technologies).
    result["failures"] = [{"stage": s["stage"], "error_class": (s["stats"] or {}).get("error_class"),
                           "message": s["message"]} for s in stages if s["status"] == "failed"]
    extract = next((s for s in stages if s["stage"] == "extract"), None)
    result["extraction_errors"] = dict((extract["stats"] or {}).get("error_kinds") or {}) if extract else {}
    # run_summary takes the date's figures from the warehouse; a run that processed nothing (a date
    # with no raw snapshot, or one that failed before processing) must not show another run's work.
    normalise = next((s for s in stages if s["stage"] == "normalise"), None)
    processed = any(s["stage"] in ("normalise", "classify", "extract", "load") and s["status"] == "success"
                    for s in stages)
    result["processed_nothing"] = None
    if (normalise is not None and normalise["status"] == "skipped") or not processed:
        result["processed_nothing"] = (normalise or {}).get("message") or "no stage processed postings"
        for key in ("postings", "postings_classified", "tokens_before", "tokens_after", "kept_text_ratio",
                    "postings_with_technology"):
            result[key] = None
    return result


def quality_checks(conn: psycopg.Connection, start: dt.date, end: dt.date) -> dict:
    """The data-quality checks (``quality_checks_latest``) of the period: every check of its
    last checked date, and each check missed on any of its dates."""
    rows = [_plain(r) for r in conn.execute(
        """SELECT check_date, check_name, severity, passed, value, threshold, message
           FROM jobreqs.quality_checks_latest WHERE check_date BETWEEN %s AND %s
           ORDER BY check_date, check_name""", (start, end))]
    last = max((r["check_date"] for r in rows), default=None)
    return {"last_day": last, "last": [r for r in rows if r["check_date"] == last],
            "missed": [r for r in rows if not r["passed"]]}


def derivation_versions(conn: psycopg.Connection, start: dt.date, end: dt.date) -> list[dict]:
    """Which taxonomy and classifier versions produced the technology rows of the postings of
    ``start``..``end``, with how many rows each (None: loaded before versions were recorded)."""
    return [_plain(r) for r in conn.execute(
        """SELECT t.taxonomy_version, t.classifier_version, count(*)::integer AS rows
           FROM jobreqs.posting_technologies t
           JOIN jobreqs.postings p ON p.source = t.source AND p.source_id = t.source_id
           WHERE p.posting_date BETWEEN %s AND %s
           GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2""", (start, end))]


def unmapped_terms_waiting(conn: psycopg.Connection) -> int:
    """Distinct unmapped terms waiting for review now."""
    return int(conn.execute("SELECT count(*) AS n FROM jobreqs.unmapped_terms_for_review").fetchone()["n"])


# --- export rows ---------------------------------------------------------------------------------

#: Columns of an export, in order, with their Arrow type names (see transforms.export).
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("posting_date", "date"), ("source", "string"), ("keyword", "string"),
    ("technology", "string"), ("category", "string"),
    ("postings", "int"), ("total_postings", "int"), ("share", "float"),
    ("postings_7d", "int"), ("total_postings_7d", "int"), ("share_7d", "float"),
    ("postings_28d", "int"), ("total_postings_28d", "int"), ("share_28d", "float"),
    ("postings_7d_prev_week", "int"), ("share_7d_prev_week", "float"), ("wow_change", "float"),
    ("postings_28d_prev_month", "int"), ("share_28d_prev_month", "float"), ("mom_change", "float"),
) + (
    # The date's coverage for the row's source (jobreqs.coverage_daily; 'all': every source):
    # a share that moves on a date of low coverage may be an outage, not a market change.
    ("coverage", "float"), ("usual_coverage", "float"), ("coverage_below_usual", "bool"),
    ("collected", "int"), ("reported", "int"), ("blocked", "int"), ("quarantined", "int"), ("cap_hit", "bool"),
)
#: Export columns read from coverage_daily (export name -> the view's column); the rest are the trend's.
COVERAGE_EXPORT = {"coverage": "coverage", "usual_coverage": "usual_coverage", "coverage_below_usual": "below_usual",
                   "collected": "collected", "reported": "reported", "blocked": "blocked",
                   "quarantined": "quarantined", "cap_hit": "cap_hit"}


def trend_rows(conn: psycopg.Connection, start: dt.date, end: dt.date, source: str | None = None,
               keyword: str | None = None, category: str | None = None, batch: int = 5000) -> Iterator[dict]:
    """Stream technology_trends rows of days ``start``..``end`` (optionally one source, keyword or
    category; None = every slice), ordered by day, slice and technology, through a server-side
    cursor: memory stays flat whatever the range."""
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    columns = sql.SQL(", ").join(
        sql.SQL("c.{} AS {}").format(sql.Identifier(COVERAGE_EXPORT[c]), sql.Identifier(c)) if c in COVERAGE_EXPORT
        else sql.SQL("t.{}").format(sql.Identifier(c)) for c, _ in EXPORT_COLUMNS)
    query = sql.SQL(
        """SELECT {columns} FROM jobreqs.technology_trends t
           LEFT JOIN jobreqs.coverage_daily c ON c.coverage_date = t.posting_date AND c.source = t.source
           WHERE t.posting_date BETWEEN %(start)s AND %(end)s
             AND (%(source)s::text IS NULL OR t.source = %(source)s::text)
             AND (%(keyword)s::text IS NULL OR t.keyword = %(keyword)s::text)
             AND (%(category)s::text IS NULL OR t.category = %(category)s::text)
           ORDER BY t.posting_date, t.source, t.keyword, t.technology"""
    ).format(columns=columns)
    params = {"start": start, "end": end, "source": source, "keyword": keyword, "category": category}
    # A named (server-side) cursor needs a transaction; a read-only one works for the reader role.
    with conn.transaction():
        with conn.cursor(name="jobreqs_export", row_factory=dict_row) as cur:
            cur.itersize = batch
            cur.execute(query, params)
            yield from cur


def _plain(row: dict) -> dict:
    """A database row as plain JSON-friendly values (Decimal -> float, dates -> ISO strings)."""
    from decimal import Decimal

    out = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        out[key] = value
    return out


# --- documentation -------------------------------------------------------------------------------

DOC_BEGIN = "<!-- BEGIN GENERATED: mart reference (python -m transforms.marts --doc) -->"
DOC_END = "<!-- END GENERATED -->"


def render_reference(conn: psycopg.Connection) -> str:
    """Markdown reference of every view and materialised view of schema jobreqs, from the
    COMMENT ON texts of the migrations (the single source of the column documentation)."""
    relations = conn.execute(
        """SELECT c.oid, c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS doc
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'jobreqs' AND c.relkind IN ('v', 'm') ORDER BY c.relname"""
    ).fetchall()
    parts = []
    for rel in relations:
        row = rel if isinstance(rel, dict) else dict(zip(("oid", "relname", "relkind", "doc"), rel))
        kind = "materialised view, refreshed by publish" if row["relkind"] == "m" else "view"
        parts.append(f"### `jobreqs.{row['relname']}` ({kind})\n\n{row['doc'] or ''}\n\n| column | type | meaning |\n|---|---|---|")
        columns = conn.execute(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, col_description(a.attrelid, a.attnum) AS doc
               FROM pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
            (row["oid"],),
        ).fetchall()
        for col in columns:
            c = col if isinstance(col, dict) else dict(zip(("attname", "type", "doc"), col))
            doc = (c["doc"] or "").replace("|", "\\|")
            parts.append(f"| `{c['attname']}` | {c['type']} | {doc} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _main(argv: list[str] | None = None) -> int:
    """``python -m transforms.marts --doc [FILE]``: rewrite the generated section of docs/marts.md."""
    import argparse
    from pathlib import Path

    from jobreqs.warehouse import PROJECT_ROOT, connect

    parser = argparse.ArgumentParser(prog="python -m transforms.marts")
    parser.add_argument("--doc", nargs="?", const=str(PROJECT_ROOT / "docs" / "marts.md"), required=True)
    args = parser.parse_args(argv)
    path = Path(args.doc)
    text = path.read_text()
    head, rest = text.split(DOC_BEGIN)
    _, tail = rest.split(DOC_END)
    with connect() as conn:
        reference = render_reference(conn)
    path.write_text(f"{head}{DOC_BEGIN}\n\n{reference}\n{DOC_END}{tail}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
