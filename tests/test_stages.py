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


def _rows(conn, query):
    return sorted(tuple(r) for r in conn.execute(query).fetchall())


def test_load_merges_a_postings_records_across_batches_as_one_upsert(warehouse):
    """A posting met twice in one load (in different batches): the first record is COPYed
    straight in, the later one merged: the last record's values, the union of keywords and
    extraction results, exactly as one upsert of the whole load."""
    base = {"source": "indeed", "title": "Data Engineer", "posting_date": "2026-11-20",
            "description_text": "Python", "content_hash": "h", "search_location": "remote"}
    records = [
        base | {"source_id": "a", "keywords": ["data engineer"], "technologies": ["python"], "unmapped_terms": ["foo"]},
        base | {"source_id": "b", "keywords": ["data analyst"], "technologies": ["excel"]},
        base | {"source_id": "c", "keywords": ["data analyst"], "technologies": ["sql"]},
        base | {"source_id": "a", "title": "Senior Data Engineer", "keywords": ["data scientist"],
                "technologies": ["spark"], "unmapped_terms": ["bar"], "posted_at": "2026-11-19T10:00:00+00:00"},
        base | {"source_id": "b", "keywords": ["data analyst"], "extraction_error": "timeout"},
    ]
    with psycopg.connect(warehouse) as conn:
        stats = load_postings(conn, records, batch_records=2)
        postings = _rows(conn, "SELECT source_id, title, posted_at IS NOT NULL, extraction_backend FROM jobreqs.postings")
        keywords = _rows(conn, "SELECT source_id, keyword, search_location FROM jobreqs.posting_keywords")
        techs = _rows(conn, "SELECT source_id, technology FROM jobreqs.posting_technologies")
        unmapped = _rows(conn, "SELECT source_id, term, first_seen FROM jobreqs.unmapped_terms")
    assert postings == [("a", "Senior Data Engineer", True, None), ("b", "Data Engineer", False, None),
                        ("c", "Data Engineer", False, None)]
    assert keywords == [("a", "data engineer", "remote"), ("a", "data scientist", "remote"),
                        ("b", "data analyst", "remote"), ("c", "data analyst", "remote")]
    assert techs == [("a", "python"), ("a", "spark"), ("b", "excel"), ("c", "sql")]
    assert unmapped == [("a", "bar", DAY), ("a", "foo", DAY)]
    assert stats["postings_upserted"] == 3 and stats["records"] == 5
    assert stats["postings_staged"] == 2 and stats["kept_previous_technologies"] == 1


def test_reload_rewrites_only_what_changed(warehouse):
    """A re-load of the same records rewrites no row; a changed extraction replaces that
    posting's technologies only, and a failed one keeps them."""
    records = [{"source": "indeed", "source_id": f"k{i}", "title": "Analyst", "posting_date": "2026-11-20",
                "description_text": f"text {i}", "content_hash": f"h{i}", "keywords": ["data analyst"],
                "technologies": ["python", "sql"], "unmapped_terms": ["foo"], "extraction_backend": "local"}
               for i in range(4)]
    versions = ("SELECT 'p', source_id, xmin::text FROM jobreqs.postings UNION ALL "
                "SELECT 't', source_id || ':' || technology, xmin::text FROM jobreqs.posting_technologies UNION ALL "
                "SELECT 'u', source_id || ':' || term, xmin::text FROM jobreqs.unmapped_terms")
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, records)
        before = _rows(conn, versions)
        again = load_postings(conn, records)
        assert _rows(conn, versions) == before  # same row versions: nothing rewritten
        assert again["posting_technologies"] == 0 and again["postings_staged"] == 4
        changed = [records[0] | {"technologies": ["python", "spark"], "unmapped_terms": []},
                   records[1] | {"extraction_error": "rate limited", "technologies": []}]
        load_postings(conn, changed + records[2:])
        after = dict(((kind, key), xmin) for kind, key, xmin in _rows(conn, versions))
        techs = _rows(conn, "SELECT source_id, technology FROM jobreqs.posting_technologies WHERE source_id IN ('k0', 'k1')")
        backends = _rows(conn, "SELECT source_id, extraction_backend FROM jobreqs.postings WHERE source_id IN ('k0', 'k1')")
    old = dict(((kind, key), xmin) for kind, key, xmin in before)
    assert techs == [("k0", "python"), ("k0", "spark"), ("k1", "python"), ("k1", "sql")]
    assert backends == [("k0", "local"), ("k1", "local")]
    rewritten = sorted(k for k in after if after[k] != old.get(k))
    assert rewritten == [("t", "k0:spark")]
    assert ("u", "k0:foo") not in after and ("t", "k0:sql") not in after


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
