"""A sandbox Hacker News API: the official Firebase API's shapes, for tests and demos.

    with sandbox_server(day=D) as base_url:     # e.g. http://127.0.0.1:41234
        ...JOBREQS_HN_BASE_URL=base_url...

It serves what https://github.com/HackerNews/API documents (see docs/sources.md, "Hacker News"):

* ``/v0/user/whoishiring.json`` - ``{"id", "created", "karma", "about", "submitted": [ids, newest
  first]}``; the account posts three stories on the first weekday of each month ("Ask HN: Who is
  hiring? (Month Year)", "Ask HN: Who wants to be hired? ...", "Ask HN: Freelancer? Seeking
  freelancer? ..."), as the real one does;
* ``/v0/item/{id}.json`` - stories ``{"by", "descendants", "id", "kids", "score", "text", "time",
  "title", "type": "story"}`` whose ``kids`` are the top-level comments **in ranked display
  order, not by id**; comments ``{"by", "id", "kids"?, "parent", "text" (HTML), "time",
  "type": "comment"}``; a deleted comment is ``{"deleted": true, "id", "parent", "time",
  "type"}`` (no by, no text), a dead one carries ``"dead": true``; an unknown id answers
  ``null`` with HTTP 200, as Firebase does.

The hiring threads of the three months up to ``day`` (default: today, UTC) are served, each
with top-level comments on every date from its posting until ``day`` (many in the first days, a
few a day later, a trickle into the next month), built reproducibly from the dates (the
technology mix drifts: ``scrapers.sandbox_trends``), so a past date's comments are there too.
Item ids grow with time, as HN allocates them. Most comments follow the "Company | Role |
Location | REMOTE | salary" first line, in the orders seen in real threads; some have no pipes.
About 3% are deleted and 2% dead, one comment a day has an empty text, and some have replies.
Faults, as any service has them: each day's second comment answers 503 on its first request,
its third 429 with ``Retry-After: 1``.
``GET /__sandbox__/days`` lists the dates served (the pipeline asks; not part of HN's API).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from jobreqs.local_server import JsonSandboxHandler, serving
from scrapers import sandbox_trends

T0 = int(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc).timestamp())
ID_BASE = 30_000_000
MONTHS = 3
TECH = ["Python", "Go", "Rust", "TypeScript", "React", "PostgreSQL", "Kubernetes", "AWS", "Terraform", "Kafka",
        "Django", "Ruby on Rails", "Elixir", "Java", "Kotlin", "Swift", "PyTorch", "Snowflake", "dbt", "Redis",
        "GraphQL", "Next.js", "C++", "Scala", "Spark", "Docker", "GCP", "LangChain"]
COMPANIES = ["Acme Analytics", "Northwind Health", "Globex", "Initech", "Hooli", "Pied Piper", "Cyberdyne",
             "Tessellate Labs", "Orbital Freight", "Lumen Bio", "Quanta Pay", "Fernhill Robotics", "Brightwave",
             "Sundial Energy", "Kettle Data", "Harbor Security", "Mosaic Health", "Verdant AI"]
ROLES = ["Senior Software Engineer", "Backend Engineer", "Full-Stack Engineer", "Data Engineer", "ML Engineer",
         "Founding Engineer", "Staff Engineer, Platform", "Frontend Engineer", "SRE", "Data Scientist"]
PLACES = ["San Francisco, CA", "New York, NY", "London, UK", "Berlin, Germany", "Austin, TX", "Toronto, Canada",
          "Amsterdam", "Remote (US)", "Remote (EU)", "Boston, MA"]
SALARIES = ["$150k-$200k", "$120,000 - $160,000", "€80k–€110k", "£70k-£95k + equity", "$180K - $240K", None, None]


def _ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _item_id(unix: int, slot: int) -> int:
    # ids grow with time, as HN allocates them; ``slot`` keeps items of the same second apart
    return ID_BASE + (unix - T0) * 8 + slot


def _first_weekday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _months(until: dt.date, count: int = MONTHS) -> list[tuple[int, int]]:
    months = []
    year, month = until.year, until.month
    for _ in range(count):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(months)


def _first_line(rng: random.Random) -> tuple[str, str, str]:
    company, role, place = rng.choice(COMPANIES), rng.choice(ROLES), rng.choice(PLACES)
    pay = rng.choice(SALARIES)
    style = rng.random()
    work = rng.choice(["REMOTE", "ONSITE", "Hybrid", "REMOTE or ONSITE"])
    if style < 0.5:
        fields = [company, role, place, work] + ([pay] if pay else [])
    elif style < 0.75:
        fields = [company, place, work, role] + ([pay] if pay else [])
    elif style < 0.9:
        fields = [company, role, place, f"https://{company.lower().replace(' ', '')}.example/jobs"]
    else:
        return f"{company} is hiring a {role} in {place}", company, role
    return " | ".join(fields), company, role


def _comment_html(rng: random.Random, day: dt.date) -> str:
    line, company, role = _first_line(rng)
    techs = sandbox_trends.pick(rng, TECH, day, rng.randint(2, 5))
    url = f"https://{company.lower().replace(' ', '')}.example/careers"
    paragraphs = [
        line,
        f"We are a team of {rng.randint(5, 80)} building {rng.choice(['payments', 'logistics', 'health records', 'developer tools', 'robotics software'])}.",
        f"Our stack: {', '.join(techs[:-1])} and {techs[-1]}. You will own services end to end.",
        f"Apply: <a href=\"{url.replace('/', '&#x2F;')}\" rel=\"nofollow\">{url.replace('/', '&#x2F;')}</a> or email jobs@{company.lower().replace(' ', '')}.example",
    ]
    # HN's HTML: paragraphs after the first start with <p>, never closed; quotes escaped
    return "<p>".join(p.replace("'", "&#x27;") for p in paragraphs)


class HNSandbox:
    """The items a sandbox HN serves up to ``until`` (the end of that date)."""

    def __init__(self, until: dt.date | None = None, faults: bool = True):
        self.until = until or dt.datetime.now(dt.timezone.utc).date()
        self.faults = faults
        self.items: dict[int, dict] = {}
        self.flaky: dict[int, list[tuple[int, dict]]] = {}
        self.submitted: list[int] = []
        self._lock = threading.Lock()
        self._build()

    def _build(self) -> None:
        end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        for year, month in _months(self.until):
            posted_day = _first_weekday(year, month)
            posted = dt.datetime.combine(posted_day, dt.time(15, 0), tzinfo=dt.timezone.utc)
            if posted >= end:
                continue
            name = f"{calendar.month_name[month]} {year}"
            titles = [f"Ask HN: Who is hiring? ({name})", f"Ask HN: Who wants to be hired? ({name})",
                      f"Ask HN: Freelancer? Seeking freelancer? ({name})"]
            for slot, title in enumerate(titles):
                story_id = _item_id(_ts(posted), slot)
                kids = self._comments(story_id, posted, end) if slot == 0 else []
                random.Random(story_id).shuffle(kids)  # ranked display order, not ids
                self.items[story_id] = {"by": "whoishiring", "descendants": len(kids), "id": story_id, "kids": kids,
                                        "score": 500 + story_id % 300, "text": "Please state the location and include "
                                        "REMOTE for remote work, ...", "time": _ts(posted), "title": title,
                                        "type": "story"}
                self.submitted.append(story_id)
        self.submitted.sort(reverse=True)

    def _comments(self, story_id: int, posted: dt.datetime, end: dt.datetime) -> list[int]:
        kids = []
        day = posted.date()
        last = min(end.date() - dt.timedelta(days=1), posted.date() + dt.timedelta(days=40))
        while day <= last:
            kids += self._day_comments(story_id, posted, day)
            day += dt.timedelta(days=1)
        return kids

    def _day_comments(self, story_id: int, posted: dt.datetime, day: dt.date) -> list[int]:
        rng = random.Random(sandbox_trends.day_seed(f"hn:{story_id}", day))
        age = (day - posted.date()).days
        # a burst on the first days, then a steady few a day (real threads: hundreds, then a trickle)
        count = max(4, int(80 * 0.75 ** age)) + rng.randint(0, 4)
        start = _ts(posted) + 60 if age == 0 else _ts(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc))
        stop = _ts(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc))
        times = sorted(rng.sample(range(start, stop), min(count, stop - start)))
        ids = []
        for n, unix in enumerate(times):
            cid = _item_id(unix, 3)
            comment = {"by": f"user{rng.randint(1000, 99999)}", "id": cid, "parent": story_id,
                       "text": _comment_html(rng, day), "time": unix, "type": "comment"}
            roll = rng.random()
            if roll < 0.03:
                comment = {"deleted": True, "id": cid, "parent": story_id, "time": unix, "type": "comment"}
            elif roll < 0.05:
                comment["dead"] = True
            elif n == len(times) - 1 and len(times) > 3:
                comment["text"] = ""  # an empty comment: quarantined by the collector
            if roll > 0.9 and "text" in comment:
                reply = _item_id(unix + 1800, 4)
                comment["kids"] = [reply]
                self.items[reply] = {"by": "curious", "id": reply, "parent": cid, "text": "Is this role open to "
                                     "contractors?", "time": unix + 1800, "type": "comment"}
            self.items[cid] = comment
            ids.append(cid)
            if self.faults and n in (1, 2):
                status = 503 if n == 1 else 429
                self.flaky[cid] = [(status, {"Retry-After": "1"} if status == 429 else {})]
        return ids

    def days(self) -> list[str]:
        first = min((dt.datetime.fromtimestamp(self.items[s]["time"], dt.timezone.utc).date()
                     for s in self.submitted), default=self.until)
        return [(first + dt.timedelta(days=n)).isoformat() for n in range((self.until - first).days + 1)]

    def comments_on(self, day: dt.date) -> dict[str, int]:
        """What the collector should find for ``day`` on the hiring threads (for tests)."""
        start = _ts(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc))
        counts = {"postings": 0, "deleted": 0, "dead": 0, "empty": 0}
        for story in self.submitted:
            if not self.items[story]["title"].startswith("Ask HN: Who is hiring?"):
                continue
            for kid in self.items[story]["kids"]:
                item = self.items[kid]
                if start <= item["time"] < start + 86400:
                    key = ("deleted" if item.get("deleted") else "dead" if item.get("dead")
                           else "empty" if not item["text"] else "postings")
                    counts[key] += 1
        return counts

    def answer(self, raw_path: str) -> tuple[int, dict, bytes]:
        path = urlparse(raw_path).path
        if path == "/__sandbox__/days":
            return 200, {}, json.dumps({"days": self.days()}).encode()
        if path == "/v0/user/whoishiring.json":
            body = {"about": "This account posts the monthly hiring threads.", "created": 1301976700,
                    "id": "whoishiring", "karma": 100000, "submitted": self.submitted}
            return 200, {}, json.dumps(body).encode()
        if path.startswith("/v0/item/") and path.endswith(".json"):
            try:
                item_id = int(path[len("/v0/item/"):-len(".json")])
            except ValueError:
                return 400, {}, json.dumps({"error": "Invalid path"}).encode()
            with self._lock:
                pending = self.flaky.get(item_id)
                if pending:
                    status, headers = pending.pop(0)
                    return status, headers, json.dumps({"error": "try again"}).encode()
            return 200, {}, json.dumps(self.items.get(item_id)).encode()  # unknown id: null, as Firebase
        return 404, {}, json.dumps({"error": "Not found"}).encode()


@contextlib.contextmanager
def sandbox_server(host: str = "127.0.0.1", port: int = 0, *, day: dt.date | None = None,
                   faults: bool = True) -> Iterator[str]:
    """Serve the sandbox HN for ``day`` (default today, UTC) on a background thread; yield its URL."""
    server = ThreadingHTTPServer((host, port), JsonSandboxHandler)
    sandbox = HNSandbox(day, faults)  # fresh: its one-off faults start again
    server.sandbox = sandbox  # type: ignore[attr-defined]
    with serving(server, "hn-sandbox") as url:
        yield url
