"""The SQL client experience: the README's example queries, run by the real psql as jobreqs_reader."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.analytics.conftest import DAY_C
from transforms.marts import refresh_marts

PSQL = shutil.which("psql") or "/usr/bin/psql"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "example_queries.sql"


def psql(conninfo: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PSQL, make_conninfo(conninfo, user="jobreqs_reader"), "-X", "-v", "ON_ERROR_STOP=1",
         "-A", "-F", "|", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def with_new_technology(analytics_warehouse) -> str:
    """The fixture plus one posting on day C asking for dbt (new) and spark."""
    with psycopg.connect(analytics_warehouse) as conn:
        conn.execute(
            """INSERT INTO jobreqs.postings (source, source_id, title, posting_date, description_text, content_hash)
               VALUES ('indeed', 'i8', 'job', %s, 't', 'h8')""", (DAY_C,))
        conn.execute("INSERT INTO jobreqs.posting_keywords VALUES ('indeed', 'i8', 'analytics engineer', '')")
        conn.execute("INSERT INTO jobreqs.posting_technologies VALUES ('indeed', 'i8', 'dbt'), ('indeed', 'i8', 'spark')")
        conn.commit()
        refresh_marts(conn)
    return analytics_warehouse


def test_example_queries_answer_as_the_reader(with_new_technology):
    result = psql(with_new_technology, "-f", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr
    lines = result.stdout.splitlines()
    # 1. data engineers, latest month (April): python in 1 of 1 postings, +50 points since March (2 of 4)
    assert "rank|technology|category|postings|total_postings|share_pct|change_pct_points" in lines
    assert "1|python|language|1|1|100.0|50.0" in lines
    # 2. risers and fallers: the week before the last day has no postings, so no change to show
    i = lines.index("technology|category|share_7d_pct|prev_week_pct|change_pct_points")
    assert lines[i + 1] == "(0 rows)"
    # 3. first appearances in the last 30 days: dbt, on day C
    assert "dbt|uncategorised|2026-04-06|1|1" in lines
    # 4. with spark in April: dbt, in every spark posting of the month
    assert "dbt|1|100.0|2.00" in lines
    # 5. python salaries, one row per period and currency
    assert "all|year|USD|f|2|50000|62500|65000|67500|80000" in lines
    assert "all|hour|USD|f|1|30|35|35|35|40" in lines
    # 6. Upwork client spend
    assert "airflow|2|2|10000|70.0|50" in lines
    # 7. weekly category shares: all 3 Indeed postings of the week of A ask for a language
    assert "2026-03-02|indeed|language|3|3|100.0" in lines
    # 8. last run
    assert "run-a|2026-03-02|3|{publish}|4|0.400|1000|200|0.012|2" in lines


@pytest.mark.parametrize("statement, refusal", [
    ("INSERT INTO jobreqs.technologies VALUES ('x', 'tool')", "permission denied for table technologies"),
    ("DELETE FROM jobreqs.postings", "permission denied for table postings"),
    # the marts are tables publish writes (migration 0016): the reader cannot
    ("DELETE FROM jobreqs.technology_daily", "permission denied for table technology_daily"),
    ("CREATE TABLE jobreqs.mine (v int)", "permission denied for schema jobreqs"),
    ("SELECT * FROM jobreqs_private.probe_token", "permission denied for schema jobreqs_private"),
])
def test_reader_cannot_write_or_read_secrets(analytics_warehouse, statement, refusal):
    with psycopg.connect(analytics_warehouse, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS jobreqs_private.probe_token (token text)")
        conn.execute("INSERT INTO jobreqs_private.probe_token VALUES ('secret-value')")
    try:
        result = psql(analytics_warehouse, "-c", statement)
        assert result.returncode != 0
        assert re.search(refusal, result.stderr), result.stderr
        assert "secret-value" not in result.stdout
    finally:
        with psycopg.connect(analytics_warehouse, autocommit=True) as conn:
            conn.execute("DROP TABLE jobreqs_private.probe_token")
    # and the reader does read the marts
    ok = psql(analytics_warehouse, "-c", "SELECT count(*) FROM jobreqs.technology_trends")
    assert ok.returncode == 0 and int(ok.stdout.splitlines()[1]) > 0
