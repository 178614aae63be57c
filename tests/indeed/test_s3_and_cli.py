"""scrape_indeed into an S3 lake (moto's S3 server over HTTP), the indeed-parse command, and the
middlewares' small pieces."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys

import boto3

from jobreqs.config import PROJECT_ROOT
from jobreqs.lake import lake_root as make_lake_root
from jobreqs.lake import list_files, partition, read_partition, write_jsonl_gz
from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.middlewares import RotatingHeadersMiddleware, backoff_delay
from scrapers.indeed.run import scrape_indeed

from .conftest import FIXTURES

DAY = dt.date(2026, 11, 21)
BUCKET = "jobreqs-indeed-test"


def test_scrape_indeed_into_s3_replaces_the_snapshot(s3_endpoint, sandbox_url, monkeypatch):
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}}))
    client = boto3.client("s3", endpoint_url=s3_endpoint, **creds)
    client.create_bucket(Bucket=BUCKET)
    root = make_lake_root(f"s3://{BUCKET}/lake")
    assert root.protocol == "s3"
    # a snapshot from an earlier run, with another file name: the run must replace it, not add to it
    raw_dir = partition(root, "raw", "indeed", DAY)
    write_jsonl_gz(raw_dir / "part-old.jsonl.gz", [{"job_key": "stale"}])
    write_jsonl_gz(partition(root, "quarantine", "indeed", DAY) / "part-old.jsonl.gz", [{"job_key": "stale"}])
    manifest = scrape_indeed(root, DAY, ["data engineer"], ["remote"], base_url=sandbox_url)
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [
        "lake/quarantine/indeed/dt=2026-11-21/part-0000.jsonl.gz",
        "lake/raw/indeed/dt=2026-11-21/_manifest.json",
        "lake/raw/indeed/dt=2026-11-21/part-0000.jsonl.gz",
    ]
    records = list(read_partition(partition(root, "raw", "indeed", DAY)))
    assert len(records) == manifest["postings"] and manifest["postings"] + manifest["quarantined"] == 12 + 1  # + the day's ad
    for record in records:
        IndeedRawPosting.model_validate(record)
    assert manifest["raw_path"].startswith("s3://") and manifest["raw_path"].endswith(f"{BUCKET}/lake/raw/indeed/dt=2026-11-21")
    assert len(list_files(partition(root, "quarantine", "indeed", DAY))) == 1


def _indeed_parse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobreqs.cli", "indeed-parse", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_indeed_parse_prints_cards_postings_and_quarantine_reasons():
    result = _indeed_parse(str(FIXTURES / "search_model.html"), str(FIXTURES / "job_model.html"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    cards = [r for r in lines if r["kind"] == "card"]
    postings = [r for r in lines if r["kind"] == "posting"]
    assert len(cards) == 12 and all(c["source"] == "model" and c["total"] == 23 for c in cards)
    assert [c["sponsored"] for c in cards] == [True, True] + [False] * 10
    assert len(postings) == 1 and postings[0]["description_text"] and "description_html" not in postings[0]
    assert postings[0]["url"] == f"https://www.indeed.com/viewjob?jk={postings[0]['job_key']}"

    result = _indeed_parse(str(FIXTURES / "job_truncated_json.html"), str(FIXTURES / "captcha.html"),
                           str(FIXTURES / "job_non_utf8.html"), str(FIXTURES / "job_dom_only.html"))
    assert result.returncode == 1  # something was quarantined
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in lines] == ["quarantine", "quarantine", "quarantine", "posting"]
    assert lines[0]["reason"].startswith("truncated or invalid embedded JSON")
    assert lines[1]["reason"] == "block page: hCaptcha solve page"
    assert lines[2]["reason"].startswith("non-UTF-8 bytes at offset")

    missing = _indeed_parse(str(FIXTURES / "no-such-page.html"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_backoff_grows_honours_retry_after_and_is_capped():
    rng = random.Random(1)
    delays = [backoff_delay(n, 2.0, 60.0, rng=rng) for n in (1, 2, 3, 4)]
    assert 1.5 <= delays[0] <= 2.5 and 6.0 <= delays[2] <= 10.0 and delays == sorted(delays)
    assert backoff_delay(1, 2.0, 60.0, retry_after="30", rng=rng) == 30.0
    assert backoff_delay(1, 2.0, 60.0, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", rng=rng) <= 2.5
    assert backoff_delay(10, 2.0, 60.0, retry_after="600", rng=rng) == 60.0


def test_rotating_headers_change_browser_between_requests():
    from scrapy import Request

    middleware = RotatingHeadersMiddleware(seed=3)
    agents = set()
    for _ in range(30):
        request = Request("https://www.indeed.com/jobs?q=x")
        middleware.process_request(request)
        agents.add(request.headers["User-Agent"])
        assert request.headers["Accept-Language"] and request.headers["Accept"].startswith(b"text/html")
    assert len(agents) >= 4
