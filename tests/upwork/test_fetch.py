"""upwork_fetch against the sandbox: the whole window once, boundaries, re-runs, quarantine."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from jobreqs import lake
from jobreqs.schemas import UpworkRawJob
from scrapers.upwork.fetch import upwork_fetch, window
from tests.upwork.conftest import DAY, set_clock, truth


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
    # the job published exactly on the window's start belongs to the day, the one on its end does not
    malformed = {m["id"] for m in expected["malformed"]}
    assert expected["start_id"] in set(ids) | malformed and expected["end_id"] not in ids
    assert sorted(_db_ids(warehouse)) == sorted(ids)
    assert result["fetched"] == len(ids) and result["inserted"] == len(ids) and result["updated"] == 0
    assert result["covered"] is True and result["coverage"] == 1.0 and result["capped"] is False
    bad = _quarantined(lake_root)
    assert len(bad) == len(expected["malformed"]) == result["quarantined"] > 0
    assert all(b["reason"] for b in bad)
    # nothing lost: every job of the window is either written or quarantined
    assert len(ids) + len(bad) == len(expected["window_ids"]) + len(expected["malformed"])
    with psycopg.connect(warehouse) as conn:
        (token,) = conn.execute("SELECT access_token FROM jobreqs_private.upwork_tokens").fetchone()
    assert token not in json.dumps(result)  # the result goes to XCom: plain JSON, no secret


def test_rerun_of_the_date_is_idempotent(upwork_sandbox, lake_root, warehouse):
    from scrapers.upwork.enrich import upwork_enrich

    upwork_sandbox(jobs=200, arrivals=3, late_arrivals=2, malformed_rate=0.02, fast_fail_rate=0, both_fail_rate=0)
    first = upwork_fetch(lake_root, DAY)
    upwork_enrich(limit=50)
    with psycopg.connect(warehouse) as conn:
        enriched_before = conn.execute(
            "SELECT id, enriched_at FROM jobreqs.upwork_jobs WHERE enriched_at IS NOT NULL ORDER BY id").fetchall()
    second = upwork_fetch(lake_root, DAY)
    assert second["inserted"] == 0 and second["updated"] == first["fetched"] == second["fetched"]
    assert second["quarantined"] == first["quarantined"] > 0
    raw_dir = lake.partition(lake_root, "raw", "upwork", DAY)
    assert [p.name for p in lake.list_files(raw_dir)] == ["part-0000.jsonl.gz"]
    assert len(_raw_records(lake_root)) == first["fetched"]
    assert len(_quarantined(lake_root)) == first["quarantined"]
    assert len(_db_ids(warehouse)) == first["fetched"]
    with psycopg.connect(warehouse) as conn:
        # a re-fetch keeps what enrichment did
        assert conn.execute(
            "SELECT id, enriched_at FROM jobreqs.upwork_jobs WHERE enriched_at IS NOT NULL ORDER BY id").fetchall() == enriched_before
        assert conn.execute("SELECT count(DISTINCT first_seen_date) FROM jobreqs.upwork_jobs").fetchone()[0] == 1


def test_429_bursts_and_503s_are_waited_out(upwork_sandbox, lake_root, warehouse):
    url = upwork_sandbox(burst_every=4, burst_length=2, retry_after="0.05", error_rate=0.05)
    result = upwork_fetch(lake_root, DAY)
    counts = truth(url)["counts"]
    assert counts["status_429"] > 0 and result["retries"] >= counts["status_429"]
    ids = [r["id"] for r in _raw_records(lake_root)]
    assert len(ids) == len(set(ids)) and set(ids) == set(truth(url)["window_ids"])


def test_a_6000_job_day_in_one_daily_pass_stops_at_the_offset_cap_and_says_how_much_it_covered(
        upwork_sandbox, lake_root, warehouse):
    """The sandbox's full day (~6,000 jobs, 60 more arriving during paging, 429 bursts): Upwork
    serves nothing past offset 5,000, so one pass cannot reach the start of the day."""
    url = upwork_sandbox(jobs=5_960, arrivals=40, late_arrivals=20, before=120,
                         burst_every=50, burst_length=2, retry_after="0.05")
    result = upwork_fetch(lake_root, DAY)
    expected = truth(url)
    ids = [r["id"] for r in _raw_records(lake_root)]
    assert len(ids) == len(set(ids)) == result["fetched"]
    assert set(ids) < set(expected["window_ids"]) and len(ids) < 5_000
    assert result["covered"] is False and result["capped"] is True
    assert 0.6 < result["coverage"] < 0.95
    start = window(DAY)[0]
    assert len(result["gaps"]) == 1 and result["gaps"][0][0] == start.isoformat()  # the day's first hours
    assert expected["counts"]["graphql_errors"] == 0  # it never asked past the cap


def test_hourly_sweeps_collect_the_whole_day_that_one_pass_cannot(upwork_sandbox, lake_root, warehouse):
    """The day played hour by hour (the sandbox's clock): a sweep an hour takes the newest jobs,
    deduplicated by id, into their days' partitions; the daily fetch then holds every job of the
    day and reports full coverage, though its own pass stopped at the cap."""
    from scrapers.upwork.fetch import upwork_sweep

    start, end = window(DAY)
    url = upwork_sandbox(jobs=5_960, arrivals=40, late_arrivals=20, before=120, clock=start, malformed_rate=0.002)
    sweeps = []
    for hour in range(1, 25):
        set_clock(url, start + dt.timedelta(hours=hour, minutes=5))
        sweeps.append(upwork_sweep(lake_root))
    assert all(s["reached_known"] for s in sweeps[1:]) and not any(s["capped"] for s in sweeps)
    raw_dir = lake.partition(lake_root, "raw", "upwork", DAY)
    assert len([p for p in lake.list_files(raw_dir) if p.name.startswith("sweep-")]) >= 23
    set_clock(url, end + dt.timedelta(hours=1))
    result = upwork_fetch(lake_root, DAY)
    expected = truth(url)
    ids = [r["id"] for r in _raw_records(lake_root)]
    assert len(ids) == len(set(ids)) and set(ids) == set(expected["window_ids"])  # every job, once
    assert result["capped"] is True and result["swept"] > 900  # what only the sweeps had
    assert result["coverage"] == 1.0 and result["gaps"] == [] and result["sweeps"] >= 24
    # the partition is consolidated into one file; the sweeps' rejects stay with their reason
    assert [p.name for p in lake.list_files(raw_dir)] == ["part-0000.jsonl.gz"]
    assert len(_db_ids(warehouse)) == len(set(_db_ids(warehouse)))
    # a re-run of the day loses nothing the sweeps brought
    again = upwork_fetch(lake_root, DAY)
    assert {r["id"] for r in _raw_records(lake_root)} == set(ids) and again["coverage"] == 1.0


def test_retry_after_forms():
    import datetime as dt

    from scrapers.upwork.api import retry_after_seconds

    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("0.25", now) == 0.25
    assert retry_after_seconds("Fri, 20 Nov 2026 12:00:07 GMT", now) == 7.0
    assert retry_after_seconds("Fri, 20 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds(None, now) is None and retry_after_seconds("soon", now) is None


def test_unusable_search_answer_fails_loudly(upwork_sandbox, lake_root, warehouse, monkeypatch):
    from scrapers.upwork.api import UpworkApiError

    upwork_sandbox()
    monkeypatch.setattr("scrapers.upwork.api.VISITOR_SEARCH_QUERY", "query { somethingElse }")
    # as GraphQL answers it: HTTP 200 and errors[], here a validation error in graphql-java's words
    with pytest.raises(UpworkApiError, match=r"Validation error \(FieldUndefined\) : Field 'somethingElse'"):
        upwork_fetch(lake_root, DAY)
    assert not lake.list_files(lake.partition(lake_root, "raw", "upwork", DAY))


def test_raw_records_flow_on_through_normalise(upwork_sandbox, lake_root, warehouse):
    from transforms.normalise import normalise_day

    upwork_sandbox(jobs=80, arrivals=2, late_arrivals=1, before=5, malformed_rate=0)
    fetched = upwork_fetch(lake_root, DAY)
    stats = normalise_day(lake_root, DAY, sources=("upwork",))
    assert stats["postings"]["upwork"] == fetched["fetched"] and stats["quarantined"]["upwork"] == 0
    postings = list(lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
    assert {p["source_id"] for p in postings} == {r["id"] for r in _raw_records(lake_root)}
    assert all(p["url"].startswith("https://www.upwork.com/jobs/~") and p["skills"] for p in postings)


def test_backfill_of_an_old_date_keeps_its_snapshot(upwork_sandbox, lake_root, warehouse):
    old = DAY - dt.timedelta(days=10)
    upwork_sandbox(day=old, jobs=60, arrivals=0, late_arrivals=0, before=5, malformed_rate=0)
    first = upwork_fetch(lake_root, old)  # no snapshot yet: fetched
    assert first["skipped"] is False and first["fetched"] == 60
    before = _raw_records(lake_root, old)
    again = upwork_fetch(lake_root, old)
    assert again["skipped"] is True and "kept that snapshot" in again["message"]
    assert _raw_records(lake_root, old) == before


def test_the_daily_task_records_how_much_of_the_day_was_read(upwork_sandbox, lake_root, warehouse):
    """A search that stops short of the day's start (here a sandbox whose results end at offset
    100): pipeline_runs says how much of the day was read, and what to do."""
    from jobreqs.pipeline import RunContext, run_upwork_fetch

    upwork_sandbox(jobs=300, arrivals=0, late_arrivals=0, before=5, offset_cap=100, malformed_rate=0)
    stats = run_upwork_fetch(RunContext(run_id="manual__coverage", day=DAY))
    assert stats["covered"] is False and 0.1 < stats["coverage"] < 0.6 and stats["fetched"] == 100
    with psycopg.connect(warehouse) as conn:
        status, message, recorded = conn.execute(
            """SELECT status, message, stats FROM jobreqs.pipeline_runs
               WHERE run_id = 'manual__coverage' AND stage = 'upwork_fetch'""").fetchone()
    assert status == "success" and recorded["coverage"] == stats["coverage"] and recorded["gaps"]
    assert message.startswith(f"covered {stats['coverage']:.0%} of the day") and "jobreqs_upwork_sweep" in message
