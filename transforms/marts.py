"""The trend marts: refreshing them (the DAG's publish stage) and reading them (page and export).

The marts are tables (``sql/migrations/0016_incremental_marts.sql``; their columns documented in
``docs/marts.md``) whose contents this module defines. It:

- keeps them up to date incrementally (``update_marts``: only the rows whose windows hold the dates
  a run touched) and rebuilds them from all of history on demand (``refresh_marts``), in one
  transaction each, so that readers are never blocked;
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

#: The marts publish keeps up to date, in dependency order (each reads only the ones before it).
#: Tables since migration 0016 (they were materialised views).
MARTS: tuple[str, ...] = (
    "postings_daily",
    "technology_daily",
    "category_daily",
    "technology_trends",
    "technology_period_shares",
    "technology_pairs",
)
MATERIALIZED_MARTS = MARTS  # the former name, kept for callers

#: How the page names each source (the marts hold the codes).
SOURCE_LABELS = {"all": "all sources (cross-source duplicates once)", "indeed": "Indeed", "upwork": "Upwork",
                 "hn": "Hacker News (Who is hiring?)", "greenhouse": "Greenhouse boards", "lever": "Lever boards",
                 "ashby": "Ashby boards"}

READER_ROLE = "jobreqs_reader"
#: Optional Airflow connection that logs in as the reader directly (see docs/marts.md).
READER_CONN_ID = "jobreqs_warehouse_reader"
ALL = "all"


# --- keeping the marts up to date ----------------------------------------------------------------
#
# Every mart row depends on a bounded stretch of dates: a daily row on its day; a technology_trends
# row on the 56 days up to it (its 7/28-day windows and the ones before them); a
# technology_period_shares row on its week or month and the one before; a technology_pairs row on
# its month. So when the dates D change, publish recomputes exactly the rows whose stretch meets
# D, reading only those stretches: the cost is set by the day, not by history. The SQL below is
# the definition of each mart (formerly its materialised view, 0004_analytics.sql), restricted by
# date; a full rebuild is the same code over every date.

TREND_SPAN = 55  # days before a trends row that its windows read (days -55..0)
DUPLICATE_SPAN = 30  # days after a posting within which another source's posting is its duplicate

# The postings of the dates in every slice they belong to: the staging view posting_slices
# restricted to those dates (reading only their keywords, not the view's DISTINCT over all of them).
_SLICES_OF_DATES = """
WITH day_postings AS (
    SELECT source, source_id, posting_date FROM jobreqs.postings WHERE posting_date = ANY(%(dates)s::date[])
),
posting_keyword AS (
    SELECT p.source, p.source_id, p.posting_date, COALESCE(k.keyword, '(none)') AS keyword
    FROM day_postings p
    LEFT JOIN LATERAL (SELECT DISTINCT pk.keyword FROM jobreqs.posting_keywords pk
                       WHERE pk.source = p.source AND pk.source_id = p.source_id) k ON true
),
s AS (
    SELECT DISTINCT pk.source, pk.source_id, pk.posting_date, sl.slice_source, kw.slice_keyword
    FROM posting_keyword pk
    CROSS JOIN LATERAL (VALUES (pk.source), ('all')) AS sl (slice_source)
    CROSS JOIN LATERAL (VALUES (pk.keyword), ('all')) AS kw (slice_keyword)
    -- as posting_slices (0015): a posting another source published first is left out of 'all'
    WHERE sl.slice_source <> 'all'
       OR NOT EXISTS (SELECT 1 FROM jobreqs.posting_duplicates d
                      WHERE d.source = pk.source AND d.source_id = pk.source_id)
)
"""

_POSTINGS_DAILY = _SLICES_OF_DATES + """
INSERT INTO jobreqs.postings_daily (posting_date, source, keyword, postings, postings_with_technology)
SELECT s.posting_date, s.slice_source, s.slice_keyword,
       count(*)::integer,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM jobreqs.posting_technologies pt
           WHERE pt.source = s.source AND pt.source_id = s.source_id))::integer
