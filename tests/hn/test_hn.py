"""Hacker News "Who is hiring?": the first-line parse, the collector against the sandbox API
(threads found, the date's comments by binary search, deleted/dead/empty ones, retries), and
normalise's postings."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from jobreqs import lake
from jobreqs.schemas import HNRawComment
from scrapers.hn.collect import collect_hn
from scrapers.hn.parse import parse_first_line
from scrapers.hn.sandbox import HNSandbox, sandbox_server
from scrapers.open_http import PoliteClient, SourceError

DAY = dt.date(2026, 11, 4)  # the November thread's third day


@pytest.mark.parametrize("line, expected", [
    ("Acme | Senior Backend Engineer | Berlin, Germany | REMOTE | €80k–€110k",
     {"company": "Acme", "role": "Senior Backend Engineer", "location": "Berlin, Germany", "is_remote": True,
      "salary_min": 80000.0, "salary_max": 110000.0, "salary_currency": "EUR", "salary_period": "year"}),
    ("Globex | New York, NY | ONSITE | Data Engineer | $150k-$200k",
     {"company": "Globex", "role": "Data Engineer", "location": "New York, NY", "is_remote": False,
      "salary_min": 150000.0, "salary_max": 200000.0, "salary_currency": "USD"}),
    ("Hooli | SRE | Remote (US) | https://hooli.example/jobs",
     {"company": "Hooli", "role": "SRE", "location": "Remote (US)", "is_remote": True, "salary_min": None}),
    ("Initech is hiring a Data Scientist in Austin",
     {"company": None, "role": None, "location": None, "is_remote": None}),
    ("Pied Piper | Founding Engineer | SF | $120,000 - $160,000 + equity",
     {"company": "Pied Piper", "role": "Founding Engineer", "location": "SF", "salary_min": 120000.0,
      "salary_max": 160000.0}),
])
def test_first_line_convention_is_parsed_and_nothing_is_guessed(line, expected):
    parsed = parse_first_line(line.replace("/", "&#x2F;") + "<p>We use Python and Go.")
    assert parsed.line == line
    for key, value in expected.items():
        assert getattr(parsed, key) == value, key


def test_collects_the_dates_comments_once_with_their_time_and_counts_the_rest(lake_root):
    sandbox = HNSandbox(DAY)
    expected = sandbox.comments_on(DAY)
    thread_kids = sum(len(sandbox.items[s]["kids"]) for s in sandbox.submitted)
    with sandbox_server(day=DAY) as url:
        stats = collect_hn(lake_root, DAY, base=url, min_interval=0)
    records = list(lake.read_partition(lake.partition(lake_root, "raw", "hn", DAY)))
    rejects = list(lake.read_partition(lake.partition(lake_root, "quarantine", "hn", DAY)))
    assert expected["postings"] > 10
    assert stats["collected"] == len(records) == expected["postings"]
    assert (stats["deleted"], stats["dead"]) == (expected["deleted"], expected["dead"])
    assert stats["quarantined"] == len(rejects) == expected["empty"]
    assert all(r["reason"] == "comment without text" for r in rejects)
    assert stats["listed"] == sum(expected.values())
    assert len({r["id"] for r in records}) == len(records)
    start = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.timezone.utc)
    for record in records:
        raw = HNRawComment.model_validate(record)
        assert start <= raw.posted_at < start + dt.timedelta(days=1)
        assert raw.text and raw.text_html
    assert stats["parsed_first_lines"] >= 0.6 * len(records)
    # the sandbox's 503 and 429 (Retry-After: 1) were retried, and the kids were searched, not all read
    assert stats["retries"] >= 2
    assert stats["requests"] < 0.5 * thread_kids
    assert [t["title"] for t in stats["threads"]] == ["Ask HN: Who is hiring? (November 2026)",
                                                      "Ask HN: Who is hiring? (October 2026)"]


def test_a_past_date_is_there_and_a_re_run_replaces_the_partition(lake_root):
    past = DAY - dt.timedelta(days=20)  # the October thread's tail
    with sandbox_server(day=DAY, faults=False) as url:
        first = collect_hn(lake_root, past, base=url, min_interval=0)
        again = collect_hn(lake_root, past, base=url, min_interval=0)
    assert first["collected"] == again["collected"] == HNSandbox(DAY).comments_on(past)["postings"] > 0
    assert len(list(lake.read_partition(lake.partition(lake_root, "raw", "hn", past)))) == first["collected"]


def test_normalise_turns_comments_into_postings(lake_root):
    from transforms.normalise import normalise_day

    with sandbox_server(day=DAY, faults=False) as url:
        collected = collect_hn(lake_root, DAY, base=url, min_interval=0)["collected"]
    stats = normalise_day(lake_root, DAY, ("hn",))
    postings = list(lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
    assert stats["postings"]["hn"] == len(postings) == collected
    assert all(p["source"] == "hn" and p["url"].startswith("https://news.ycombinator.com/item?id=") for p in postings)
    assert all(p["title"] and p["posted_at"] for p in postings)
    assert any(p["company"] and p["salary_min"] for p in postings)


class _Server:
    """A server answering 429 with a Retry-After over the cap."""

    def __init__(self, status: int, headers: dict):
        self.status, self.headers, self.calls = status, headers, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(self.status, headers=self.headers, json={"error": "slow down"})


def test_a_retry_after_over_the_cap_ends_the_request_at_once():
    server = _Server(429, {"Retry-After": "3600"})
    client = PoliteClient()
    client.client = httpx.Client(transport=httpx.MockTransport(server))
    with pytest.raises(SourceError, match="over the 60s cap"):
        client.get_json("http://hn.test/v0/user/whoishiring.json")
    assert server.calls == 1


def test_a_missing_board_is_an_error_unless_allowed():
    server = _Server(404, {})
    client = PoliteClient()
    client.client = httpx.Client(transport=httpx.MockTransport(server))
    assert client.get_json("http://ats.test/jobs", missing_ok=True) is None
    with pytest.raises(SourceError, match="HTTP 404"):
        client.get_json("http://ats.test/jobs")
