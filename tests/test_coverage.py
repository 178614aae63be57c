"""Coverage beside every figure: the collection tasks record it, the mart sets it beside its usual
level, and a simulated block (the sandbox Indeed challenging its search pages past the first, as
Cloudflare does once it has flagged a crawl's paging) shows as a warning on the trends page.

Real parts: the Indeed sandbox over HTTP, the spider in its subprocess, the warehouse in Postgres,
the page's app over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from jobreqs import coverage
from jobreqs.pipeline import RunContext, run_scrape_indeed
from scrapers.indeed.sandbox import sandbox_server

KEYWORDS = ["data scientist", "data analyst", "data engineer"]
NORMAL_DAY = dt.date(2026, 11, 3)
BLOCK_WEEK = [dt.date(2026, 11, 10) + dt.timedelta(days=n) for n in range(3)]


def _crawl(monkeypatch, day: dt.date, blocked_share: float = 0.0) -> dict:
    """The daily DAG's scrape_indeed task for ``day`` on a sandbox serving that date."""
    with sandbox_server(day=day, blocked_share=blocked_share) as url:
        monkeypatch.setenv("JOBREQS_INDEED_BASE_URL", url)
        return run_scrape_indeed(RunContext(run_id=f"test-{day}", day=day,
                                            params={"keywords": KEYWORDS, "locations": ["remote"]}))


@pytest.fixture
def block_week(warehouse, lake_root, monkeypatch):
    """A week of usual days, then a block: the two crawls are real; the usual days' rows are the
    normal crawl's own figures recorded for the dates before it (the mart needs 3 or more)."""
    from jobreqs.warehouse import migrate

    migrate(warehouse)
    normal = _crawl(monkeypatch, NORMAL_DAY)
    blocked = _crawl(monkeypatch, BLOCK_WEEK[0], blocked_share=1.0)
    with psycopg.connect(warehouse) as conn:
        usual_row = coverage.indeed_row(normal)
        for n in range(1, 7):
            coverage.record(conn, "indeed", NORMAL_DAY - dt.timedelta(days=n), "history", usual_row)
        for day in BLOCK_WEEK[1:]:
            coverage.record(conn, "indeed", day, "block", coverage.indeed_row(blocked))
        # Upwork read its whole window every day: the 'all' rows still flag the Indeed block.
        for n in range(-6, 10):
            coverage.record(conn, "upwork", NORMAL_DAY + dt.timedelta(days=n), "upwork",
                            coverage.upwork_row({"fetched": 60, "quarantined": 1, "coverage": 1.0}))
    return normal, blocked


def test_a_block_lowers_coverage_the_mart_flags_the_dates_and_the_page_warns(block_week, warehouse):
    """(One test: the two crawls are its cost.)"""
    normal, blocked = block_week
    # the manifests carry what coverage needs: totals reported, cards listed, pages blocked
    assert normal["blocked"] <= 2 and normal["reported_total"] == normal["reachable_total"] > 0
    assert blocked["blocked"] >= 3 and blocked["blocked_lost"] >= 1 and blocked["stop_message"] is None
    assert blocked["organic_cards_of_counted"] < blocked["reachable_total"]
    assert blocked["postings"] < normal["postings"]

    with psycopg.connect(warehouse, row_factory=dict_row) as conn:
        rows = {(r["source"], r["coverage_date"]): r for r in coverage.rows(conn, NORMAL_DAY - dt.timedelta(days=6),
                                                                             BLOCK_WEEK[-1])}
        runs = conn.execute("SELECT count(*) AS n FROM jobreqs.pipeline_runs WHERE stage = 'scrape_indeed'").fetchone()
    assert runs["n"] == 2
    usual = rows[("indeed", NORMAL_DAY.isoformat())]
    assert usual["collected"] == normal["postings"] and usual["reported"] == normal["reported_total"]
    assert 0.8 <= usual["coverage"] <= 1.0 and not usual["below_usual"]
    assert usual["usual_days"] == 6 and usual["usual_coverage"] == usual["coverage"]
    for day in BLOCK_WEEK:
        row = rows[("indeed", day.isoformat())]
        assert row["coverage"] < 0.8 * usual["coverage"], row
        assert row["below_usual"] and row["usual_coverage"] == usual["coverage"]
        assert row["blocked"] == blocked["blocked"] and row["collected"] == blocked["postings"]
        every = rows[("all", day.isoformat())]
        assert every["below_usual"] and every["coverage"] == row["coverage"]
        assert every["collected"] == row["collected"] + 60
        assert not rows[("upwork", day.isoformat())]["below_usual"]
    # a date with only two earlier dates has no usual level yet: no warning
    first_upwork = rows[("upwork", (NORMAL_DAY - dt.timedelta(days=6)).isoformat())]
    assert first_upwork["usual_days"] == 0 and not first_upwork["below_usual"]
    _page_warns_on_the_block_week()