FROM s
GROUP BY s.posting_date, s.slice_source, s.slice_keyword
"""

# The slices' postings, each with its technologies (by index) and its slice's daily total.
_SLICE_TECHNOLOGIES = """
FROM s
CROSS JOIN LATERAL (SELECT t.technology FROM jobreqs.posting_technologies t
                    WHERE t.source = s.source AND t.source_id = s.source_id) pt
LEFT JOIN jobreqs.technologies t ON t.name = pt.technology
JOIN jobreqs.postings_daily d
  ON d.posting_date = s.posting_date AND d.source = s.slice_source AND d.keyword = s.slice_keyword
"""

_TECHNOLOGY_DAILY = _SLICES_OF_DATES + """
INSERT INTO jobreqs.technology_daily (posting_date, source, keyword, technology, category, postings, total_postings, share)
SELECT s.posting_date, s.slice_source, s.slice_keyword, pt.technology,
       COALESCE(t.category, 'uncategorised'),
       count(*)::integer, d.postings, count(*)::numeric / d.postings
""" + _SLICE_TECHNOLOGIES + """GROUP BY s.posting_date, s.slice_source, s.slice_keyword, pt.technology, t.category, d.postings
"""

_CATEGORY_DAILY = _SLICES_OF_DATES + """
INSERT INTO jobreqs.category_daily (posting_date, source, keyword, category, postings, technologies, total_postings, share)
SELECT s.posting_date, s.slice_source, s.slice_keyword,
       COALESCE(t.category, 'uncategorised'),
       count(DISTINCT s.source || ':' || s.source_id)::integer,
       count(DISTINCT pt.technology)::integer,
       d.postings,
       count(DISTINCT s.source || ':' || s.source_id)::numeric / d.postings
""" + _SLICE_TECHNOLOGIES + """GROUP BY s.posting_date, s.slice_source, s.slice_keyword, COALESCE(t.category, 'uncategorised'), d.postings
"""

# Windows read the context days (55 before each output day); rows are written for the output days.
_TECHNOLOGY_TRENDS = """
INSERT INTO jobreqs.technology_trends
WITH slice_days AS (
    SELECT posting_date, source, keyword, postings AS total_postings,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW)            AS total_7d,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '13 days' PRECEDING AND INTERVAL '7 days' PRECEDING) AS total_7d_prev,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)           AS total_28d,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '55 days' PRECEDING AND INTERVAL '28 days' PRECEDING) AS total_28d_prev
    FROM jobreqs.postings_daily
    WHERE posting_date = ANY(%(context)s::date[])
),
tech_spans AS (
    SELECT source, keyword, technology, min(posting_date) AS first_day, max(posting_date) + 55 AS last_day
    FROM jobreqs.technology_daily
    WHERE posting_date = ANY(%(context)s::date[])
    GROUP BY source, keyword, technology
),
grid AS (
    SELECT d.*, s.technology, COALESCE(t.postings, 0) AS postings
    FROM tech_spans s
    JOIN slice_days d
      ON d.source = s.source AND d.keyword = s.keyword AND d.posting_date BETWEEN s.first_day AND s.last_day
    LEFT JOIN jobreqs.technology_daily t
      ON t.posting_date = d.posting_date AND t.source = d.source
     AND t.keyword = d.keyword AND t.technology = s.technology
),
windowed AS (
    SELECT g.*,
           sum(postings) OVER w_tech_7       AS postings_7d,
           sum(postings) OVER w_tech_7_prev  AS postings_7d_prev,
           sum(postings) OVER w_tech_28      AS postings_28d,
           sum(postings) OVER w_tech_28_prev AS postings_28d_prev
    FROM grid g
    WINDOW w AS (PARTITION BY source, keyword, technology ORDER BY posting_date),
           w_tech_7       AS (w RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW),
           w_tech_7_prev  AS (w RANGE BETWEEN INTERVAL '13 days' PRECEDING AND INTERVAL '7 days' PRECEDING),
           w_tech_28      AS (w RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW),
           w_tech_28_prev AS (w RANGE BETWEEN INTERVAL '55 days' PRECEDING AND INTERVAL '28 days' PRECEDING)
)
"""

# The rows of technology_trends from "windowed": one row per slice day and technology with its
# day's postings and the sums of its windows (technology and slice).
_TRENDS_SELECT = """
SELECT w.posting_date, w.source, w.keyword, w.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       w.postings::integer AS postings,
       w.total_postings::integer AS total_postings,
       w.postings::numeric / w.total_postings AS share,
       w.postings_7d::integer AS postings_7d,
       w.total_7d::integer AS total_postings_7d,
       w.postings_7d::numeric / w.total_7d AS share_7d,
       w.postings_28d::integer AS postings_28d,
       w.total_28d::integer AS total_postings_28d,
       w.postings_28d::numeric / w.total_28d AS share_28d,
       CASE WHEN w.total_7d_prev > 0 THEN COALESCE(w.postings_7d_prev, 0) END::integer AS postings_7d_prev_week,
       COALESCE(w.postings_7d_prev, 0)::numeric / NULLIF(w.total_7d_prev, 0) AS share_7d_prev_week,
       w.postings_7d::numeric / w.total_7d
           - COALESCE(w.postings_7d_prev, 0)::numeric / NULLIF(w.total_7d_prev, 0) AS wow_change,
       CASE WHEN w.total_28d_prev > 0 THEN COALESCE(w.postings_28d_prev, 0) END::integer AS postings_28d_prev_month,
       COALESCE(w.postings_28d_prev, 0)::numeric / NULLIF(w.total_28d_prev, 0) AS share_28d_prev_month,
       w.postings_28d::numeric / w.total_28d
           - COALESCE(w.postings_28d_prev, 0)::numeric / NULLIF(w.total_28d_prev, 0) AS mom_change
