"""The marts' numbers against hand-computed expectations on the fixture of conftest.py.

The fixture, by day (A = Mon 2026-03-02, B = Mon 2026-03-09, C = Mon 2026-04-06):
  A: i1 [data engineer] python sql | i2 [data engineer, python developer] python spark |
     i3 [python developer] python | u1 (upwork, no keyword) python airflow
  B: i4 [data engineer] sql spark | i5 [data engineer] (no technology) | u2 (upwork) airflow spark
  C: i6 [data engineer] python
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.analytics.conftest import DAY_A, DAY_B, DAY_C
from transforms.marts import refresh_marts


def q(conninfo: str, query: str, *params) -> list[dict]:
    """Rows as dicts, numeric values as floats (compared with approx below)."""
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        rows = conn.execute(query, params).fetchall()
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


def one(conninfo: str, query: str, *params) -> dict:
    rows = q(conninfo, query, *params)
    assert len(rows) == 1, rows
    return rows[0]


def approx(fraction) -> pytest.approx:
    return pytest.approx(float(Fraction(fraction)), abs=1e-9)


def test_postings_daily_counts_each_slice(analytics_warehouse):
    rows = {(r["posting_date"], r["source"], r["keyword"]): (r["postings"], r["postings_with_technology"])
            for r in q(analytics_warehouse, "SELECT * FROM jobreqs.postings_daily")}
    assert rows[(DAY_A, "all", "all")] == (4, 4)
    assert rows[(DAY_B, "all", "all")] == (3, 2)          # i5 has no technology
    assert rows[(DAY_C, "all", "all")] == (1, 1)
    assert rows[(DAY_A, "indeed", "all")] == (3, 3)
    assert rows[(DAY_A, "all", "data engineer")] == (2, 2)
    assert rows[(DAY_A, "all", "python developer")] == (2, 2)   # i2 counts in both keyword slices
    assert rows[(DAY_A, "upwork", "(none)")] == (1, 1)
    assert (DAY_A, "upwork", "data engineer") not in rows


def test_technology_daily_shares(analytics_warehouse):
    rows = {(r["posting_date"], r["source"], r["keyword"], r["technology"]): r
            for r in q(analytics_warehouse, "SELECT * FROM jobreqs.technology_daily")}
    python_a = rows[(DAY_A, "all", "all", "python")]
    assert (python_a["postings"], python_a["total_postings"], python_a["category"]) == (4, 4, "language")
    assert python_a["share"] == approx(1)
    assert rows[(DAY_A, "all", "all", "sql")]["share"] == approx("1/4")
    assert rows[(DAY_B, "all", "all", "spark")]["share"] == approx("2/3")
    assert rows[(DAY_B, "indeed", "data engineer", "spark")]["share"] == approx("1/2")
    assert rows[(DAY_A, "all", "python developer", "spark")]["share"] == approx("1/2")
    assert (DAY_B, "all", "all", "python") not in rows     # absent = 0


def test_category_daily_counts_each_posting_once(analytics_warehouse):
    rows = {(r["posting_date"], r["category"]): r for r in q(
        analytics_warehouse, "SELECT * FROM jobreqs.category_daily WHERE source = 'all' AND keyword = 'all'")}
    language_a = rows[(DAY_A, "language")]
    # i1 has python AND sql: one posting, two technologies
    assert (language_a["postings"], language_a["technologies"], language_a["share"]) == (4, 2, approx(1))
    assert rows[(DAY_B, "data")]["share"] == approx("2/3")
    assert rows[(DAY_B, "language")]["share"] == approx("1/3")


def test_rolling_shares_and_changes(analytics_warehouse):
    rows = {(r["posting_date"], r["technology"]): r for r in q(
        analytics_warehouse, "SELECT * FROM jobreqs.technology_trends WHERE source = 'all' AND keyword = 'all'")}
    spark_b = rows[(DAY_B, "spark")]
    assert (spark_b["postings_7d"], spark_b["total_postings_7d"]) == (2, 3)
    assert spark_b["share_7d"] == approx("2/3")
    assert spark_b["share_7d_prev_week"] == approx("1/4") and spark_b["postings_7d_prev_week"] == 1
    assert spark_b["wow_change"] == approx(Fraction(2, 3) - Fraction(1, 4))
    assert (spark_b["postings_28d"], spark_b["total_postings_28d"]) == (3, 7)
    assert spark_b["share_28d"] == approx("3/7")
    assert spark_b["share_28d_prev_month"] is None and spark_b["mom_change"] is None  # nothing before A

    # python was asked for on A, not on B: the B row exists with zeros (a faller)
    python_b = rows[(DAY_B, "python")]
    assert (python_b["postings"], python_b["share"], python_b["share_7d"]) == (0, 0, 0)
    assert python_b["wow_change"] == approx(-1)
    assert python_b["share_28d"] == approx("4/7")

    python_c = rows[(DAY_C, "python")]
    assert python_c["share_7d"] == approx(1)
    assert python_c["share_7d_prev_week"] is None           # no postings in the week before C
    assert python_c["postings_7d_prev_week"] is None
    assert python_c["postings_28d_prev_month"] == 4
    assert python_c["share_28d_prev_month"] == approx("4/7")
    assert python_c["mom_change"] == approx(Fraction(3, 7))
    assert rows[(DAY_C, "airflow")]["mom_change"] == approx(Fraction(-2, 7))
    assert rows[(DAY_C, "spark")]["share_28d"] == 0
    assert rows[(DAY_A, "python")]["share_7d_prev_week"] is None
    # only days with postings have rows
    assert {d for d, _ in rows} == {DAY_A, DAY_B, DAY_C}


def test_calendar_periods_rank_and_change(analytics_warehouse):
    rows = {(r["period"], r["period_start"], r["technology"]): r for r in q(
        analytics_warehouse,
        "SELECT * FROM jobreqs.technology_period_shares WHERE source = 'all' AND keyword = 'all'")}
    march, april = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    python_march = rows[("month", march, "python")]
    assert (python_march["postings"], python_march["total_postings"], python_march["days_with_postings"]) == (4, 7, 2)
    assert python_march["share"] == approx("4/7") and python_march["rank"] == 1
    assert python_march["prev_total_postings"] is None and python_march["change"] is None
    assert python_march["period_end"] == dt.date(2026, 3, 31)
    assert (rows[("month", march, "sql")]["rank"], rows[("month", march, "airflow")]["rank"]) == (3, 3)
    python_april = rows[("month", april, "python")]
    assert python_april["share"] == approx(1) and python_april["prev_share"] == approx("4/7")
    assert python_april["change"] == approx(Fraction(3, 7))
    spark_april = rows[("month", april, "spark")]
    assert (spark_april["postings"], spark_april["prev_postings"]) == (0, 3)
    assert spark_april["change"] == approx(Fraction(-3, 7))
    # ISO weeks: week of B vs week of A
    python_week_b = rows[("week", DAY_B, "python")]
    assert python_week_b["change"] == approx(-1)
    assert ("week", DAY_B + dt.timedelta(days=7), "spark") not in rows   # no postings that week


def test_pairs(analytics_warehouse):
    rows = {(r["source"], r["technology_a"], r["technology_b"]): r for r in q(
        analytics_warehouse, "SELECT * FROM jobreqs.technology_pairs WHERE month = '2026-03-01'")}
    python_sql = rows[("all", "python", "sql")]
    assert (python_sql["postings_together"], python_sql["postings_a"], python_sql["postings_b"],
            python_sql["total_postings"]) == (1, 4, 2, 7)
    assert python_sql["jaccard"] == approx("1/5")
    assert python_sql["share_of_a_with_b"] == approx("1/4")
    assert python_sql["share_of_b_with_a"] == approx("1/2")
    assert python_sql["lift"] == approx("7/8")
    assert rows[("indeed", "python", "spark")]["lift"] == approx("5/6")
    assert ("upwork", "python", "sql") not in rows
    assert set(k for k in rows if k[0] == "all") == {
        ("all", "python", "sql"), ("all", "python", "spark"), ("all", "airflow", "python"),
        ("all", "spark", "sql"), ("all", "airflow", "spark")}


def test_first_seen(analytics_warehouse):
    python = one(analytics_warehouse, "SELECT * FROM jobreqs.technology_first_seen WHERE source = 'all' AND technology = 'python'")
    assert (python["first_seen"], python["last_seen"], python["postings_on_first_day"],
            python["total_postings"], python["days_seen"]) == (DAY_A, DAY_C, 4, 5, 2)
    sql_upwork = q(analytics_warehouse, "SELECT * FROM jobreqs.technology_first_seen WHERE source = 'upwork' AND technology = 'sql'")
    assert sql_upwork == []
    spark = one(analytics_warehouse, "SELECT * FROM jobreqs.technology_first_seen WHERE source = 'upwork' AND technology = 'spark'")
    assert spark["first_seen"] == DAY_B


def test_salaries_never_mix_periods_or_currencies(analytics_warehouse):
    rows = {(r["technology"], r["salary_period"], r["salary_currency"]): r for r in q(
        analytics_warehouse, "SELECT * FROM jobreqs.technology_salaries WHERE source = 'all'")}
    py_year = rows[("python", "year", "USD")]
    assert py_year["postings"] == 2 and py_year["is_estimate"] is False
    assert (py_year["lowest"], py_year["highest"]) == (50000, 80000)
    assert (py_year["p25"], py_year["median"], py_year["p75"]) == (62500, 65000, 67500)
    assert rows[("python", "hour", "USD")]["median"] == 35
    assert rows[("python", "project", "USD")]["median"] == 1000
    assert rows[("spark", "year", "USD")]["median"] == 70000
    assert rows[("spark", "year", "EUR")]["median"] == 60000       # not averaged with USD
    assert ("airflow", "year", "USD") not in rows


def test_upwork_clients_by_technology(analytics_warehouse):
    airflow = one(analytics_warehouse, "SELECT * FROM jobreqs.upwork_clients_by_technology WHERE technology = 'airflow'")
    assert (airflow["jobs"], airflow["jobs_with_client_stats"]) == (2, 2)
    assert airflow["median_total_spent"] == 10000
    assert airflow["avg_hire_rate"] == approx("7/10")
    assert airflow["payment_verified_share"] == approx("1/2")
    assert airflow["client_countries"] == 2
    python = one(analytics_warehouse, "SELECT * FROM jobreqs.upwork_clients_by_technology WHERE technology = 'python'")
    assert (python["jobs"], python["median_total_spent"], python["top_client_country"]) == (1, 5000, "US")
    assert q(analytics_warehouse, "SELECT 1 FROM jobreqs.upwork_clients_by_technology WHERE technology = 'sql'") == []


def test_run_summary(analytics_warehouse):
    run = one(analytics_warehouse, "SELECT * FROM jobreqs.run_summary WHERE run_id = 'run-a'")
    assert (run["stages"], run["failed_stages"]) == (3, ["publish"])
    assert (run["llm_tokens_in"], run["llm_tokens_out"]) == (1000, 200)  # the non-number is skipped
    assert run["llm_cost_usd"] == approx("0.012")
    assert (run["postings"], run["tokens_before"], run["tokens_after"]) == (4, 500, 200)
    assert run["kept_text_ratio"] == approx("2/5")
    assert run["unmapped_terms_waiting"] == 2


def test_last_run_that_processed_nothing_shows_no_figures_of_its_date(analytics_warehouse):
    from transforms.marts import last_run

    with psycopg.connect(analytics_warehouse, row_factory=dict_row) as conn:
        assert last_run(conn)["processed_nothing"] is None and last_run(conn)["postings"] == 4  # run-a worked
        # a re-run of the same date that found no raw snapshot (a backfill): the newest run
        conn.execute(
            """INSERT INTO jobreqs.pipeline_runs (run_id, dag_id, logical_date, stage, status, stats, message, recorded_at)
               VALUES ('run-b', 'jobreqs_daily', %s, 'normalise', 'skipped', '{}', 'no raw snapshot for it', now())""",
            (DAY_A,))
        run = last_run(conn)
    assert run["run_id"] == "run-b" and run["processed_nothing"] == "no raw snapshot for it"
    assert run["postings"] is None and run["kept_text_ratio"] is None  # not run-a's figures


def test_refresh_is_concurrent_and_follows_new_data(analytics_warehouse):
    with psycopg.connect(analytics_warehouse) as conn:
        conn.execute(
            """INSERT INTO jobreqs.postings (source, source_id, title, posting_date, description_text, content_hash)
               VALUES ('indeed', 'i7', 'job', %s, 't', 'h7')""", (DAY_C,))
        conn.execute("INSERT INTO jobreqs.posting_technologies VALUES ('indeed', 'i7', 'sql')")
        conn.commit()
        report = refresh_marts(conn)
    assert all(m["concurrently"] for m in report["marts"].values())
    assert report["marts"]["technology_daily"]["rows"] > 0
    sql_c = one(analytics_warehouse, """SELECT * FROM jobreqs.technology_daily
        WHERE posting_date = %s AND source = 'all' AND keyword = 'all' AND technology = 'sql'""", DAY_C)
    assert (sql_c["postings"], sql_c["total_postings"]) == (1, 2)


def test_every_mart_column_is_documented(analytics_warehouse):
    undocumented = q(analytics_warehouse, """
        SELECT c.relname, a.attname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'jobreqs' AND c.relkind IN ('v', 'm')
          AND c.relname <> 'unmapped_terms_for_review'
          AND col_description(c.oid, a.attnum) IS NULL""")
    assert undocumented == []


def test_docs_reference_matches_the_database_comments(analytics_warehouse):
    from pathlib import Path

    from transforms.marts import DOC_BEGIN, DOC_END, render_reference

    text = (Path(__file__).resolve().parents[2] / "docs" / "marts.md").read_text()
    generated = text.split(DOC_BEGIN)[1].split(DOC_END)[0].strip()
    with psycopg.connect(analytics_warehouse) as conn:
        assert generated == render_reference(conn).strip(), "run: python -m transforms.marts --doc"
