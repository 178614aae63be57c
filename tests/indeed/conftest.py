"""Fixtures for the Indeed tests: the sandbox over real HTTP, one shared crawl of its day."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobreqs.config import PROJECT_ROOT
from scrapers.indeed.run import LOOPBACK_SETTINGS
from scrapers.indeed.sandbox import sandbox_server

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SANDBOX_KEYWORDS = ["data scientist", "data analyst", "data engineer"]
#: The date the tests' sandbox serves and the crawls collect (yesterday: a whole day, in the past).
SANDBOX_DAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def run_crawl(out_dir: Path, base_url: str, keywords: list[str], locations: list[str] = ("remote",),
              extra: list[str] = (), day: dt.date = SANDBOX_DAY) -> subprocess.CompletedProcess:
    """The crawl entry point as scrape_indeed starts it: a real subprocess, real HTTP."""
    command = [sys.executable, "-m", "scrapers.indeed.crawl", "--out", str(out_dir), "--base-url", base_url,
               "--day", day.isoformat()]
    command += [a for k in keywords for a in ("--keyword", k)]
    command += [a for loc in locations for a in ("--location", loc)]
    command += [a for name, value in LOOPBACK_SETTINGS.items() for a in ("--set", f"{name}={json.dumps(value)}")]
    command += list(extra)
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def sandbox_url():
    with sandbox_server(day=SANDBOX_DAY) as url:
        yield url


@pytest.fixture(scope="module")
def sandbox_crawl(sandbox_url, tmp_path_factory) -> dict:
    """One full crawl of the sandbox day: its output folder, manifest, postings, quarantine, log."""
    out = tmp_path_factory.mktemp("indeed-crawl")
    result = run_crawl(out, sandbox_url, SANDBOX_KEYWORDS)
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        "out": out,
        "log": result.stderr,
        "manifest": json.loads((out / "manifest.json").read_text()),
        "postings": read_jsonl_gz(out / "postings.jsonl.gz"),
        "quarantine": read_jsonl_gz(out / "quarantine.jsonl.gz"),
        "base_url": sandbox_url,
    }