FROM windowed w
LEFT JOIN jobreqs.technologies t ON t.name = w.technology
WHERE (w.postings_28d > 0 OR w.postings_28d_prev > 0)
  AND w.posting_date = ANY(%(trend_days)s::date[])
"""
_TECHNOLOGY_TRENDS += _TRENDS_SELECT

# The same rows for a few output days (a daily publish), aggregated directly: each output slice day
# joined to its slice's daily rows of the 55 days before. A technology has a row exactly when it
# has daily rows in those 56 days (postings_28d > 0 OR postings_28d_prev > 0 holds); the sums are
# those of the windows (NULL when the window holds no row, as above; the technology's own counts
# are 0 then, as the grid's zeros make them above). Cost: the days' windows, whatever the history;
# a full rebuild uses the windowed form, linear in history.
_TECHNOLOGY_TRENDS_OF_DAYS = """
INSERT INTO jobreqs.technology_trends
WITH outputs AS (
    SELECT posting_date, source, keyword, postings AS total_postings
    FROM jobreqs.postings_daily WHERE posting_date = ANY(%(trend_days)s::date[])
),
totals AS (
    SELECT o.posting_date, o.source, o.keyword, o.total_postings,
           sum(d.postings) FILTER (WHERE d.posting_date > o.posting_date - 7)  AS total_7d,
           sum(d.postings) FILTER (WHERE d.posting_date BETWEEN o.posting_date - 13 AND o.posting_date - 7) AS total_7d_prev,
           sum(d.postings) FILTER (WHERE d.posting_date > o.posting_date - 28) AS total_28d,
           sum(d.postings) FILTER (WHERE d.posting_date <= o.posting_date - 28) AS total_28d_prev
    FROM outputs o
    JOIN jobreqs.postings_daily d
      ON d.source = o.source AND d.keyword = o.keyword
     AND d.posting_date BETWEEN o.posting_date - 55 AND o.posting_date
    WHERE d.posting_date = ANY(%(context)s::date[])  -- the same rows, found by index, not by slice
    GROUP BY o.posting_date, o.source, o.keyword, o.total_postings
),
counts AS (
    SELECT o.posting_date, o.source, o.keyword, t.technology,
           COALESCE(sum(t.postings) FILTER (WHERE t.posting_date = o.posting_date), 0) AS postings,
           COALESCE(sum(t.postings) FILTER (WHERE t.posting_date > o.posting_date - 7), 0) AS postings_7d,
           sum(t.postings) FILTER (WHERE t.posting_date BETWEEN o.posting_date - 13 AND o.posting_date - 7) AS postings_7d_prev,
           COALESCE(sum(t.postings) FILTER (WHERE t.posting_date > o.posting_date - 28), 0) AS postings_28d,
           sum(t.postings) FILTER (WHERE t.posting_date <= o.posting_date - 28) AS postings_28d_prev
    FROM outputs o
    JOIN jobreqs.technology_daily t
      ON t.source = o.source AND t.keyword = o.keyword
     AND t.posting_date BETWEEN o.posting_date - 55 AND o.posting_date
    WHERE t.posting_date = ANY(%(context)s::date[])
    GROUP BY o.posting_date, o.source, o.keyword, t.technology
),
windowed AS (
    SELECT c.posting_date, c.source, c.keyword, c.technology, c.postings, w.total_postings,
           w.total_7d, w.total_7d_prev, w.total_28d, w.total_28d_prev,
           c.postings_7d, c.postings_7d_prev, c.postings_28d, c.postings_28d_prev
    FROM counts c
    JOIN totals w ON w.posting_date = c.posting_date AND w.source = c.source AND w.keyword = c.keyword
)
""" + _TRENDS_SELECT

#: Up to this many output days (with postings), trends are aggregated per day; beyond, windowed.
DIRECT_TRENDS_MAX_DAYS = 7

# Rows of the output periods; their totals and counts, and the previous periods', from the
# daily marts of those periods only.
_TECHNOLOGY_PERIOD_SHARES = """
INSERT INTO jobreqs.technology_period_shares
WITH kinds (period, step) AS (VALUES ('week', INTERVAL '1 week'), ('month', INTERVAL '1 month')),
period_totals AS (
    SELECT k.period, k.step, date_trunc(k.period, d.posting_date::timestamp)::date AS period_start,
           d.source, d.keyword,
           sum(d.postings)::integer AS total_postings,
           count(*)::integer AS days_with_postings
    FROM jobreqs.postings_daily d CROSS JOIN kinds k
    WHERE d.posting_date = ANY(%(period_days)s::date[])
    GROUP BY 1, 2, 3, 4, 5
),
period_counts AS (
    SELECT k.period, date_trunc(k.period, t.posting_date::timestamp)::date AS period_start,
           t.source, t.keyword, t.technology, sum(t.postings)::integer AS postings
    FROM jobreqs.technology_daily t CROSS JOIN kinds k
    WHERE t.posting_date = ANY(%(period_days)s::date[])
    GROUP BY 1, 2, 3, 4, 5
),
grid AS (
    SELECT period, period_start, source, keyword, technology FROM period_counts
    UNION
    SELECT c.period, (c.period_start + k.step)::date, c.source, c.keyword, c.technology
    FROM period_counts c JOIN kinds k USING (period)
),
outputs AS (
    SELECT * FROM grid
    WHERE (period = 'week' AND period_start = ANY(%(weeks)s::date[]))
       OR (period = 'month' AND period_start = ANY(%(months)s::date[]))
)
SELECT g.period, g.period_start,
       (g.period_start + cur.step - INTERVAL '1 day')::date AS period_end,
       g.source, g.keyword, g.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       COALESCE(c.postings, 0) AS postings,
       cur.total_postings,
       COALESCE(c.postings, 0)::numeric / cur.total_postings AS share,
       cur.days_with_postings,
       rank() OVER (PARTITION BY g.period, g.period_start, g.source, g.keyword
                    ORDER BY COALESCE(c.postings, 0) DESC)::integer AS rank,
       CASE WHEN prev.total_postings IS NOT NULL THEN COALESCE(p.postings, 0) END AS prev_postings,
       prev.total_postings AS prev_total_postings,
       COALESCE(p.postings, 0)::numeric / prev.total_postings AS prev_share,
       COALESCE(c.postings, 0)::numeric / cur.total_postings
           - COALESCE(p.postings, 0)::numeric / prev.total_postings AS change
