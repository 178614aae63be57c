"""Fixtures of the analytics tests: a warehouse with a small, hand-checkable set of postings.

The Upwork client statistics come from migration 0002_upwork; 0005 builds its mart on them.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from jobreqs.warehouse import migrate

DAY_A = dt.date(2026, 3, 2)   # a Monday
DAY_B = dt.date(2026, 3, 9)   # the Monday after
DAY_C = dt.date(2026, 4, 6)   # five weeks after A, in April

TECHNOLOGIES = [("python", "language"), ("sql", "language"), ("spark", "data"), ("airflow", "orchestration")]

# (source, id, day, keywords, technologies, salary (min, max, period, currency, estimate), tokens (before, after))
POSTINGS = [
    ("indeed", "i1", DAY_A, ["data engineer"], ["python", "sql"], (50000, 70000, "year", "USD", False), (100, 50)),
    ("indeed", "i2", DAY_A, ["data engineer", "python developer"], ["python", "spark"], (60000, 80000, "year", "USD", False), (200, 100)),
    ("indeed", "i3", DAY_A, ["python developer"], ["python"], (30, 40, "hour", "USD", False), (100, 25)),
    ("upwork", "u1", DAY_A, [], ["python", "airflow"], (1000, 1000, "project", "USD", None), (100, 25)),
    ("indeed", "i4", DAY_B, ["data engineer"], ["sql", "spark"], (55000, 65000, "year", "EUR", False), (100, 40)),
    ("indeed", "i5", DAY_B, ["data engineer"], [], None, (100, 0)),
    ("upwork", "u2", DAY_B, [], ["airflow", "spark"], None, (100, 60)),
    ("indeed", "i6", DAY_C, ["data engineer"], ["python"], None, None),
]

UPWORK_CLIENTS = [
    # job_id, country, total_spent, hire_rate, payment_verified, rating
    ("u1", "US", 5000, 0.8, True, 4.5),
    ("u2", "DE", 15000, 0.6, False, 5.0),
]


@pytest.fixture(scope="session")
def analytics_warehouse_session(create_database) -> str:
    """A migrated warehouse (0001..0005) for the analytics tests."""
    conninfo = create_database("jobreqs_analytics")
    applied = migrate(conninfo)
    assert "0004_analytics" in applied and "0005_upwork_marts" in applied, applied
    return conninfo


def _empty(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = conn.execute(
            """SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
               WHERE schemaname IN ('jobreqs', 'jobreqs_private') AND tablename <> 'schema_migrations'"""
        ).fetchall()
        conn.execute("TRUNCATE " + ", ".join(t for (t,) in tables) + " CASCADE")


def insert_fixture(conn: psycopg.Connection) -> None:
    """The small data set whose marts the tests check by hand (see test_marts.py)."""
    conn.cursor().executemany("INSERT INTO jobreqs.technologies (name, category) VALUES (%s, %s)", TECHNOLOGIES)
    for source, sid, day, keywords, techs, salary, tokens in POSTINGS:
        smin, smax, period, currency, estimate = salary or (None, None, None, None, None)
        before, after = tokens or (None, None)
        conn.execute(
            """INSERT INTO jobreqs.postings (source, source_id, title, posting_date, salary_min, salary_max,
                   salary_period, salary_currency, salary_is_estimate, description_text, content_hash,
                   tokens_before, tokens_after, kept_ratio)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (source, sid, f"job {sid}", day, smin, smax, period, currency, estimate, "text", f"hash-{sid}",
             before, after, (after / before) if before else None),
        )
        conn.cursor().executemany(
            "INSERT INTO jobreqs.posting_keywords (source, source_id, keyword) VALUES (%s, %s, %s)",
            [(source, sid, k) for k in keywords],
        )
        conn.cursor().executemany(
            "INSERT INTO jobreqs.posting_technologies (source, source_id, technology) VALUES (%s, %s, %s)",
            [(source, sid, t) for t in techs],
        )
    # upwork_clients rows need their upwork_jobs rows (foreign key).
    conn.cursor().executemany(
        """INSERT INTO jobreqs.upwork_jobs (id, title, description, published_at, first_seen_date, fetched_at)
           VALUES (%s, %s, 'text', %s, %s, now())""",
        [(sid, f"job {sid}", day, day) for source, sid, day, *_ in POSTINGS if source == "upwork"],
    )
    for job_id, country, spent, hire_rate, verified, rating in UPWORK_CLIENTS:
        conn.execute(
            """INSERT INTO jobreqs.upwork_clients (job_id, client_country, total_spent, hire_rate,
                   payment_verified, rating, enriched_at) VALUES (%s, %s, %s, %s, %s, %s, now())""",
            (job_id, country, spent, hire_rate, verified, rating),
        )
    conn.cursor().executemany(
        "INSERT INTO jobreqs.unmapped_terms (term, source, source_id, first_seen) VALUES (%s, %s, %s, %s)",
        [("foo", "indeed", "i1", DAY_A), ("foo", "indeed", "i2", DAY_A), ("bar", "indeed", "i3", DAY_A)],
    )
    runs = [
        ("run-a", DAY_A, "classify", "success", {"postings": 4}, "2026-03-02T06:00:00Z"),
        ("run-a", DAY_A, "extract", "success", {"tokens_in": 1000, "tokens_out": 200, "cost_usd": 0.012}, "2026-03-02T06:10:00Z"),
        ("run-a", DAY_A, "publish", "failed", {"tokens_in": "not a number"}, "2026-03-02T06:20:00Z"),
        ("run-old", DAY_A - dt.timedelta(days=1), "extract", "success", {"tokens_in": 5}, "2026-03-01T06:00:00Z"),
    ]
    conn.cursor().executemany(
        """INSERT INTO jobreqs.pipeline_runs (run_id, dag_id, logical_date, stage, status, stats, recorded_at)
           VALUES (%s, 'jobreqs_daily', %s, %s, %s, %s, %s)""",
        [(r, d, s, st, json.dumps(stats), at) for r, d, s, st, stats, at in runs],
    )


@pytest.fixture
def analytics_warehouse(analytics_warehouse_session, monkeypatch) -> str:
    """The analytics warehouse holding only the fixture, marts refreshed, set as the
    ``jobreqs_warehouse`` connection."""
    from tests.conftest import airflow_conn_json
    from transforms.marts import refresh_marts

    _empty(analytics_warehouse_session)
    with psycopg.connect(analytics_warehouse_session) as conn:
        insert_fixture(conn)
        conn.commit()
        refresh_marts(conn)
    monkeypatch.setenv("AIRFLOW_CONN_JOBREQS_WAREHOUSE", airflow_conn_json(analytics_warehouse_session))
    monkeypatch.delenv("AIRFLOW_CONN_JOBREQS_WAREHOUSE_READER", raising=False)
    return analytics_warehouse_session
