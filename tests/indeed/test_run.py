"""scrape_indeed end to end into a local lake, and the proxy API path through the connection."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlparse

import pytest

from jobreqs.lake import list_files, partition, read_jsonl_gz, read_partition
from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.run import scrape_indeed
from scrapers.indeed.sandbox import SandboxIndeed, load_day, sandbox_server

from .conftest import SANDBOX_KEYWORDS

DAY = dt.date(2026, 11, 22)
PROXY_KEY = "pk-test-5ecret-0123456789"


def test_scrape_indeed_writes_the_lake_and_a_rerun_replaces_it(lake_root, sandbox_url, caplog):
    caplog.set_level(logging.INFO)
    expected = SandboxIndeed(load_day()).expected
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
    assert first["sandbox"] is True and first["day"] == "2026-11-22" and first["base_url"] == sandbox_url
    assert first["blocked"] == 1 and first["duplicates"] == 7 and first["errors"] == 0
    assert json.loads((raw_dir / "_manifest.json").read_text())["postings"] == first["postings"]

    second = scrape_indeed(lake_root, DAY, SANDBOX_KEYWORDS, ["remote"], base_url=sandbox_url)
    assert [p.name for p in list_files(raw_dir)] == first_files  # one file, replaced
    assert len(list(read_partition(raw_dir))) == second["postings"] == first["postings"]
    assert len(list_files(quarantine_dir)) == 1 and len(list(read_partition(quarantine_dir))) == 5
    assert not [p for p in raw_dir.iterdir() if p.name.endswith(".tmp")]
    assert "crawl:" in caplog.text and "37 postings" in caplog.text


def test_base_url_comes_from_the_environment(lake_root, sandbox_url, monkeypatch):
    monkeypatch.setenv("JOBREQS_INDEED_BASE_URL", sandbox_url)
    manifest = scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], max_pages=1)
    assert manifest["base_url"] == sandbox_url and manifest["max_pages_hit"] == 1
    assert manifest["postings"] + manifest["quarantined"] == 10
    # a smaller crawl of the same day replaces the snapshot, and stale quarantine files go too
    assert len(list(read_partition(partition(lake_root, "raw", "indeed", DAY)))) == manifest["postings"]


class _FakeProxyApi(ThreadingHTTPServer):
    """A local proxy API speaking the ScrapeOps (GET ?api_key&url) and Zyte (POST JSON) shapes."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.calls: list[str] = []


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _FakeProxyApi

    def _fetch(self, url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read()
        except HTTPError as exc:
            return exc.code, exc.read()

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        query = parse_qs(urlparse(self.path).query)
        if query.get("api_key") != [PROXY_KEY]:
            return self._send(401, b"bad key")
        self.server.calls.append("scrapeops")
        self._send(*self._fetch(query["url"][0]))

    def do_POST(self):  # noqa: N802
        expected = "Basic " + base64.b64encode(f"{PROXY_KEY}:".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._send(401, b"bad key")
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, body = self._fetch(request["url"])
        self.server.calls.append("zyte")
        answer = {"url": request["url"], "statusCode": status, "httpResponseBody": base64.b64encode(body).decode()}
        self._send(200, json.dumps(answer).encode(), "application/json")

    def log_message(self, format, *args):
        pass


@pytest.mark.parametrize("api", ["scrapeops", "zyte"])
def test_proxy_api_used_only_with_the_connection_and_key_never_logged(api, lake_root, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    proxy = _FakeProxyApi()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    path = "/v1/" if api == "scrapeops" else "/v1/extract"
    monkeypatch.setenv("AIRFLOW_CONN_INDEED_PROXY", json.dumps({
        "conn_type": "http", "password": PROXY_KEY,
        "extra": {"api": api, "endpoint": f"http://127.0.0.1:{proxy.server_address[1]}{path}"}}))
    try:
        with sandbox_server() as url:
            manifest = scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], base_url=url,
                                     settings={"LOG_LEVEL": "DEBUG"})
    finally:
        proxy.shutdown()
        proxy.server_close()
    # every request went through the proxy API, and the spider saw the target pages
    assert len(proxy.calls) == manifest["requests"] and set(proxy.calls) == {api}
    assert manifest["postings"] + manifest["quarantined"] == 12 and manifest["retries"] == 1
    records = list(read_partition(partition(lake_root, "raw", "indeed", DAY)))
    assert all(r["url"].startswith(url) for r in records)
    assert "Crawled (200)" in caplog.text  # DEBUG request lines were relayed ...
    assert PROXY_KEY not in caplog.text  # ... without the key
    quarantined = [line for file in list_files(partition(lake_root, "quarantine", "indeed", DAY))
                   for _, line in read_jsonl_gz(file)]
    assert len(quarantined) == manifest["quarantined"] > 0
    for zone in ("raw", "quarantine"):
        for file in list_files(partition(lake_root, zone, "indeed", DAY)):
            assert all(PROXY_KEY not in line for _, line in read_jsonl_gz(file))
    # quarantined pages are recorded with the page's own URL, not the proxy's
    assert all(json.loads(line)["url"].startswith(url) for line in quarantined if json.loads(line)["url"])


def test_no_connection_means_direct_requests(monkeypatch):
    from scrapers.indeed.run import proxy_environment

    monkeypatch.delenv("AIRFLOW_CONN_INDEED_PROXY", raising=False)
    assert proxy_environment() == {}
    monkeypatch.setenv("AIRFLOW_CONN_INDEED_PROXY", json.dumps({"conn_type": "http", "extra": {"api": "zyte"}}))
    assert proxy_environment() == {}  # a connection without a key does not enable the proxy


class _AlwaysBlocked(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        from scrapers.indeed.sandbox import captcha_page

        body = captcha_page().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def test_a_crawl_blocked_throughout_fails_and_keeps_the_previous_snapshot(lake_root, sandbox_url):
    good = scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], base_url=sandbox_url, max_pages=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AlwaysBlocked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match=r"collected nothing \(3 block pages, 1 errors\)"):
            scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"],
                          base_url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert len(list(read_partition(partition(lake_root, "raw", "indeed", DAY)))) == good["postings"]
