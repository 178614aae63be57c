"""Collect one date's postings from Hacker News's monthly "Ask HN: Who is hiring?" threads.

Through the official API (https://github.com/HackerNews/API; docs/sources.md, "Hacker News"):

1. ``GET /v0/user/whoishiring.json``: the account that posts the threads; ``submitted`` lists its
   items newest first. The stories titled "Ask HN: Who is hiring?" posted before the end of the
   date and at most ``THREAD_WINDOW_DAYS`` before it are the threads that can hold its comments
   (a month's thread keeps getting comments into the next month).
2. ``GET /v0/item/{thread}.json``: ``kids`` are the top-level comments, one posting each, in
   ranked display order. Item ids are allocated in time order, so with the ids sorted, the date's
   comments are one contiguous run: two binary searches on ``time`` find it (about 2 x log2(kids)
   item requests), and only that run is fetched.
3. Each comment: deleted (``deleted: true``, no text) and dead (``dead: true``, killed by flags
   or moderators) ones are counted, not collected; one without text, of another type, or whose
   fetch failed for good is quarantined with its reason; the rest become ``HNRawComment``
   records: the full HTML and its text, the comment's time as ``posted_at``, and its first line
   parsed where it follows "Company | Role | Location | REMOTE | salary" (``scrapers.hn.parse``).

The threads stay online, so unlike Indeed and Upwork a past date can be collected again: a
backfill collects it (``jobreqs.pipeline.PAST_COLLECTABLE``). The date's raw partition
``raw/hn/dt=D/`` is replaced, never appended, and the statistics say what was listed and what
was collected (coverage).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from jobreqs import lake
from scrapers.hn.parse import parse_first_line
from scrapers.open_http import CollectionFailed, PoliteClient, SourceError
from transforms.text import html_to_text

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://hacker-news.firebaseio.com"
HIRING_TITLE = "Ask HN: Who is hiring?"
THREAD_WINDOW_DAYS = 62
#: Firebase publishes no rate limit; a small pool, spaced, is polite and still quick.
WORKERS = 4
MIN_INTERVAL = 0.05
RAW_FILE = "hn.jsonl.gz"
QUARANTINE_FILE = "collect.jsonl.gz"


def base_url() -> str:
    return os.environ.get("JOBREQS_HN_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


class _Items:
    """Item fetches, each at most once per collection."""

    def __init__(self, client: PoliteClient, base: str):
        self.client, self.base, self.cache = client, base, {}

    def get(self, item_id: int) -> dict | None:
        if item_id not in self.cache:
            self.cache[item_id] = self.client.get_json(f"{self.base}/v0/item/{item_id}.json")
        return self.cache[item_id]

    def time(self, kids: list[int], index: int) -> float:
        """The time of ``kids[index]``, or of the next kid that has one (a missing item has none)."""
        for probe in kids[index:index + 5]:
            item = self.get(probe)
            if isinstance(item, dict) and isinstance(item.get("time"), int):
                return item["time"]
        return float("inf")

    def first_at_or_after(self, kids: list[int], moment: int) -> int:
        lo, hi = 0, len(kids)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.time(kids, mid) < moment:
                lo = mid + 1
            else:
                hi = mid
        return lo


def _threads(items: _Items, submitted: list, start: int, end: int) -> list[dict]:
    threads = []
    for story_id in submitted:
        story = items.get(int(story_id))
        if not isinstance(story, dict) or not isinstance(story.get("time"), int):
            continue
        if story["time"] >= end:
            continue
        if story["time"] < start - THREAD_WINDOW_DAYS * 86400:
            break  # newest first: every later one is older still
        if str(story.get("title", "")).startswith(HIRING_TITLE) and story.get("type") == "story":
            threads.append(story)
    return threads


def _record(item: dict, thread: dict, fetched_at: dt.datetime) -> dict:
    parsed = parse_first_line(item["text"])
    return {
        "id": str(item["id"]), "thread_id": str(thread["id"]), "thread_title": thread.get("title", ""),
        "author": item.get("by"),
        "posted_at": dt.datetime.fromtimestamp(item["time"], dt.timezone.utc).isoformat(),
        "text_html": item["text"], "text": html_to_text(item["text"]), "first_line": parsed.line,
        "company": parsed.company, "role": parsed.role, "location": parsed.location,
        "is_remote": parsed.is_remote, "salary_text": parsed.salary_text, "salary_min": parsed.salary_min,
        "salary_max": parsed.salary_max, "salary_currency": parsed.salary_currency,
        "salary_period": parsed.salary_period, "fetched_at": fetched_at.isoformat(),
    }


def collect_hn(root, day: dt.date, *, base: str | None = None, min_interval: float = MIN_INTERVAL,
               workers: int = WORKERS) -> dict:
    """Collect ``day``'s top-level hiring-thread comments into ``raw/hn/dt=day/``; return stats."""
    base = base or base_url()
    start = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc).timestamp())
    end = start + 86400
    stats = {"threads": [], "listed": 0, "collected": 0, "deleted": 0, "dead": 0, "quarantined": 0,
             "fetch_failed": 0, "parsed_first_lines": 0, "with_salary": 0}
    try:
        _collect(root, day, base, start, end, stats, min_interval, workers)
    except SourceError as exc:
        # the user or a thread could not be read: the date failed; its counts so far go to coverage
        raise CollectionFailed(str(exc), stats, exc.status) from exc
    accounted = stats["collected"] + stats["deleted"] + stats["dead"]
    stats["coverage"] = round(accounted / stats["listed"], 4) if stats["listed"] else 1.0
    stats["sandbox"] = base.startswith(("http://127.0.0.1", "http://localhost"))
    log.info("hn %s: %d threads, %d comments on the date, %d collected", day, len(stats["threads"]), stats["listed"],
             stats["collected"])
    return stats


