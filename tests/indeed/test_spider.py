"""The spider against the sandbox Indeed over real HTTP, in the subprocess scrape_indeed uses."""

from __future__ import annotations

import json

from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.sandbox import SandboxIndeed, load_day, sandbox_server
from transforms.text import html_to_text

from .conftest import read_jsonl_gz, run_crawl

EXPECTED_REASONS = {
    "truncated_json": "truncated or invalid embedded JSON",
    "missing_title": "missing field: jobInfoHeaderModel.jobTitle",
    "non_utf8": "non-UTF-8 bytes",
    "empty_description": "empty description",
    "huge_description": "description too large",
}


def test_every_sandbox_posting_collected_once_with_all_its_keywords(sandbox_crawl):
    expected = SandboxIndeed(load_day()).expected
    postings = sandbox_crawl["postings"]
    keys = [p["job_key"] for p in postings]
    assert len(keys) == len(set(keys)), "a posting was written twice"
    good = set(expected["keywords"]) - set(expected["malformed"])
    assert set(keys) == good
    for posting in postings:
        assert sorted(posting["keywords"]) == sorted(expected["keywords"][posting["job_key"]]), posting["job_key"]
        IndeedRawPosting.model_validate(posting)
        assert posting["search_location"] == "remote"
        assert posting["url"] == f"{sandbox_crawl['base_url']}/viewjob?jk={posting['job_key']}"
    shared = [p for p in postings if len(p["keywords"]) == 2]
    assert len(shared) == 7


def test_posting_fields_match_the_sandbox_source(sandbox_crawl):
    by_key = {p["job_key"]: p for p in load_day()["postings"]}
    for posting in sandbox_crawl["postings"]:
        source = by_key[posting["job_key"]]
        assert posting["title"] == source["title"] and posting["company"] == source["company"]
        assert posting["description_text"] == html_to_text(source["description_html"])
        assert posting["posted_at"] and posting["posted_at"].endswith("Z")
        salary = source["salary"]
        if salary:  # from the job page, or the card when the page had none (JSON-LD/DOM pages)
            assert (posting["salary_min"], posting["salary_max"]) == (salary["min"], salary["max"])
            assert posting["salary_is_estimate"] is salary["estimate"]
        assert posting["job_types"][: len(source["job_types"])] == source["job_types"]
        assert posting["page"] >= 0 and posting["position"] >= 0


def test_malformed_pages_quarantined_with_their_reason(sandbox_crawl):
    expected = SandboxIndeed(load_day()).expected["malformed"]
    quarantined = {q["job_key"]: q for q in sandbox_crawl["quarantine"] if q["kind"] == "job_page"}
    assert set(quarantined) == set(expected)
    for key, variant in expected.items():
        record = quarantined[key]
        assert record["reason"].startswith(EXPECTED_REASONS[variant]), (variant, record["reason"])
        assert record["url"].endswith(key) and record["keywords"] and record["quarantined_at"]
    assert len(sandbox_crawl["quarantine"]) == len(expected)


def test_manifest_counts_blocks_retries_duplicates_and_fallbacks(sandbox_crawl):
    manifest = sandbox_crawl["manifest"]
    assert manifest["postings"] == 37 and manifest["quarantined"] == 5
    assert manifest["duplicates"] == 7  # the shared postings' second sighting
    assert manifest["blocked"] == 1  # the CAPTCHA on 'data analyst' page 2, then retried
    assert manifest["retries"] == 2  # one 429, one 503
    assert manifest["search_pages"] == 3 + 2 + 2 + 1  # + the blocked answer
    assert manifest["search_pages_dom_fallback"] == 1
    assert manifest["job_pages"] == 42
    assert manifest["parsed_from"] == {"model": 35, "json-ld": 1, "dom": 1}
    assert manifest["errors"] == 0 and manifest["cap_hit"] is False
    assert manifest["requests"] == 8 + 42 + 2
    json.dumps(manifest)
    log = sandbox_crawl["log"]
    assert "BLOCKED (block page: hCaptcha solve page)" in log
    assert "HTTP 429" in log and "HTTP 503" in log


def test_block_that_persists_is_counted_as_an_error_and_quarantined(tmp_path):
    with sandbox_server() as url:
        result = run_crawl(tmp_path, url, ["data analyst", "data scientist"],
                           extra=["--set", "INDEED_BLOCK_RETRY_TIMES=0", "--max-pages", "2"])
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["blocked"] == 1 and manifest["errors"] == 1
    assert manifest["max_pages_hit"] == 1  # 'data scientist' has 3 pages
    quarantine = read_jsonl_gz(tmp_path / "quarantine.jsonl.gz")
    blocked = [q for q in quarantine if q["kind"] == "blocked"]
    assert len(blocked) == 1 and "start=10" in blocked[0]["url"] and "gave up" in blocked[0]["reason"]
    day = load_day()
    collected = {p["job_key"] for p in read_jsonl_gz(tmp_path / "postings.jsonl.gz")}
    assert not collected & (set(day["searches"]["data analyst"][10:]) - set(day["searches"]["data scientist"]))


def test_search_beyond_the_cap_stops_cleanly_at_1000(tmp_path):
    with sandbox_server() as url:
        result = run_crawl(tmp_path, url, ["synthetic 1500"])
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["cap_hit"] is True and manifest["searches_cut_by_cap"] == 1
    assert manifest["search_pages"] == 100 and manifest["postings"] == 1000 and manifest["errors"] == 0
    assert manifest["requests"] == 1100  # nothing asked past start=990
    assert "reports 1500 results; Indeed serves only the first 1000, 500 will not be collected" in result.stderr
    assert manifest["finish_reason"] == "finished"
