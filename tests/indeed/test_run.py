"""scrape_indeed end to end into a local lake, and the proxy API path through the connection."""

from __future__ import annotations

import json
import logging

import pytest

from jobreqs.lake import list_files, partition, read_jsonl_gz, read_partition
from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.run import LOOPBACK_SETTINGS, scrape_indeed
from scrapers.indeed.sandbox import SandboxIndeed, sandbox_server

from .conftest import SANDBOX_DAY, SANDBOX_KEYWORDS

DAY = SANDBOX_DAY
PROXY_KEY = "pk-test-5ecret-0123456789"


def test_scrape_indeed_writes_the_lake_and_a_rerun_replaces_it(lake_root, sandbox_url, caplog):
    caplog.set_level(logging.INFO)
    expected = SandboxIndeed(SANDBOX_DAY).expected
    first = scrape_indeed(lake_root, DAY, SANDBOX_KEYWORDS, ["remote"], base_url=sandbox_url)
    json.dumps(first)  # goes to XCom
    raw_dir = partition(lake_root, "raw", "indeed", DAY)
    quarantine_dir = partition(lake_root, "quarantine", "indeed", DAY)
    first_files = [p.name for p in list_files(raw_dir)]
    records = list(read_partition(raw_dir))
    assert len(records) == first["postings"] == len(set(expected["keywords"]) - set(expected["malformed"]))
    for record in records:
        IndeedRawPosting.model_validate(record)
    quarantined = list(read_partition(quarantine_dir))
    assert {q["job_key"] for q in quarantined} == set(expected["malformed"]) and first["quarantined"] == 5
    assert first["sandbox"] is True and first["day"] == DAY.isoformat() and first["base_url"] == sandbox_url
    assert first["blocked"] == 1 and first["duplicates"] == 7 and first["errors"] == 0
    assert json.loads((raw_dir / "_manifest.json").read_text())["postings"] == first["postings"]

    second = scrape_indeed(lake_root, DAY, SANDBOX_KEYWORDS, ["remote"], base_url=sandbox_url)
    assert [p.name for p in list_files(raw_dir)] == first_files  # one file, replaced
    assert len(list(read_partition(raw_dir))) == second["postings"] == first["postings"]
    assert len(list_files(quarantine_dir)) == 1 and len(list(read_partition(quarantine_dir))) == 5
    assert not [p for p in raw_dir.iterdir() if p.name.endswith(".tmp")]
    assert "crawl:" in caplog.text and "40 postings" in caplog.text


def test_base_url_comes_from_the_environment(lake_root, sandbox_url, monkeypatch):
    monkeypatch.setenv("JOBREQS_INDEED_BASE_URL", sandbox_url)
    manifest = scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], max_pages=1)
    assert manifest["base_url"] == sandbox_url and manifest["max_pages_hit"] == 1
    assert manifest["postings"] + manifest["quarantined"] == 10 + 1  # + the day's ad (sponsored)
    # a smaller crawl of the same day replaces the snapshot, and stale quarantine files go too
    assert len(list(read_partition(partition(lake_root, "raw", "indeed", DAY)))) == manifest["postings"]


def _proxy_connection(monkeypatch, api: str, endpoint: str, key: str = PROXY_KEY, options: dict | None = None) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_INDEED_PROXY", json.dumps({
        "conn_type": "http", "password": key,
        "extra": {"api": api, "endpoint": endpoint, **({"options": options} if options else {})}}))


