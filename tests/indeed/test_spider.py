"""The spider against the sandbox Indeed over real HTTP, in the subprocess scrape_indeed uses."""

from __future__ import annotations

import json

from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.sandbox import SandboxIndeed, load_day, sandbox_server
from transforms.text import html_to_text

from .conftest import SANDBOX_DAY, read_jsonl_gz, run_crawl
from .test_parsing import expected_salary, salary_of

EXPECTED_REASONS = {
    "truncated_json": "truncated or invalid embedded JSON",
    "missing_title": "missing field: jobInfoHeaderModel.jobTitle",
    "non_utf8": "non-UTF-8 bytes",
    "empty_description": "empty description",
    "huge_description": "description too large",
}


def test_every_sandbox_posting_collected_once_with_all_its_keywords(sandbox_crawl):
    expected = SandboxIndeed(SANDBOX_DAY).expected
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
    # sponsored cards: the day's ads are postings (flagged), the stale ads are skipped
    assert {p["job_key"] for p in postings if p["sponsored"]} == set(expected["sponsored"])
    assert not set(keys) & set(expected["stale_ads"])


def test_posting_fields_match_the_sandbox_source(sandbox_crawl):
    by_key = {p["job_key"]: p for p in load_day(SANDBOX_DAY)["postings"]}
    for posting in sandbox_crawl["postings"]:
        source = by_key[posting["job_key"]]
        assert posting["title"] == source["title"] and posting["company"] == source["company"]
        assert posting["description_text"] == html_to_text(source["description_html"])
        # from the card's pubDate (real job pages carry only an "age" text); DOM cards have none
        assert posting["posted_at"] is None or posting["posted_at"].endswith("Z")
        # from the job page (the top-level salary models), or the card when the page had none
        # (JSON-LD/DOM pages); estimates in the site's currency, open ends left empty
        assert salary_of(posting) == expected_salary(source["salary"]), posting["job_key"]
        assert posting["job_types"][: len(source["job_types"])] == source["job_types"]
        assert posting["page"] >= 0 and posting["position"] >= 0
    assert sum(p["posted_at"] is None for p in sandbox_crawl["postings"]) <= 2  # the DOM-card page's


def test_malformed_pages_quarantined_with_their_reason(sandbox_crawl):
    expected = SandboxIndeed(SANDBOX_DAY).expected["malformed"]
    quarantined = {q["job_key"]: q for q in sandbox_crawl["quarantine"] if q["kind"] == "job_page"}
    assert set(quarantined) == set(expected)
    for key, variant in expected.items():
        record = quarantined[key]
        assert record["reason"].startswith(EXPECTED_REASONS[variant]), (variant, record["reason"])
        assert record["url"].endswith(key) and record["keywords"] and record["quarantined_at"]
    assert len(sandbox_crawl["quarantine"]) == len(expected)


def test_manifest_counts_blocks_retries_duplicates_and_fallbacks(sandbox_crawl):
    manifest = sandbox_crawl["manifest"]
    assert manifest["postings"] == 40 and manifest["quarantined"] == 5
    assert manifest["duplicates"] == 7  # the shared postings' second sighting
    assert manifest["sponsored"] == 6 and manifest["sponsored_outside_window"] == 3  # 2 ads a keyword, 1 stale
    assert manifest["blocked"] == 1  # Cloudflare's challenge on 'data analyst' page 2, then retried
    assert manifest["retries"] == 2  # one 429, one 503
    assert manifest["search_pages"] == 3 + 2 + 2 + 1  # + the blocked answer
    assert manifest["search_pages_dom_fallback"] == 1
    assert manifest["job_pages"] == 45
    assert manifest["parsed_from"] == {"model": 38, "json-ld": 1, "dom": 1}
    assert manifest["errors"] == 0 and manifest["cap_hit"] is False and manifest["odd_fields"] == 0
    assert manifest["requests"] == 8 + 45 + 2
    assert manifest["stop_message"] is None
    json.dumps(manifest)
    log = sandbox_crawl["log"]
    assert "BLOCKED (Cloudflare challenge (HTTP 403, cf-mitigated: challenge))" in log
    assert "filter=0" in log  # the searches ask Indeed not to fold similar postings away
    assert "HTTP 429" in log and "HTTP 503" in log


def test_block_that_persists_is_counted_as_an_error_and_quarantined(tmp_path):
    with sandbox_server(day=SANDBOX_DAY) as url:
        result = run_crawl(tmp_path, url, ["data analyst", "data scientist"],
                           extra=["--set", "INDEED_BLOCK_RETRY_TIMES=0", "--max-pages", "2"])
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["blocked"] == 1 and manifest["errors"] == 1
    assert manifest["max_pages_hit"] == 1  # 'data scientist' has 3 pages
    quarantine = read_jsonl_gz(tmp_path / "quarantine.jsonl.gz")
    blocked = [q for q in quarantine if q["kind"] == "blocked"]
    assert len(blocked) == 1 and "start=10" in blocked[0]["url"] and "gave up" in blocked[0]["reason"]
    day = load_day(SANDBOX_DAY)
    collected = {p["job_key"] for p in read_jsonl_gz(tmp_path / "postings.jsonl.gz")}
    assert not collected & (set(day["searches"]["data analyst"][10:]) - set(day["searches"]["data scientist"]))


def test_search_beyond_the_cap_stops_cleanly_at_1000(tmp_path):
    with sandbox_server(day=SANDBOX_DAY) as url:
        result = run_crawl(tmp_path, url, ["synthetic 1500"])
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["cap_hit"] is True and manifest["searches_cut_by_cap"] == 1
    assert manifest["search_pages"] == 100 and manifest["postings"] == 1000 and manifest["errors"] == 0
    assert manifest["requests"] == 1100  # nothing asked past start=990
    assert "reports 1500 results; Indeed serves only the first 1000, 500 will not be collected" in result.stderr
    assert manifest["finish_reason"] == "finished"


def test_a_wall_of_cloudflare_challenges_stops_the_crawl_and_says_to_configure_a_proxy_api(tmp_path):
    """Direct requests against a site that challenges every client: no tight retry loop, a stop
    after INDEED_BLOCK_WALL blocks in a row, and a message naming the fix."""
    with sandbox_server(day=SANDBOX_DAY, challenge_direct=True) as url:
        result = run_crawl(tmp_path, url, ["data scientist", "data analyst", "data engineer"],
                           extra=["--set", "INDEED_BLOCK_WALL=5"])
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["finish_reason"] == "blocked" and manifest["postings"] == 0
    assert 5 <= manifest["blocked"] <= 5 + 3  # responses already in flight when it stopped
    assert manifest["requests"] <= 5 + 3  # stopped at the wall (a few requests may be in flight)
    assert "configure a proxy API" in manifest["stop_message"] and "indeed_proxy" in manifest["stop_message"]
    assert "cf-mitigated: challenge" in manifest["stop_message"]
