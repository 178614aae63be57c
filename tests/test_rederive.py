"""Re-derivation after a taxonomy change: only the dates whose rows came from another version are
derived again from the lake and published; the other dates are left as they were."""

from __future__ import annotations

import datetime as dt

import psycopg

from jobreqs import lake
from jobreqs.rederive import affected_dates, current_versions, publish_dates, rederive_day
from jobreqs.warehouse import migrate
from tests.fixtures.raw_day import write_raw_day
from transforms.normalise import normalise_day

DAY, OTHER = dt.date(2026, 11, 20), dt.date(2026, 11, 21)


def _rows(conn, day):
    return conn.execute(
        """SELECT t.source_id, t.technology, t.taxonomy_version, t.classifier_version
           FROM jobreqs.posting_technologies t JOIN jobreqs.postings p USING (source, source_id)
           WHERE p.posting_date = %s ORDER BY 1, 2""", (day,)).fetchall()


def test_a_taxonomy_change_rederives_the_affected_dates_only(lake_root, warehouse):
    migrate(warehouse)
    for day in (DAY, OTHER):
        write_raw_day(lake_root, day)
        normalise_day(lake_root, day, ("indeed", "upwork"))
        assert rederive_day(day, f"first/{day}")["changed"]
    taxonomy, classifier = current_versions()
    with psycopg.connect(warehouse) as conn:
        assert affected_dates(conn, taxonomy, classifier) == []
        other_before = _rows(conn, OTHER)
        assert other_before and {r[2:] for r in other_before} == {(taxonomy, classifier)}
        # DAY's rows came from an older taxonomy (as after promoting a term)
        conn.execute("""UPDATE jobreqs.posting_technologies t SET taxonomy_version = 'older'
                        FROM jobreqs.postings p WHERE p.source = t.source AND p.source_id = t.source_id
                          AND p.posting_date = %s""", (DAY,))
        conn.commit()
        assert affected_dates(conn, taxonomy, classifier) == [DAY]
    other_file = lake.partition(lake_root, "curated", "postings", OTHER) / "postings.parquet"
    publish_dates([OTHER])
    other_written = other_file.stat().st_mtime

    assert rederive_day(DAY, "again/2026-11-20")["changed"]
    published = publish_dates([DAY])
    with psycopg.connect(warehouse) as conn:
        assert affected_dates(conn, taxonomy, classifier) == []
        assert {r[2:] for r in _rows(conn, DAY)} == {(taxonomy, classifier)}
        assert _rows(conn, OTHER) == other_before
        rederived = conn.execute("SELECT DISTINCT logical_date FROM jobreqs.pipeline_runs "
                                 "WHERE dag_id = 'jobreqs_rederive' AND run_id = 'again/2026-11-20'").fetchall()
    assert rederived == [(DAY,)]
    assert published["dates"] == [DAY.isoformat()]
    assert other_file.stat().st_mtime == other_written  # the other date's files were not touched
    assert all(DAY.isoformat() in path for path in published["files"][DAY.isoformat()])


def test_a_date_without_staged_postings_is_skipped_with_a_message(lake_root, warehouse):
    migrate(warehouse)
    result = rederive_day(dt.date(2026, 10, 1), "none/2026-10-01")
    assert result["changed"] is False and "no staged postings" in result["message"]