FROM outputs g
JOIN period_totals cur
  ON cur.period = g.period AND cur.period_start = g.period_start
 AND cur.source = g.source AND cur.keyword = g.keyword
LEFT JOIN period_totals prev
  ON prev.period = g.period AND (prev.period_start + prev.step)::date = g.period_start
 AND prev.source = g.source AND prev.keyword = g.keyword
LEFT JOIN period_counts c
  ON c.period = g.period AND c.period_start = g.period_start AND c.source = g.source
 AND c.keyword = g.keyword AND c.technology = g.technology
LEFT JOIN period_counts p
  ON p.period = g.period AND (p.period_start + cur.step)::date = g.period_start AND p.source = g.source
 AND p.keyword = g.keyword AND p.technology = g.technology
LEFT JOIN jobreqs.technologies t ON t.name = g.technology
"""

_TECHNOLOGY_PAIRS = """
INSERT INTO jobreqs.technology_pairs
WITH posting_tech AS (
    SELECT pt.source, pt.source_id, pt.technology,
           date_trunc('month', p.posting_date::timestamp)::date AS month
    FROM jobreqs.postings p
    -- LATERAL: each posting's technologies by index, never a scan of all of them
    CROSS JOIN LATERAL (SELECT t.source, t.source_id, t.technology FROM jobreqs.posting_technologies t
                        WHERE t.source = p.source AND t.source_id = p.source_id) pt
    WHERE p.posting_date = ANY(%(pair_days)s::date[])
),
pairs_by_source AS (
    SELECT a.month, a.source, a.technology AS technology_a, b.technology AS technology_b,
           count(*)::integer AS postings_together
    FROM posting_tech a
    JOIN posting_tech b
      ON b.source = a.source AND b.source_id = a.source_id AND a.technology < b.technology
    GROUP BY 1, 2, 3, 4
),
pairs AS (
    SELECT * FROM pairs_by_source
    UNION ALL
    SELECT month, 'all', technology_a, technology_b, sum(postings_together)::integer
    FROM pairs_by_source
    GROUP BY month, technology_a, technology_b
),
singles AS NOT MATERIALIZED (
    SELECT period_start AS month, source, technology, postings, total_postings
    FROM jobreqs.technology_period_shares
    WHERE period = 'month' AND keyword = 'all' AND period_start = ANY(%(pair_months)s::date[])
)
SELECT p.month, p.source, p.technology_a, p.technology_b, p.postings_together,
       a.postings AS postings_a, b.postings AS postings_b, a.total_postings,
       p.postings_together::numeric / (a.postings + b.postings - p.postings_together) AS jaccard,
       p.postings_together::numeric / a.postings AS share_of_a_with_b,
       p.postings_together::numeric / b.postings AS share_of_b_with_a,
       p.postings_together::numeric * a.total_postings / (a.postings::numeric * b.postings) AS lift