def _page_warns_on_the_block_week():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from jobreqs.sandbox_month import trends_page

    query = f"?start={NORMAL_DAY - dt.timedelta(days=6)}&end={BLOCK_WEEK[-1]}"
    with trends_page() as url:
        with urllib.request.urlopen(url + "api/trends" + query, timeout=60) as answer:
            data = json.loads(answer.read())
        with urllib.request.urlopen(url + query, timeout=60) as answer:
            html = answer.read().decode()
        with urllib.request.urlopen(url + "api/trends" + query + "&source=upwork", timeout=60) as answer:
            upwork_only = json.loads(answer.read())
    warned = {(w["source"], w["coverage_date"]) for w in data["coverage_warnings"]}
    assert warned == {("indeed", d.isoformat()) for d in BLOCK_WEEK}
    assert [r["source"] for r in data["coverage"]] == ["all"] * 16  # the strip: one bar a day
    assert 'id="coverage-warnings"' in html
    for day in BLOCK_WEEK:
        assert f'data-day="{day}" data-source="indeed"' in html
    assert upwork_only["coverage_warnings"] == []  # another source's block is not this slice's


OPEN_DAY = dt.date(2026, 11, 4)


def test_open_sources_record_their_coverage_and_a_failed_date(warehouse, lake_root, monkeypatch):
    """collect_hn and collect_greenhouse (the tasks' own functions) against their sandboxes write
    one source_coverage row each; HN pointed at a server that is not its API fails and records the
    date as failed; the 'all' rows sum them and take the weakest."""
    from jobreqs.pipeline import run_collect_ats, run_collect_hn
    from scrapers.ats.sandbox import MISSING, SANDBOX_BOARDS, BoardsSandbox
    from scrapers.ats.sandbox import sandbox_server as ats_sandbox
    from scrapers.hn.sandbox import HNSandbox
    from scrapers.hn.sandbox import sandbox_server as hn_sandbox
    from scrapers.open_http import CollectionFailed

    params = {"sources": ["hn", "greenhouse"], "ats_boards": SANDBOX_BOARDS, "ats_min_interval": 0}
    ctx = RunContext(run_id="open", day=OPEN_DAY, params=params)
    failed_day = OPEN_DAY + dt.timedelta(days=1)
    with hn_sandbox(day=OPEN_DAY, faults=False) as url:
        monkeypatch.setenv("JOBREQS_HN_BASE_URL", url)
        hn = run_collect_hn(ctx)
    with ats_sandbox("greenhouse", day=OPEN_DAY) as url:  # its first board answers a 429 once
        monkeypatch.setenv("JOBREQS_GREENHOUSE_BASE_URL", url)
        greenhouse = run_collect_ats(ctx, "greenhouse")
        monkeypatch.setenv("JOBREQS_HN_BASE_URL", url)  # not HN's API: the user is a 404
        with pytest.raises(CollectionFailed, match="HTTP 404"):
            run_collect_hn(RunContext(run_id="open-failed", day=failed_day, params=params))

    with psycopg.connect(warehouse, row_factory=dict_row) as conn:
        stored = {(r["source"], r["coverage_date"]): r for r in conn.execute(
            "SELECT * FROM jobreqs.source_coverage ORDER BY source, coverage_date")}
        daily = {(r["source"], r["coverage_date"]): r for r in coverage.rows(conn, OPEN_DAY, failed_day)}
    assert set(stored) == {("hn", OPEN_DAY), ("greenhouse", OPEN_DAY), ("hn", failed_day)}

    expected = HNSandbox(OPEN_DAY).comments_on(OPEN_DAY)
    row = stored[("hn", OPEN_DAY)]
    assert (row["status"], row["run_id"]) == ("collected", "open")
    assert row["listed"] == row["reported"] == hn["listed"] == sum(expected.values())
    assert row["collected"] == expected["postings"] > 10 and row["quarantined"] == expected["empty"] > 0
    assert (row["blocked"], row["blocked_lost"], row["cap_hit"]) == (0, 0, False)
    assert float(row["coverage"]) == pytest.approx(
        (expected["postings"] + expected["deleted"] + expected["dead"]) / row["listed"], abs=1e-4)
    assert 0 < float(row["coverage"]) < 1 and row["detail"]["deleted"] == expected["deleted"]

    sandbox = BoardsSandbox("greenhouse", OPEN_DAY)
    boards = [b if isinstance(b, str) else b["board"] for b in SANDBOX_BOARDS["greenhouse"]]
    open_jobs = sum(len(sandbox.board_jobs(b)) for b in boards if b not in MISSING)
    row = stored[("greenhouse", OPEN_DAY)]
    assert row["status"] == "collected" and row["listed"] == row["reported"] == open_jobs > 5
    assert row["collected"] == greenhouse["jobs_collected"] == open_jobs
    assert row["quarantined"] == len(MISSING & set(boards)) == 1 and row["blocked"] == 0  # a missing board
    assert float(row["coverage"]) == pytest.approx((len(boards) - 1) / len(boards), abs=1e-4)
    assert row["detail"]["retries"] >= 1 and row["detail"]["boards_missing"] == 1

    row = stored[("hn", failed_day)]
    assert (row["status"], row["collected"], float(row["coverage"]), row["run_id"]) == ("failed", 0, 0.0, "open-failed")
    assert "HTTP 404" in row["detail"]["error"]

    every = daily[("all", OPEN_DAY.isoformat())]
    assert every["status"] == "collected" and every["collected"] == expected["postings"] + open_jobs
    assert every["listed"] == hn["listed"] + open_jobs
    assert every["coverage"] == min(daily[(s, OPEN_DAY.isoformat())]["coverage"] for s in ("hn", "greenhouse"))
    assert (daily[("all", failed_day.isoformat())]["status"], daily[("all", failed_day.isoformat())]["coverage"]) == (
        "failed", 0.0)


def test_a_job_board_collection_that_fails_everywhere_is_a_failed_date():
    from scrapers.open_http import CollectionFailed

    stats = {"boards": 2, "boards_collected": 0, "boards_missing": 0, "boards_failed": 2, "jobs_listed": 0,
             "jobs_collected": 0, "jobs_unlisted": 0, "requests": 10, "retries": 8}
    row = coverage.ats_row(stats, error=CollectionFailed("lever: none of the 2 boards could be read", stats))
    assert (row["status"], row["collected"], row["coverage"]) == ("failed", 0, 0.0)
    assert (row["blocked"], row["blocked_lost"], row["quarantined"]) == (2, 2, 2)
    assert row["detail"]["error"].startswith("CollectionFailed: lever: none of the 2 boards")
    half = coverage.ats_row({**stats, "boards_collected": 1, "boards_failed": 1, "jobs_listed": 10,
                             "jobs_collected": 9, "jobs_unlisted": 1})
    assert (half["status"], half["coverage"], half["collected"]) == ("collected", 0.5, 9)
