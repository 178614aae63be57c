"""`jobreqs export` and the lake's curated copy of the trend data."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from jobreqs.cli import main
from tests.analytics.conftest import DAY_A, DAY_B, DAY_C
from transforms.export import ARROW_SCHEMA, COLUMN_NAMES, publish_curated

ROOT = Path(__file__).resolve().parents[2]


def mart_count(conninfo: str, where: str = "TRUE", *params) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT count(*) FROM jobreqs.technology_trends WHERE {where}", params).fetchone()[0]


def test_csv_export_of_a_range(analytics_warehouse, tmp_path):
    out = tmp_path / "march.csv"
    assert main(["export", "--from", "2026-03-01", "--to", "2026-03-31", "--output", str(out)]) == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMN_NAMES
    assert len(rows) == mart_count(analytics_warehouse, "posting_date BETWEEN %s AND %s", DAY_A, dt.date(2026, 3, 31))
    assert {r["posting_date"] for r in rows} == {"2026-03-02", "2026-03-09"}
    spark_b = next(r for r in rows if (r["posting_date"], r["source"], r["keyword"], r["technology"])
                   == ("2026-03-09", "all", "all", "spark"))
    assert (spark_b["postings"], spark_b["total_postings"], spark_b["postings_7d_prev_week"]) == ("2", "3", "1")
    assert float(spark_b["share_7d"]) == pytest.approx(2 / 3)
    assert spark_b["share_28d_prev_month"] == ""  # NULL


def test_parquet_export_with_filters(analytics_warehouse, tmp_path):
    out = tmp_path / "de.parquet"
    code = main(["export", "--from", "2026-03-01", "--to", "2026-04-30", "--output", str(out),
                 "--source", "indeed", "--keyword", "data engineer", "--category", "language"])
    assert code == 0
    table = pq.read_table(out)
    assert table.schema.equals(ARROW_SCHEMA)
    rows = table.to_pylist()
    assert rows and {(r["source"], r["keyword"], r["category"]) for r in rows} == {("indeed", "data engineer", "language")}
    assert len(rows) == mart_count(analytics_warehouse, """posting_date BETWEEN '2026-03-01' AND '2026-04-30'
        AND source = 'indeed' AND keyword = 'data engineer' AND category = 'language'""")
    python_c = next(r for r in rows if r["posting_date"] == DAY_C and r["technology"] == "python")
    # data engineers: March had python in 2 of 4 postings, April in 1 of 1
    assert python_c["share_28d_prev_month"] == pytest.approx(0.5)
    assert python_c["mom_change"] == pytest.approx(0.5)


def test_empty_range_gives_a_valid_empty_file(analytics_warehouse, tmp_path):
    out = tmp_path / "none.parquet"
    assert main(["export", "--from", "2020-01-01", "--to", "2020-01-31", "--format", "parquet", "--output", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.equals(ARROW_SCHEMA)


def test_bad_ranges_are_refused_clearly(analytics_warehouse, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["export", "--from", "2026-03-31", "--to", "2026-03-01", "--output", str(out)]) == 2
    assert "before" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())  # no half file left behind
    with pytest.raises(SystemExit):
        main(["export", "--from", "March", "--to", "2026-03-01"])


def test_the_real_command_streams_csv_to_stdout(analytics_warehouse):
    result = subprocess.run(
        [sys.executable, "-m", "jobreqs.cli", "export", "--from", str(DAY_B), "--to", str(DAY_B), "--source", "upwork"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split(",") == COLUMN_NAMES
    assert len(lines) - 1 == mart_count(analytics_warehouse, "posting_date = %s AND source = 'upwork'", DAY_B)
    assert "exported" in result.stderr


def test_publish_curated_replaces_the_days_partition(analytics_warehouse, lake_root):
    with psycopg.connect(analytics_warehouse) as conn:
        first = publish_curated(conn, DAY_B, lake_root)
        again = publish_curated(conn, DAY_B, lake_root)
    assert first["rows"] == again["rows"] == mart_count(analytics_warehouse, "posting_date = %s", DAY_B)
    directory = lake_root / "curated" / "technology_trends" / f"dt={DAY_B}"
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["part-0000.parquet"]
    with (directory / "part-0000.parquet").open("rb") as f:
        table = pq.read_table(f)
    assert table.num_rows == first["rows"]


def test_publish_refreshes_then_writes_the_day(analytics_warehouse, lake_root):
    import json

    from transforms.marts import publish

    with psycopg.connect(analytics_warehouse) as conn:  # new data the marts do not show yet
        conn.execute("""INSERT INTO jobreqs.postings (source, source_id, title, posting_date, description_text, content_hash)
                        VALUES ('indeed', 'i9', 'job', %s, 't', 'h9')""", (DAY_C,))
        conn.execute("INSERT INTO jobreqs.posting_technologies VALUES ('indeed', 'i9', 'rust')")
    result = publish(str(DAY_C), lake_root=lake_root)
    json.dumps(result)  # goes to XCom
    assert result["logical_date"] == "2026-04-06" and result["marts"]["technology_daily"] > 0
    table = pq.read_table(result["curated_path"].removeprefix("file://"))
    assert "rust" in table.column("technology").to_pylist()
    assert result["curated_rows"] == table.num_rows == mart_count(analytics_warehouse, "posting_date = %s", DAY_C)


def test_exports_carry_each_dates_coverage_for_the_rows_source(analytics_warehouse, tmp_path):
    """The coverage beside every figure, in the files too: the row's source on its date, and for
    source 'all' the weakest source (the coverage mart); a date without a record is empty."""
    from jobreqs import coverage

    with psycopg.connect(analytics_warehouse) as conn:
        coverage.record(conn, "indeed", DAY_A, "r", coverage.indeed_row(
            {"searches": 1, "searches_answered": 1, "reported_total": 40, "reachable_total": 40,
             "organic_cards_of_counted": 20, "listed": 20, "postings": 18, "blocked": 4, "blocked_lost": 2,
             "quarantined": 2}))
        coverage.record(conn, "upwork", DAY_A, "r", coverage.upwork_row({"fetched": 9, "coverage": 0.75, "capped": True}))
    out = tmp_path / "march.csv"
    assert main(["export", "--from", "2026-03-01", "--to", "2026-03-31", "--output", str(out)]) == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_source = {r["source"]: r for r in rows if r["posting_date"] == "2026-03-02"}
    assert by_source["indeed"]["coverage"] == "0.45" and by_source["indeed"]["collected"] == "18"
    assert by_source["indeed"]["reported"] == "40" and by_source["indeed"]["blocked"] == "4"
    assert by_source["upwork"]["coverage"] == "0.75" and by_source["upwork"]["cap_hit"] == "True"
    assert by_source["all"]["coverage"] == "0.45" and by_source["all"]["collected"] == "27"
    assert by_source["all"]["coverage_below_usual"] == "False"
    assert {r["coverage"] for r in rows if r["posting_date"] == "2026-03-09"} == {""}
    parquet = tmp_path / "march.parquet"
    assert main(["export", "--from", "2026-03-02", "--to", "2026-03-02", "--format", "parquet",
                 "--output", str(parquet), "--source", "indeed"]) == 0
    table = pq.read_table(parquet)
    assert table.schema.equals(ARROW_SCHEMA)
    assert [r["coverage"] for r in table.to_pylist()] == [pytest.approx(0.45)] * table.num_rows