FROM pairs p
JOIN singles a ON a.month = p.month AND a.source = p.source AND a.technology = p.technology_a
JOIN singles b ON b.month = p.month AND b.source = p.source AND b.technology = p.technology_b
"""


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from ``start`` to ``end`` (exclusive)."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def _month(day: dt.date, months: int = 0) -> dt.date:
    """First day of ``day``'s month, ``months`` later."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def affected(dates) -> dict[str, list[dt.date]]:
    """For changed posting dates, what each mart recomputes (``*_days``: the rows it writes or
    the daily rows it reads): the parameters of the statements above."""
    # A posting is a duplicate of another source's found up to 30 days before it (0015): a change
    # on D may change which postings of the 30 days after D count in the 'all' slices.
    dates = sorted({d + dt.timedelta(days=i) for d in set(dates) for i in range(DUPLICATE_SPAN + 1)})
    span = dt.timedelta(days=TREND_SPAN)
    trend_days, context, weeks, months, period_days, pair_days = set(), set(), set(), set(), set(), set()
    for d in dates:
        trend_days.update(_days(d, d + span + dt.timedelta(days=1)))
        context.update(_days(d - span, d + span + dt.timedelta(days=1)))
        monday = d - dt.timedelta(days=d.weekday())
        for week in (monday, monday + dt.timedelta(days=7)):  # the next week's change reads this one
            weeks.add(week)
            period_days.update(_days(week - dt.timedelta(days=7), week + dt.timedelta(days=7)))
        for month in (_month(d), _month(d, 1)):
            months.add(month)
            period_days.update(_days(_month(month, -1), _month(month, 1)))
        pair_days.update(_days(_month(d), _month(d, 1)))
    return {"dates": dates, "trend_days": sorted(trend_days), "context": sorted(context),
            "weeks": sorted(weeks), "months": sorted(months), "period_days": sorted(period_days),
            "pair_days": sorted(pair_days)}


