"""normalise, load and publish as plain functions over a real lake folder and a real Postgres."""

import datetime as dt
import gzip
import json

import psycopg
import pyarrow.parquet as pq

from jobreqs import lake
from tests.conftest import warehouse_snapshot
from tests.fixtures.raw_day import write_raw_day
from transforms.load import load_postings
from transforms.normalise import normalise_day
from transforms.publish import publish_day

DAY = dt.date(2026, 11, 20)


def test_normalise_quarantines_bad_lines_and_keeps_the_rest(lake_root):
    expected = write_raw_day(lake_root, DAY)
    stats = normalise_day(lake_root, DAY)
    assert stats["postings"] == {"indeed": 4, "upwork": 2}  # the shared posting appears in two files
    assert stats["quarantined"] == {"indeed": expected["quarantined_indeed"], "upwork": 0}
    rejects = list(lake.read_partition(lake.partition(lake_root, "quarantine", "indeed", DAY)))
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons[0] == "invalid indeed record: title: Field required"
    assert reasons[1].startswith("not valid JSON: Unterminated string")
    assert all(r["raw"] for r in rejects)  # the whole raw line is kept: nothing is lost
    postings = list(lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
    upwork_fixed = next(p for p in postings if p["source_id"].startswith("u2"))
    assert upwork_fixed["salary_period"] == "project" and upwork_fixed["salary_min"] == 500.0
    engineer = next(p for p in postings if p["title"] == "Senior Data Engineer")
    assert "\n- Python and SQL\n" in engineer["description_text"]  # list breaks kept
    assert len(engineer["content_hash"]) == 64


def test_normalise_date_without_snapshot_says_so(lake_root):
    stats = normalise_day(lake_root, DAY)
    assert stats["postings_total"] == 0
    assert "no raw snapshot" in stats["message"]


def test_load_is_idempotent_and_merges_keywords(lake_root, warehouse):
    expected = write_raw_day(lake_root, DAY)
    normalise_day(lake_root, DAY)
    staged = lake.partition(lake_root, "staging", "postings", DAY)
    with psycopg.connect(warehouse) as conn:
        first = load_postings(conn, lake.read_partition(staged))
    snapshot = warehouse_snapshot(warehouse)
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, lake.read_partition(staged))
    assert warehouse_snapshot(warehouse) == snapshot
    assert first["records"] == 6 and len(snapshot["postings"]) == expected["postings"]
    with psycopg.connect(warehouse) as conn:
        keywords = {k for (k,) in conn.execute(
            "SELECT keyword FROM jobreqs.posting_keywords WHERE source_id = %s",
            (next(iter(expected["keywords"])),)).fetchall()}
    assert keywords == next(iter(expected["keywords"].values()))


def test_load_replaces_extraction_results_of_reloaded_postings(lake_root, warehouse):
    base = {"source": "indeed", "source_id": "k1", "title": "Data Engineer", "posting_date": "2026-11-20",
            "description_text": "Python", "content_hash": "h", "keywords": ["data engineer"]}
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, [base | {"technologies": ["python", "sql"], "unmapped_terms": ["foo"]}])
        load_postings(conn, [base | {"technologies": ["python"], "unmapped_terms": []}])
        techs = conn.execute("SELECT technology FROM jobreqs.posting_technologies").fetchall()
        unmapped = conn.execute("SELECT count(*) FROM jobreqs.unmapped_terms").fetchone()[0]
        # A later day that finds the posting again keeps its first date.
        load_postings(conn, [base | {"posting_date": "2026-11-21"}])
        first_date = conn.execute("SELECT posting_date FROM jobreqs.postings").fetchone()[0]
    assert techs == [("python",)] and unmapped == 0
    assert first_date == DAY


def test_load_failure_leaves_warehouse_unchanged(warehouse):
    good = {"source": "indeed", "source_id": "ok", "title": "T", "posting_date": "2026-11-20",
            "description_text": "x", "content_hash": "h"}
    bad = good | {"source_id": "bad", "source": "monster"}  # violates the source check

    with psycopg.connect(warehouse) as conn:
        try:
            load_postings(conn, [good, bad])
        except psycopg.errors.CheckViolation:
            pass
        else:
            raise AssertionError("the load should have failed")
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM jobreqs.postings").fetchone()[0] == 0


def test_publish_writes_curated_parquet(lake_root, warehouse):
    write_raw_day(lake_root, DAY)
    normalise_day(lake_root, DAY)
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
        stats = publish_day(conn, lake_root, DAY)
    assert stats["curated_postings"] == 5
    path = lake.partition(lake_root, "curated", "postings", DAY) / "postings.parquet"
    with path.open("rb") as handle:
        table = pq.read_table(handle)
    assert table.num_rows == 5
    assert sorted(table.column("source").to_pylist()) == ["indeed"] * 3 + ["upwork"] * 2
    shared = [r for r in table.to_pylist() if len(r["keywords"]) == 2]
    assert len(shared) == 1 and shared[0]["keywords"] == ["data engineer", "data scientist"]


def test_atomic_write_leaves_nothing_on_failure(lake_root):
    target = lake.partition(lake_root, "raw", "indeed", DAY) / "part-0000.jsonl.gz"

    def records():
        yield {"a": 1}
        raise RuntimeError("scraper died")

    try:
        lake.write_jsonl_gz(target, records())
    except RuntimeError:
        pass
    assert list(target.parent.iterdir()) == []
    lake.write_jsonl_gz(target, [{"a": 1}, {"b": "é"}])
    with target.open("rb") as handle:
        assert [json.loads(x) for x in gzip.decompress(handle.read()).splitlines()] == [{"a": 1}, {"b": "é"}]


def test_technology_rows_record_the_taxonomy_and_classifier_versions_that_made_them(lake_root, warehouse):
    """clean_up stamps the taxonomy's version on each result; load stores it with the classifier's
    on every technology row; a re-derivation under a new taxonomy replaces both."""
    from collections import Counter

    from transforms.clean_up import clean_up_postings
    from transforms.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    base = {"source": "indeed", "source_id": "k1", "title": "Data Engineer", "posting_date": "2026-11-20",
            "description_text": "Python and SQL", "content_hash": "h", "keywords": ["data engineer"],
            "classifier_version": "clf-1", "raw_terms": ["Python", "SQL"]}
    cleaned = list(clean_up_postings([base], Counter(), taxonomy))
    assert cleaned[0]["taxonomy_version"] == taxonomy.version
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, cleaned)
        first = conn.execute("SELECT DISTINCT taxonomy_version, classifier_version FROM jobreqs.posting_technologies").fetchall()
        load_postings(conn, [cleaned[0] | {"taxonomy_version": "tax-next", "classifier_version": "clf-2"}])
        second = conn.execute("SELECT DISTINCT taxonomy_version, classifier_version FROM jobreqs.posting_technologies").fetchall()
    assert first == [(taxonomy.version, "clf-1")]
    assert second == [("tax-next", "clf-2")]