@pytest.mark.parametrize("api", ["scrapeops", "zyte"])
def test_proxy_api_gets_past_the_challenge_with_its_documented_request_shape(api, lake_root, monkeypatch, caplog):
    """The real site's URLs, through a sandbox proxy API that stands for ScrapeOps or Zyte, in front
    of a sandbox Indeed that challenges every direct client (as Cloudflare does)."""
    from scrapers.proxy_sandbox import scrapeops_sandbox, zyte_sandbox

    caplog.set_level(logging.INFO)
    site = "https://www.indeed.com"
    with sandbox_server(day=SANDBOX_DAY, challenge_direct=True) as indeed:
        proxy = zyte_sandbox if api == "zyte" else scrapeops_sandbox
        with proxy({"www.indeed.com": indeed}, PROXY_KEY) as (endpoint, state):
            options = {"geolocation": "US"} if api == "zyte" else {"country": "us"}
            _proxy_connection(monkeypatch, api, endpoint, options=options)
            manifest = scrape_indeed(lake_root, SANDBOX_DAY, ["data engineer"], ["remote"], base_url=site,
                                     settings={**LOOPBACK_SETTINGS, "LOG_LEVEL": "DEBUG"})
    # every request went through the proxy API, with the service's documented shape
    assert len(state.calls) == manifest["requests"] and {c["api"] for c in state.calls} == {api}
    assert all(c["url"].startswith(site + "/") for c in state.calls)
    if api == "zyte":
        assert {tuple(c["fields"]) for c in state.calls} == {("geolocation", "httpResponseBody", "httpResponseHeaders", "url")}
    else:
        assert {tuple(c["options"]) for c in state.calls} == {("country",)}
    expected = SandboxIndeed(SANDBOX_DAY).expected
    engineer = {k for k, kws in expected["keywords"].items() if "data engineer" in kws}
    assert manifest["postings"] + manifest["quarantined"] == len(engineer) and manifest["retries"] == 1
    assert manifest["proxy_api"] is True and manifest["blocked"] == 0 and manifest["stop_message"] is None
    records = list(read_partition(partition(lake_root, "raw", "indeed", SANDBOX_DAY)))
    assert records and all(r["url"].startswith(site + "/viewjob?jk=") for r in records)
    assert "Crawled (200)" in caplog.text  # DEBUG request lines were relayed ...
    assert PROXY_KEY not in caplog.text  # ... without the key
    quarantined = [line for file in list_files(partition(lake_root, "quarantine", "indeed", SANDBOX_DAY))
                   for _, line in read_jsonl_gz(file)]
    assert len(quarantined) == manifest["quarantined"] > 0
    for zone in ("raw", "quarantine"):
        for file in list_files(partition(lake_root, zone, "indeed", SANDBOX_DAY)):
            assert all(PROXY_KEY not in line for _, line in read_jsonl_gz(file))
    # quarantined pages are recorded with the page's own URL, not the proxy's
    assert all(json.loads(line)["url"].startswith(site) for line in quarantined if json.loads(line)["url"])


@pytest.mark.parametrize("api", ["scrapeops", "zyte"])
def test_a_proxy_api_that_refuses_the_key_stops_the_crawl_at_once(api, lake_root, monkeypatch):
    from scrapers.proxy_sandbox import scrapeops_sandbox, zyte_sandbox

    with sandbox_server(day=SANDBOX_DAY, challenge_direct=True) as indeed:
        proxy = zyte_sandbox if api == "zyte" else scrapeops_sandbox
        with proxy({"www.indeed.com": indeed}, "the-right-key") as (endpoint, state):
            _proxy_connection(monkeypatch, api, endpoint, key="a-wrong-key")
            with pytest.raises(RuntimeError, match="refused the crawl's requests") as caught:
                scrape_indeed(lake_root, SANDBOX_DAY, SANDBOX_KEYWORDS, ["remote"], base_url="https://www.indeed.com",
                              settings=LOOPBACK_SETTINGS)
    assert "a-wrong-key" not in str(caught.value) and "indeed_proxy" in str(caught.value)
    assert state.calls == []  # refused before any page was fetched
    assert not list_files(partition(lake_root, "raw", "indeed", SANDBOX_DAY))


def test_no_connection_means_direct_requests(monkeypatch):
    from scrapers.indeed.run import proxy_environment

    monkeypatch.delenv("AIRFLOW_CONN_INDEED_PROXY", raising=False)
    assert proxy_environment() == {}
    monkeypatch.setenv("AIRFLOW_CONN_INDEED_PROXY", json.dumps({"conn_type": "http", "extra": {"api": "zyte"}}))
    assert proxy_environment() == {}  # a connection without a key does not enable the proxy


def test_a_crawl_meeting_a_wall_of_challenges_fails_with_the_fix_and_keeps_the_previous_snapshot(lake_root, sandbox_url):
    good = scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], base_url=sandbox_url, max_pages=1)
    with sandbox_server(day=SANDBOX_DAY, challenge_direct=True) as walled:
        with pytest.raises(RuntimeError, match="configure a proxy API") as caught:
            scrape_indeed(lake_root, DAY, SANDBOX_KEYWORDS, ["remote"], base_url=walled)
    assert "Cloudflare challenge" in str(caught.value) and "left unchanged" in str(caught.value)
    assert len(list(read_partition(partition(lake_root, "raw", "indeed", DAY)))) == good["postings"]
