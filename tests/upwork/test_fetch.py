"""upwork_fetch against the sandbox: the whole window once, boundaries, re-runs, quarantine."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import psycopg
import pytest

from jobreqs import lake
from jobreqs.schemas import UpworkRawJob
from scrapers.upwork.fetch import upwork_fetch, window
from tests.upwork.conftest import DAY, truth


def _raw_records(root, day=DAY) -> list[dict]:
    return list(lake.read_partition(lake.partition(root, "raw", "upwork", day)))


def _quarantined(root, day=DAY) -> list[dict]:
    path = lake.partition(root, "quarantine", "upwork", day) / "fetch.jsonl.gz"
    return [json.loads(line) for _, line in lake.read_jsonl_gz(path)] if path.exists() else []


def _db_ids(conninfo) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM jobreqs.upwork_jobs ORDER BY id")]


def test_small_day_every_job_once_with_boundaries(upwork_sandbox, lake_root, warehouse):
    url = upwork_sandbox(malformed_rate=0.03)
    result = upwork_fetch(lake_root, DAY)
    expected = truth(url)
    records = _raw_records(lake_root)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "a job was written twice"
    assert set(ids) == set(expected["window_ids"])
    assert expected["pending_arrivals"] < 18, "jobs must have arrived while paging"
    start, end = window(DAY)
    for record in records:
        job = UpworkRawJob.model_validate(record)
        assert start <= job.published_at < end
    assert start.isoformat().replace("+00:00", "") in {r["published_at"].replace("Z", "").replace("+00:00", "") for r in records}
    assert sorted(_db_ids(warehouse)) == sorted(ids)
    assert result["fetched"] == len(ids) and result["inserted"] == len(ids) and result["updated"] == 0
    assert result["covered"] is True
    bad = _quarantined(lake_root)
    assert len(bad) == len(expected["malformed"]) == result["quarantined"] > 0
    assert all(b["reason"] for b in bad)
    # nothing lost: every job of the window is either written or quarantined
    assert len(ids) + len(bad) == len(expected["window_ids"]) + len(expected["malformed"])
    assert "token" not in json.dumps(result).lower() or "token_refreshes" in json.dumps(result)


def test_print_result(upwork_sandbox, lake_root, warehouse, capsys):
    upwork_sandbox(malformed_rate=0.03)
    result = upwork_fetch(lake_root, DAY)
    with capsys.disabled():
        print(result)
        for b in _quarantined(lake_root):
            print(b["reason"])
