"""Greenhouse, Lever and Ashby job boards: each collector against its sandbox API (real shapes,
a missing board, a 429), and a job open over several dates recorded once per date with its
first and last dates in the warehouse."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from jobreqs import lake
from jobreqs.schemas import AtsRawJob
from scrapers.ats.boards import Board, boards_for
from scrapers.ats.collect import collect_ats
from scrapers.ats.sandbox import MISSING, SANDBOX_BOARDS, BoardsSandbox, sandbox_server

DAY = dt.date(2026, 11, 4)


@pytest.mark.parametrize("ats", ["greenhouse", "lever", "ashby"])
def test_every_listed_job_of_every_board_is_collected_once(ats, lake_root):
    boards = boards_for(ats, SANDBOX_BOARDS)
    sandbox = BoardsSandbox(ats, DAY)
    expected = {b.token: sum(1 for j in sandbox.board_jobs(b.token) if j["listed"] or ats != "ashby")
                for b in boards if b.token not in MISSING}
    with sandbox_server(ats, day=DAY) as url:
        stats = collect_ats(lake_root, DAY, ats, boards, base=url, min_interval=0)
    records = list(lake.read_partition(lake.partition(lake_root, "raw", ats, DAY)))
    rejects = list(lake.read_partition(lake.partition(lake_root, "quarantine", ats, DAY)))
    assert stats["per_board"] == expected and sum(expected.values()) > 5
    assert stats["jobs_collected"] == len(records) == len({(r["board"], r["id"]) for r in records})
    assert stats["retries"] >= 1  # the first board's 429 (Retry-After: 1) was waited out
    missing = [b.token for b in boards if b.token in MISSING]
    assert [r["board"] for r in rejects] == missing and stats["boards_missing"] == len(missing)
    for record in records:
        raw = AtsRawJob.model_validate(record)
        assert raw.url.startswith("https://") and raw.company and raw.description_text
        assert "&lt;" not in (raw.description_html or "")  # Greenhouse's escaped HTML is unescaped once
    if ats == "ashby":
        assert stats["jobs_unlisted"] == sum(1 for b in boards for j in sandbox.board_jobs(b.token) if not j["listed"])
    if ats != "greenhouse":
        assert any(r["salary_min"] for r in records)


def test_boards_are_tokens_or_objects_and_anything_else_is_refused():
    assert boards_for("lever", {"lever": ["acme-co", {"board": "hooli", "company": "Hooli"}]}) == [
        Board("acme-co", "Acme Co"), Board("hooli", "Hooli")]
    assert boards_for("ashby", None) == [] and boards_for("ashby", {"lever": ["x"]}) == []
    with pytest.raises(ValueError, match="not a board"):
        boards_for("greenhouse", {"greenhouse": [42]})


def test_a_job_open_over_several_dates_is_recorded_once_per_date(lake_root, warehouse):
    from transforms.load import load_postings
    from transforms.normalise import normalise_day

    boards = [Board("globex", "Globex")]
    days = [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    for day in days:
        with sandbox_server("greenhouse", day=day, faults=False) as url:
            collect_ats(lake_root, day, "greenhouse", boards, base=url, min_interval=0)
        normalise_day(lake_root, day, ("greenhouse",))
        with psycopg.connect(warehouse) as conn:
            load_postings(conn, lake.read_partition(lake.partition(lake_root, "staging", "postings", day)))
    open_on = {day: {j["key"] for j in BoardsSandbox("greenhouse", day).board_jobs("globex")} for day in days}
    with psycopg.connect(warehouse) as conn:
        spans = conn.execute("SELECT first_seen, last_seen, days_seen FROM jobreqs.posting_spans").fetchall()
        postings = conn.execute("SELECT count(*), min(posting_date) FROM jobreqs.postings").fetchone()
    assert postings[0] == len(spans) == len(set().union(*open_on.values()))
    # the jobs open on all three dates: one posting each, first and last dates three days apart
    everyday = len(open_on[days[0]] & open_on[days[1]] & open_on[days[2]])
    assert everyday > 0 and sum(1 for s in spans if s == (days[0], days[2], 3)) == everyday