def _recompute(conn: psycopg.Connection, dates) -> dict:
    """Delete and write again every mart row that depends on ``dates``; return rows written and
    seconds per mart. Runs inside the caller's transaction."""
    p = affected(dates)
    with conn.cursor() as cur:  # a daily run: its day is the only output day with postings yet
        output_days = cur.execute("SELECT count(DISTINCT posting_date) FROM jobreqs.postings_daily "
                                  "WHERE posting_date = ANY(%(trend_days)s::date[])", p).fetchone()[0]
    trends = _TECHNOLOGY_TRENDS_OF_DAYS if output_days <= DIRECT_TRENDS_MAX_DAYS else _TECHNOLOGY_TRENDS
    months_of_pairs = sorted({_month(d) for d in p["dates"]})
    steps = (
        ("postings_daily", "DELETE FROM jobreqs.postings_daily WHERE posting_date = ANY(%(dates)s::date[])", _POSTINGS_DAILY),
        ("technology_daily", "DELETE FROM jobreqs.technology_daily WHERE posting_date = ANY(%(dates)s::date[])", _TECHNOLOGY_DAILY),
        ("category_daily", "DELETE FROM jobreqs.category_daily WHERE posting_date = ANY(%(dates)s::date[])", _CATEGORY_DAILY),
        ("technology_trends", "DELETE FROM jobreqs.technology_trends WHERE posting_date = ANY(%(trend_days)s::date[])",
         trends),
        ("technology_period_shares",
         """DELETE FROM jobreqs.technology_period_shares
            WHERE (period = 'week' AND period_start = ANY(%(weeks)s::date[]))
               OR (period = 'month' AND period_start = ANY(%(months)s::date[]))""",
         _TECHNOLOGY_PERIOD_SHARES),
        ("technology_pairs", "DELETE FROM jobreqs.technology_pairs WHERE month = ANY(%(pair_months)s::date[])",
         _TECHNOLOGY_PAIRS),
    )
    params = p | {"pair_months": months_of_pairs}
    report = {}
    with conn.cursor() as cur:
        for name, delete, insert in steps:
            t0 = time.monotonic()
            cur.execute(delete, params)
            cur.execute(insert, params)
            report[name] = {"rows": cur.rowcount, "seconds": round(time.monotonic() - t0, 3)}
    return report


