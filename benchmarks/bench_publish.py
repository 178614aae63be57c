"""Benchmark of the incremental publish (issue 14): the time to publish one day on top of 1 week,
1 year and 5 years of history, and the ratio of the 5-year case to the 1-week case.

    python -m benchmarks.bench_publish [--histories 7,365,1825] [--per-day 300] [--keywords 6]
                                       [--technologies 150] [--repeat 3]

For each history length, on a throw-away database (the Postgres at ``JOBREQS_BENCH_PG``, else an
embedded one), the history is generated with ``generate_series`` at the level publish reads it:

- postings for every day and the new one (``--per-day`` a day, 1-6 of ``--technologies`` each
  with a long tail, 1-2 of ``--keywords``; short texts: publish never reads them), so the base
  tables grow with history as they would;
- the marts' rows (daily, trends, weeks and months, pairs) of every day older than 40 days,
  generated directly at the volumes of those postings (24 slices x 60 technologies a day: about
  1,400 rows per mart per day, 2.6 million per mart for five years), and those of the last 40
  days derived by ``update_marts`` (untimed).

Then it times ``transforms.marts.publish`` for the new day (the DAG's publish stage: the marts
brought up to date for the day, the day's trend rows written to the lake), ``--repeat`` times (a
re-run of the day each time; the median counts). Goal: 5 years / 1 week < 1.5.
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.bench_marts import throwaway_database
from benchmarks.figures import figure

GOAL = 1.5
NEW_DAY = dt.date(2026, 6, 15)
BASE_DAYS = 40  # days before the new one held as real postings (every window publish reads)
AGG_TECHS = 60

_SLICES = """CREATE TEMP TABLE slices AS
    SELECT s AS source, k AS keyword FROM unnest(ARRAY['indeed', 'upwork', 'all']) s,
    unnest(ARRAY['(none)', 'all'] || ARRAY(SELECT 'keyword ' || i FROM generate_series(0, %(keywords)s - 1) i)) k"""

# Aggregate-level history: plausible counts varying by day and technology (a long tail).
_AGGREGATES = [
    """INSERT INTO jobreqs.postings_daily
       SELECT d::date, s.source, s.keyword, 100 + (extract(doy FROM d)::int * 7) %% 50, 90
       FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d, slices s""",
    """INSERT INTO jobreqs.technology_daily
       SELECT d::date, s.source, s.keyword, 'tech' || lpad(t::text, 3, '0'), 'category' || t %% 12,
              x.p, 120, x.p / 120.0
       FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d, slices s,
            generate_series(0, %(agg_techs)s - 1) t,
            LATERAL (SELECT 1 + (60 / (t + 1) + extract(doy FROM d)::int) %% 20 AS p) x""",
    """INSERT INTO jobreqs.category_daily
       SELECT d::date, s.source, s.keyword, 'category' || c, 30 + c, 5, 120, (30 + c) / 120.0
       FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d, slices s, generate_series(0, 11) c""",
    """INSERT INTO jobreqs.technology_trends
       SELECT d::date, s.source, s.keyword, 'tech' || lpad(t::text, 3, '0'), 'category' || t %% 12,
              x.p, 120, x.p / 120.0, 7 * x.p, 840, x.p / 120.0, 28 * x.p, 3360, x.p / 120.0,
              7 * x.p, x.p / 120.0, 0, 28 * x.p, x.p / 120.0, 0
       FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d, slices s,
            generate_series(0, %(agg_techs)s - 1) t,
            LATERAL (SELECT 1 + (60 / (t + 1) + extract(doy FROM d)::int) %% 20 AS p) x""",
    """INSERT INTO jobreqs.technology_period_shares
       SELECT k.period, p::date, (p + k.step - interval '1 day')::date, s.source, s.keyword,
              'tech' || lpad(t::text, 3, '0'), 'category' || t %% 12, 50, 800, 0.0625, 7, t + 1, 50, 800, 0.0625, 0
       FROM (VALUES ('week', interval '1 week'), ('month', interval '1 month')) k (period, step),
            LATERAL generate_series(date_trunc(k.period, %(first)s::timestamp), %(last)s::date, k.step) p,
            slices s, generate_series(0, %(agg_techs)s - 1) t""",
    """INSERT INTO jobreqs.technology_pairs
       SELECT m::date, s.source, 'tech' || lpad(a::text, 3, '0'), 'tech' || lpad(b::text, 3, '0'),
              10, 50, 40, 3000, 0.125, 0.2, 0.25, 15
       FROM generate_series(date_trunc('month', %(first)s::timestamp), %(last)s::date, interval '1 month') m,
            unnest(ARRAY['indeed', 'upwork', 'all']) s (source),
            generate_series(0, %(agg_techs)s - 1) a, generate_series(0, %(agg_techs)s - 1) b
       WHERE a < b""",
]

# Real postings of the base days and the new day.
_POSTINGS = [
    """INSERT INTO jobreqs.postings (source, source_id, title, posting_date, description_text, content_hash)
       SELECT CASE WHEN i %% 5 = 0 THEN 'upwork' ELSE 'indeed' END, 'p' || to_char(d, 'YYYYMMDD') || '-' || i,
              'job', d::date, 'text', 'h'
       FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d, generate_series(1, %(per_day)s) i""",
    """INSERT INTO jobreqs.posting_keywords (source, source_id, keyword)
       SELECT DISTINCT p.source, p.source_id, 'keyword ' || (abs(hashtext(p.source_id || j)) %% %(keywords)s)
       FROM jobreqs.postings p, generate_series(1, 1 + abs(hashtext(p.source_id)) %% 2) j
       WHERE p.source = 'indeed' AND p.posting_date BETWEEN %(first)s AND %(last)s""",
    """INSERT INTO jobreqs.posting_technologies (source, source_id, technology)
       SELECT DISTINCT p.source, p.source_id,
              'tech' || lpad(floor(%(technologies)s * power(random(), 3))::int::text, 3, '0')
       FROM jobreqs.postings p, generate_series(1, 1 + abs(hashtext(p.source_id || 't')) %% 6) j
       WHERE p.posting_date BETWEEN %(first)s AND %(last)s""",
]


def build(conninfo: str, history: int, args) -> None:
    """The history of ``history`` days before NEW_DAY, and NEW_DAY's postings (not published)."""
    from transforms.marts import update_marts

    first = NEW_DAY - dt.timedelta(days=history)
    base_first = max(first, NEW_DAY - dt.timedelta(days=BASE_DAYS))
    params = {"keywords": args.keywords, "agg_techs": AGG_TECHS, "per_day": args.per_day,
              "technologies": args.technologies}
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT setseed(0.5)")
        conn.execute(_SLICES.replace("%(keywords)s", str(args.keywords)))
        conn.execute("INSERT INTO jobreqs.technologies SELECT 'tech' || lpad(t::text, 3, '0'), 'category' || t %% 12 "
                     "FROM generate_series(0, %s - 1) t", (args.technologies,))
        if base_first > first:
            for statement in _AGGREGATES:
                conn.execute(statement, params | {"first": first, "last": base_first - dt.timedelta(days=1)})
        for statement in _POSTINGS:
            conn.execute(statement, params | {"first": first, "last": NEW_DAY})
        conn.commit()
        base = [base_first + dt.timedelta(days=i) for i in range((NEW_DAY - base_first).days)]
        update_marts(conn, base)
        conn.execute("TRUNCATE jobreqs.mart_pending_dates")
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def measure(conninfo: str, repeat: int) -> tuple[list[float], dict, dict]:
    """Publish NEW_DAY ``repeat`` times; the times, the last result, and seconds per mart (median)."""
    from transforms import export, marts  # noqa: F401 (imported before timing: pyarrow, Airflow's lake paths)

    times, result, per_mart = [], {}, {}
    recompute = marts._recompute

    def timed_recompute(conn, dates):  # the per-mart seconds, from the publish itself
        report = recompute(conn, dates)
        for name, m in report.items():
            per_mart.setdefault(name, []).append(m["seconds"])
        return report

    marts._recompute = timed_recompute
    try:
        with tempfile.TemporaryDirectory() as lake:
            for _ in range(repeat):
                t0 = time.perf_counter()
                result = marts.publish(NEW_DAY, conninfo=conninfo, lake_root=Path(lake))
                times.append(time.perf_counter() - t0)
    finally:
        marts._recompute = recompute
    return times, result, {name: statistics.median(s) for name, s in per_mart.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_publish")
    parser.add_argument("--histories", default="7,365,1825", help="days of history, comma-separated")
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument("--keywords", type=int, default=6)
    parser.add_argument("--technologies", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    figures: dict[int, dict] = {}
    for history in (int(h) for h in args.histories.split(",")):
        with throwaway_database() as conninfo:
            t0 = time.perf_counter()
            build(conninfo, history, args)
            built = time.perf_counter() - t0
            with psycopg.connect(conninfo) as conn:
                rows = {m: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("jobreqs", m))).fetchone()[0]
                        for m in ("technology_daily", "technology_trends", "technology_pairs")}
            times, result, per_mart = measure(conninfo, args.repeat)
        figures[history] = {"median": statistics.median(times), "times": times, "rows": rows,
                            "written": result["marts"], "curated_rows": result["curated_rows"], "per_mart": per_mart}
        print(f"history {history:5d} days (built in {built:5.1f}s; "
              + ", ".join(f"{m} {n:,}" for m, n in rows.items())
              + f"): publish one day {figures[history]['median']:.2f}s median of "
              + ", ".join(f"{t:.2f}" for t in times) + f"; rows written {sum(result['marts'].values()):,}"
              + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
              flush=True)
        print("    seconds per mart (median): " + ", ".join(f"{m} {t:.2f}" for m, t in per_mart.items()), flush=True)
        figure(f"publish one day on {history} days of history", round(figures[history]["median"], 2), "s")
    histories = sorted(figures)
    if len(histories) > 1:
        ratio = figures[histories[-1]]["median"] / figures[histories[0]]["median"]
        figures["ratio"] = ratio
        print(f"publish ratio {histories[-1]} days / {histories[0]} days of history: {ratio:.2f} "
              f"(goal < {GOAL}: {'met' if ratio < GOAL else 'NOT met'})")
        figure(f"publish time, {histories[-1]} / {histories[0]} days of history", round(ratio, 2), "",
               f"< {GOAL}", ratio < GOAL)
    if len(histories) > 2:
        # Once history is longer than the windows publish reads (about two months), its cost should
        # stay flat: the ratio of the two longest histories shows whether it does.
        flat = figures[histories[-1]]["median"] / figures[histories[-2]]["median"]
        figures["ratio_longest"] = flat
        print(f"publish ratio {histories[-1]} days / {histories[-2]} days of history: {flat:.2f}")
        figure(f"publish time, {histories[-1]} / {histories[-2]} days of history", round(flat, 2))
    return figures


if __name__ == "__main__":
    main()