def _collect(root, day: dt.date, base: str, start: int, end: int, stats: dict, min_interval: float,
             workers: int) -> None:
    rejects = lake.Spool()
    with PoliteClient(min_interval) as client:
        user = client.get_json(f"{base}/v0/user/whoishiring.json")
        if not isinstance(user, dict) or not isinstance(user.get("submitted"), list):
            raise SourceError(f"{base}/v0/user/whoishiring.json: no 'submitted' list in the answer")
        items = _Items(client, base)
        threads = _threads(items, user["submitted"], start, end)
        fetched_at = dt.datetime.now(dt.timezone.utc)

        def fetch(item_id: int) -> tuple[int, dict | None, str | None]:
            try:
                return item_id, items.get(item_id), None
            except SourceError as exc:
                return item_id, None, str(exc)

        def records() -> Iterator[dict]:
            for thread in threads:
                kids = sorted(int(k) for k in thread.get("kids") or [])
                lo = items.first_at_or_after(kids, start)
                hi = items.first_at_or_after(kids, end)
                stats["threads"].append({"id": thread["id"], "title": thread.get("title"), "kids": len(kids),
                                         "on_date": hi - lo})
                stats["listed"] += hi - lo
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for item_id, item, error in pool.map(fetch, kids[lo:hi]):
                        reason = None
                        if error:
                            stats["fetch_failed"] += 1
                            reason = f"fetch failed: {error}"
                        elif not isinstance(item, dict):
                            reason = "the API answered null (no such item)"
                        elif item.get("deleted"):
                            stats["deleted"] += 1
                            continue
                        elif item.get("dead"):
                            stats["dead"] += 1
                            continue
                        elif item.get("type") != "comment":
                            reason = f"not a comment: type {item.get('type')!r}"
                        elif not str(item.get("text") or "").strip():
                            reason = "comment without text"
                        elif not isinstance(item.get("time"), int):
                            reason = "comment without a time"
                        if reason:
                            stats["quarantined"] += 1
                            rejects.add({"reason": reason, "id": item_id, "thread_id": thread["id"], "raw": item})
                            continue
                        record = _record(item, thread, fetched_at)
                        stats["collected"] += 1
                        stats["parsed_first_lines"] += record["company"] is not None
                        stats["with_salary"] += record["salary_min"] is not None
                        yield record

        raw_dir = lake.partition(root, "raw", "hn", day)
        lake.replace_partition(raw_dir, records(), name=RAW_FILE)
        lake.replace_quarantine(lake.partition(root, "quarantine", "hn", day) / QUARANTINE_FILE, rejects)
        stats |= {"requests": client.requests, "retries": client.retries}