def update_marts(conn: psycopg.Connection, dates=()) -> dict:
    """Bring the marts up to date for ``dates`` and every date marked pending (by the load, in
    ``mart_pending_dates``), in one transaction: readers see the old rows until it commits, and
    publishes (several runs at once) take turns. Returns ``{"dates": [...], "marts": {name:
    {"rows": written, "seconds": s}}, "seconds": s}``."""
    started = time.monotonic()
    with conn.transaction():
        # Publishes take turns (SHARE ROW EXCLUSIVE conflicts with itself, not with readers).
        conn.execute("LOCK TABLE jobreqs.postings_daily IN SHARE ROW EXCLUSIVE MODE")
        # Short statements over bounded stretches: compiling them (JIT) would cost more than it saves.
        conn.execute("SET LOCAL jit = off")
        pending = conn.execute("SELECT posting_date, version FROM jobreqs.mart_pending_dates").fetchall()
        todo = sorted({*(dt.date.fromisoformat(d) if isinstance(d, str) else d for d in dates),
                       *(d for d, _ in pending)})
        report = _recompute(conn, todo) if todo else {}
        if pending:
            # Only the marks read above: a load that marks a date again meanwhile keeps it pending.
            conn.execute(
                """DELETE FROM jobreqs.mart_pending_dates m USING unnest(%s::date[], %s::bigint[]) AS r (d, v)
                   WHERE m.posting_date = r.d AND m.version = r.v""",
                ([d for d, _ in pending], [v for _, v in pending]),
            )
    seconds = round(time.monotonic() - started, 3)
    log.info("updated the marts for %d date(s) in %.2fs", len(todo), seconds)
    return {"dates": [d.isoformat() for d in todo], "marts": report, "seconds": seconds}


def refresh_marts(conn: psycopg.Connection) -> dict:
    """Rebuild every mart from all of history (``jobreqs rebuild-marts``): for when a mart's
    definition or the taxonomy's categories change. The same statements as ``update_marts`` over
    every date the base tables or the marts hold, in one transaction (readers keep reading the
    old rows meanwhile). Returns ``{"marts": {name: {"rows": total, "seconds": s, "concurrently":
    True}}, "seconds": s}`` (readers are never blocked, as with the former concurrent refresh)."""
    started = time.monotonic()
    with conn.transaction():
        dates = [d for (d,) in conn.execute(
            """SELECT posting_date FROM jobreqs.postings UNION SELECT posting_date FROM jobreqs.postings_daily
               UNION SELECT posting_date FROM jobreqs.technology_trends ORDER BY 1""")]
        conn.execute("DELETE FROM jobreqs.technology_period_shares")
        conn.execute("DELETE FROM jobreqs.technology_pairs")
        updated = update_marts(conn, dates)
    report = {}
    for name in MARTS:
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("jobreqs", name))).fetchone()[0]
        report[name] = {"rows": int(rows), "seconds": updated["marts"].get(name, {}).get("seconds", 0.0),
                        "concurrently": True}
    if not conn.autocommit:
        conn.commit()  # end the read transaction of the counts
    return {"marts": report, "seconds": round(time.monotonic() - started, 3)}


def publish(logical_date: dt.date | str, conninfo: str | None = None, lake_root=None) -> dict:
    """The DAG's publish stage for ``logical_date``: bring the marts up to date for that date and
    every date the loads marked (``update_marts``: only the rows whose windows hold those dates),
    then write the day's trend rows to the lake (``curated/technology_trends/dt=D/part-0000.parquet``,
    replaced on re-run). Connects as the ``jobreqs_warehouse`` connection.
    Returns a small JSON-able dict for XCom: ``{"logical_date", "dates" (recomputed), "marts":
    {name: rows written}, "refresh_seconds", "curated_rows", "curated_path"}``."""
    from jobreqs.warehouse import connect
    from transforms.export import publish_curated

    day = dt.date.fromisoformat(logical_date) if isinstance(logical_date, str) else logical_date
    with connect(conninfo) as conn:
        refreshed = update_marts(conn, [day])
        curated = publish_curated(conn, day, lake_root)
    return {
        "logical_date": day.isoformat(),
        "dates": refreshed["dates"],
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
           WHERE n.nspname = 'jobreqs' AND (c.relkind IN ('v', 'm') OR c.relname = ANY(%s)) ORDER BY c.relname""",
        (list(MARTS),),
    ).fetchall()
    parts = []
    for rel in relations:
        row = rel if isinstance(rel, dict) else dict(zip(("oid", "relname", "relkind", "doc"), rel))
        kind = "mart, kept up to date by publish" if row["relname"] in MARTS else "view"
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
