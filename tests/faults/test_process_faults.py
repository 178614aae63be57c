"""Cases 7 and 8 of issue 11: real processes killed with SIGKILL in the middle of their work.

Each starts the stage in a child process (the same code a task runs), waits until it is
demonstrably mid-way, kills it with ``kill -9``, then runs the stage again at once and checks
that nothing was lost or doubled and nothing was left behind.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from jobreqs import lake, temporaries
from jobreqs.config import PROJECT_ROOT
from tests.faults.conftest import DAY, UPWORK_DAY, figures


def _child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` holds (fail if it ends or never gets there)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"the child ended before it could be killed:\n{process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the child never reached the point where it is killed")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The system temp folder of this test and its children (work folders are swept there)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def enrich_day(upwork_day, lake_root, warehouse):
    """A fetched Upwork day whose job details answer slowly (a worker is killed mid-way)."""
    from scrapers.upwork.fetch import upwork_fetch

    url = upwork_day(jobs=120, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=0,
                     both_fail_rate=0, details_latency=0.05)
    upwork_fetch(lake_root, UPWORK_DAY)
    return url


def _jobs(conninfo: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT id, enrich_tries, enriched_at IS NOT NULL, enrich_claimed_until IS NOT NULL "
                            "FROM jobreqs.upwork_jobs ORDER BY id").fetchall()


def test_case7_a_killed_enrich_leaves_no_lease_that_blocks_a_rerun_and_costs_no_try(enrich_day, warehouse):
    from scrapers.upwork.enrich import upwork_enrich

    child = _child("""
        from scrapers.upwork.enrich import upwork_enrich
        upwork_enrich(limit=1000, concurrency=2, run_key="run-1")
    """)

    def leased_and_working() -> bool:
        rows = _jobs(warehouse)
        return sum(r[3] for r in rows) >= 50 and sum(r[2] for r in rows) >= 5

    _kill_when(child, leased_and_working)
    before = _jobs(warehouse)
    leased = sum(r[3] for r in before)
    done_before = sum(r[2] for r in before)
    assert leased > 0, "the killed worker held leases"
    # The re-run of the same date starts at once: the dead worker's leases are free.
    started = time.monotonic()
    again = upwork_enrich(limit=1000, concurrency=8, run_key="run-1-retry")
    after = _jobs(warehouse)
    with psycopg.connect(warehouse) as conn:
        clients = conn.execute("SELECT count(*), count(DISTINCT job_id) FROM jobreqs.upwork_clients").fetchone()
    assert all(r[2] for r in after), "a job was left behind by the killed worker's lease"
    assert all(r[1] == 1 for r in after), "a try was lost to the killed worker (or a job was tried twice)"
    assert not any(r[3] for r in after) and clients == (120, 120)
    assert again["claimed"] == 120 - done_before and again["leases_released"] == 0
    figures("case7-kill", jobs=120, enriched_before_kill=done_before, leases_held_by_dead_worker=leased,
            rerun_claimed=again["claimed"], rerun_seconds=round(time.monotonic() - started, 1),
            tries_lost=sum(r[1] != 1 for r in after), doubled=clients[0] - clients[1])


def test_case7_workers_of_one_run_share_their_failures(upwork_day, lake_root, warehouse):
    from scrapers.upwork.enrich import upwork_enrich
    from scrapers.upwork.fetch import upwork_fetch
    from tests.upwork.conftest import truth

    url = upwork_day(jobs=200, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=0,
                             both_fail_rate=0.1, details_latency=0.01)
    upwork_fetch(lake_root, UPWORK_DAY)
    failing = set(truth(url)["fails_both"])
    assert failing
    # Two workers of the same run, one after the other: the second must not retry the first's failures.
    first = upwork_enrich(limit=1000, concurrency=4, run_key="run-A")
    second = upwork_enrich(limit=1000, concurrency=4, run_key="run-A")
    # And two at once, of another run.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        both = [f.result() for f in [pool.submit(upwork_enrich, 1000, 4, 5, "run-B") for _ in range(2)]]
    tries = {r[0]: r[1] for r in _jobs(warehouse)}
    assert first["failed"] == len(failing) and second["claimed"] == 0
    assert sum(r["claimed"] for r in both) == len(failing)  # once per run, shared by its workers
    assert all(tries[j] == 2 for j in failing)
    figures("case7-failure-memory", failing=len(failing), second_worker_same_run_claimed=second["claimed"],
            concurrent_workers_claimed=sum(r["claimed"] for r in both))


def test_case7_a_clean_exit_after_an_error_releases_its_leases(enrich_day, warehouse, monkeypatch):
    from scrapers.upwork import enrich

    calls = {"n": 0}
    original = enrich.record

    def record_then_fail(outcomes, run_key=""):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the warehouse went away")
        return original(outcomes, run_key)

    monkeypatch.setattr(enrich, "record", record_then_fail)
    with pytest.raises(RuntimeError):
        enrich.upwork_enrich(limit=1000, concurrency=2)
    rows = _jobs(warehouse)
    assert [r for r in rows if r[3]] == [], "a worker that stopped on an error kept leases"
    done = sum(r[2] for r in rows)
    monkeypatch.setattr(enrich, "record", original)
    again = enrich.upwork_enrich(limit=1000, concurrency=4)
    assert all(r[2] for r in _jobs(warehouse)) and again["claimed"] == 120 - done


def test_case8_a_killed_lake_write_leaves_a_temporary_the_next_write_sweeps(lake_root):
    target = lake.partition(lake_root, "staging", "postings", DAY)
    child = _child(f"""
        import time
        from jobreqs import lake
        def slow():
            for i in range(10_000):
                time.sleep(0.01)
                yield {{"n": i}}
        lake.replace_partition(lake.lake_root() / {str(target.relative_to(lake_root))!r}, slow())
    """)
    _kill_when(child, lambda: target.exists() and any(p.name.endswith(".tmp") for p in target.iterdir()))
    left = [p.name for p in target.iterdir() if p.name.endswith(".tmp")]
    assert left and all(temporaries.MARK in name for name in left)
    lake.replace_partition(target, [{"n": 1}, {"n": 2}])  # the stage's next run
    names = sorted(p.name for p in target.iterdir())
    assert names == ["part-0000.jsonl.gz"] and list(lake.read_partition(target)) == [{"n": 1}, {"n": 2}]
    figures("case8-lake", temporaries_left_by_kill=len(left), after_next_run=0)


def test_case8_a_killed_upwork_fetch_leaves_a_folder_the_next_fetch_sweeps(upwork_day, lake_root, warehouse,
                                                                            private_tmp):
    from scrapers.upwork.fetch import upwork_fetch
    from tests.upwork.conftest import truth

    url = upwork_day(jobs=2_000, arrivals=0, late_arrivals=0, before=10, malformed_rate=0, burst_every=20,
                             burst_length=1, retry_after="0.3")
    root = temporaries.work_root("upwork_fetch")
    child = _child(f"""
        import datetime as dt
        from scrapers.upwork.fetch import upwork_fetch
        upwork_fetch(None, dt.date.fromisoformat({UPWORK_DAY.isoformat()!r}))
    """)
    _kill_when(child, lambda: root.exists() and any(root.iterdir()))
    left = list(root.iterdir())
    assert len(left) == 1 and str(child.pid) in left[0].name
    result = upwork_fetch(lake_root, UPWORK_DAY)
    assert list(root.iterdir()) == [], "the killed fetch's folder is still there"
    ids = [r["id"] for r in lake.read_partition(lake.partition(lake_root, "raw", "upwork", UPWORK_DAY))]
    assert len(ids) == len(set(ids)) and set(ids) == set(truth(url)["window_ids"]) and result["fetched"] == 2_000
    figures("case8-upwork-fetch", folders_left_by_kill=len(left), after_next_run=0, fetched=result["fetched"])


def test_case8_a_killed_indeed_scrape_leaves_a_folder_the_next_scrape_sweeps(lake_root, private_tmp):
    from scrapers.indeed.run import scrape_indeed
    from scrapers.indeed.sandbox import SandboxIndeed, load_day, sandbox_server

    keywords = ["data scientist", "data analyst", "data engineer"]
    root = temporaries.work_root("scrape_indeed")
    with sandbox_server() as url:
        child = _child(f"""
            import datetime as dt
            from jobreqs import lake
            from scrapers.indeed.run import scrape_indeed
            scrape_indeed(lake.lake_root(), dt.date.fromisoformat({DAY.isoformat()!r}), {keywords!r}, ["remote"],
                          base_url={url!r}, settings={{"DOWNLOAD_DELAY": 0.5}})
        """)
        _kill_when(child, lambda: root.exists() and any(d.glob("*") for d in root.iterdir()))
        time.sleep(1.0)  # the crawl child dies with its parent (no orphan keeps writing)
        left = list(root.iterdir())
        crawlers = subprocess.run(["pgrep", "-f", f"scrapers.indeed.crawl --out {left[0]}"], capture_output=True,
                                  text=True).stdout.split()
        manifest = scrape_indeed(lake_root, DAY, keywords, ["remote"], base_url=url)
    assert len(left) == 1 and crawlers == []
    assert list(root.iterdir()) == [], "the killed crawl's folder is still there"
    expected = SandboxIndeed(load_day()).expected
    assert manifest["postings"] + manifest["quarantined"] == len(expected["keywords"])
    figures("case8-indeed", folders_left_by_kill=len(left), orphan_crawlers=len(crawlers), after_next_run=0)
