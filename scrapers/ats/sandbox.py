"""Sandbox Greenhouse, Lever and Ashby job-board APIs: one local server per API, real shapes.

    with sandbox_server("lever", day=D) as base_url:
        ...JOBREQS_LEVER_BASE_URL=base_url...

Each serves the boards of ``SANDBOX_BOARDS`` as its API does (the shapes of ``scrapers.ats.boards``,
sources in docs/sources.md, "Public job boards"): Greenhouse ``/v1/boards/{token}/jobs`` (the
``content`` HTML entity-escaped, only with ``content=true``; ``meta.total``), Lever
``/v0/postings/{company}?mode=json`` (a bare list; ``createdAt`` in ms; ``lists``), Ashby
``/posting-api/job-board/{name}`` (``compensation`` only with ``includeCompensation=true``; some
jobs ``isListed: false``). An unknown board answers 404.

Jobs open and close: every board opens 0-3 jobs a day, each staying open 3 to 45 days, so the
listing of a date holds new jobs and ones seen on earlier dates, built reproducibly from the
dates (technology mix drifting: ``scrapers.sandbox_trends``). Boards of companies the sandbox
Indeed also lists (Globex, Initech on Greenhouse; Hooli on Lever; Pied Piper on Ashby) re-post
some of that day's Indeed postings with the same title and location: the cross-source
duplicates. (The sandbox's titles and locations are few, so some unrelated postings share a key
too, as generic titles do on real boards.) The first request
for each server's first board answers 429 with ``Retry-After: 1``. The listing is the date's
only (``GET /__sandbox__/days``): a board shows what is open now.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import random
import threading
import uuid
from collections.abc import Iterator
from functools import lru_cache
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from jobreqs.local_server import JsonSandboxHandler, serving
from scrapers import sandbox_trends

SANDBOX_BOARDS = {
    "greenhouse": [{"board": "globex", "company": "Globex"}, {"board": "initech", "company": "Initech"},
                   {"board": "tessellatelabs", "company": "Tessellate Labs"}, "closed-company"],
    "lever": [{"board": "hooli", "company": "Hooli"}, {"board": "orbital-freight", "company": "Orbital Freight"}],
    "ashby": [{"board": "piedpiper", "company": "Pied Piper"}, {"board": "verdant-ai", "company": "Verdant AI"}],
}
#: Boards that do not exist (404), though listed: the collector quarantines them.
MISSING = {"closed-company"}
WINDOW_DAYS = 45
TECH = ["Python", "Go", "TypeScript", "React", "PostgreSQL", "Kubernetes", "AWS", "Terraform", "Kafka", "Snowflake",
        "dbt", "Apache Airflow", "Spark", "Java", "Rust", "Docker", "GCP", "Azure", "PyTorch", "Tableau"]
TITLES = ["Software Engineer", "Senior Data Engineer", "Data Analyst", "Machine Learning Engineer",
          "Platform Engineer", "Backend Engineer", "Analytics Engineer", "Data Scientist"]
LOCATIONS = ["Remote", "New York, NY", "San Francisco, CA", "London, UK", "Remote in United States", "Austin, TX"]
TEAMS = ["Engineering", "Data", "Platform", "Product"]


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def _company(entry) -> tuple[str, str]:
    return (entry, entry.title()) if isinstance(entry, str) else (entry["board"], entry["company"])


@lru_cache(maxsize=64)
def _indeed_day(day: dt.date) -> tuple:
    from scrapers.indeed.sandbox_data.generate import build

    return tuple(p for p in build(day)["postings"] if p.get("variant") == "full")


def open_jobs(ats: str, board: str, company: str, day: dt.date) -> list[dict]:
    """The jobs of a board open on ``day`` (neutral fields; each API renders its own shape)."""
    jobs = []
    for back in range(WINDOW_DAYS, -1, -1):
        opened = day - dt.timedelta(days=back)
        rng = random.Random(_seed(ats, board, opened))
        for n in range(rng.randint(0, 3)):
            if opened + dt.timedelta(days=rng.randint(3, WINDOW_DAYS)) <= day:
                continue
            techs = sandbox_trends.pick(rng, TECH, opened, rng.randint(2, 5))
            title = rng.choice(TITLES)
            jobs.append({
                "key": f"{board}:{opened.isoformat()}:{n}", "title": title, "location": rng.choice(LOCATIONS),
                "team": rng.choice(TEAMS), "opened": opened, "listed": rng.random() > 0.05,
                "salary": (rng.randrange(90, 160) * 1000, rng.randrange(160, 240) * 1000) if rng.random() < 0.6 else None,
                "paragraphs": [f"{company} is hiring a {title} to join the {rng.choice(TEAMS)} team.",
                               f"You will work with {', '.join(techs[:-1])} and {techs[-1]} every day.",
                               "We offer a competitive salary, equity and flexible hours."],
                "requirements": [f"Experience with {t}" for t in techs[:3]],
            })
        # the same job on this board and on the sandbox Indeed (a cross-source duplicate)
        for posting in _indeed_day(opened):
            if posting["company"] == company and rng.random() < 0.6:
                if opened + dt.timedelta(days=rng.randint(5, 30)) <= day:
                    continue
                jobs.append({"key": f"{board}:indeed:{posting['job_key']}", "title": posting["title"],
                             "location": posting["location"], "team": "Data", "opened": opened, "listed": True,
                             "salary": None, "paragraphs": [posting["description_html"]], "requirements": [],
                             "html": True})
    return jobs


def _ts(day: dt.date, key: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc) + dt.timedelta(minutes=_seed(key) % 1200)


def _html(job: dict) -> str:
    body = job["paragraphs"][0] if job.get("html") else "".join(f"<p>{html.escape(p)}</p>" for p in job["paragraphs"])
    if job["requirements"]:
        body += "<h3>Requirements</h3><ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in job["requirements"]) + "</ul>"
    return body


def _plain(job: dict) -> str:
    from transforms.text import html_to_text

    return html_to_text(_html(job))


def greenhouse(board: str, company: str, jobs: list[dict], content: bool) -> dict:
    out = []
    for job in jobs:
        job_id = 4_000_000_000 + _seed(job["key"]) % 1_000_000_000
        when = _ts(job["opened"], job["key"]).astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()
        item = {"absolute_url": f"https://job-boards.greenhouse.io/{board}/jobs/{job_id}",
                "data_compliance": [{"type": "gdpr", "requires_consent": False, "requires_processing_consent": False,
                                     "requires_retention_consent": False, "retention_period": None}],
                "internal_job_id": job_id // 7, "location": {"name": job["location"]}, "metadata": None,
                "id": job_id, "updated_at": when, "requisition_id": f"R{job_id % 100000}", "title": job["title"],
                "company_name": company, "first_published": when}
        if content:  # the HTML, entity-escaped once more, as the API sends it
            item |= {"content": html.escape(_html(job), quote=True),
                     "departments": [{"id": _seed(job["team"]) % 10**6, "name": job["team"], "child_ids": [],
                                      "parent_id": None}],
                     "offices": [{"id": _seed(job["location"]) % 10**6, "name": job["location"],
                                  "location": job["location"], "child_ids": [], "parent_id": None}]}
        out.append(item)
    return {"jobs": out, "meta": {"total": len(out)}}


def lever(board: str, company: str, jobs: list[dict]) -> list[dict]:
    out = []
    for job in jobs:
        job_id = str(uuid.UUID(int=_seed("lever", job["key"]) << 64 | _seed(job["key"])))
        created = int(_ts(job["opened"], job["key"]).timestamp() * 1000)
        paragraphs = [_plain({**job, "requirements": []})]
        item = {"additional": "<div>Benefits: health, dental, vision.</div>", "additionalPlain": "Benefits: health, dental, vision.",
                "categories": {"commitment": "Full-time", "department": job["team"], "location": job["location"],
                               "team": job["team"], "allLocations": [job["location"]]},
                "createdAt": created, "descriptionPlain": "\n\n".join(paragraphs),
                "description": "".join(f"<div>{html.escape(p)}</div>" for p in paragraphs),
                "id": job_id, "lists": [{"text": "Requirements", "content": "".join(f"<li>{html.escape(r)}</li>"
                                                                                  for r in job["requirements"])}]
                if job["requirements"] else [],
                "text": job["title"], "country": "US",
                "workplaceType": "remote" if "Remote" in job["location"] else "onsite",
                "hostedUrl": f"https://jobs.lever.co/{board}/{job_id}",
                "applyUrl": f"https://jobs.lever.co/{board}/{job_id}/apply"}
        if job["salary"]:
            item["salaryRange"] = {"currency": "USD", "interval": "per-year-salary", "min": job["salary"][0],
                                   "max": job["salary"][1]}
        out.append(item)
    return out


def ashby(board: str, company: str, jobs: list[dict], compensation: bool) -> dict:
    out = []
    for job in jobs:
        job_id = str(uuid.UUID(int=_seed("ashby", job["key"]) << 64 | _seed(job["key"])))
        item = {"id": job_id, "title": job["title"], "department": job["team"], "team": job["team"],
                "employmentType": "FullTime", "location": job["location"], "secondaryLocations": [],
                "publishedAt": _ts(job["opened"], job["key"]).isoformat(timespec="milliseconds"),
                "isListed": job["listed"], "isRemote": "Remote" in job["location"],
                "address": {"postalAddress": {"addressCountry": "United States"}},
                "jobUrl": f"https://jobs.ashbyhq.com/{board}/{job_id}",
                "applyUrl": f"https://jobs.ashbyhq.com/{board}/{job_id}/application",
                "descriptionHtml": _html(job), "descriptionPlain": _plain(job)}
        if compensation:
            components = []
            if job["salary"]:
                low, high = job["salary"]
                components = [{"id": job_id[:8], "summary": f"${low // 1000}K – ${high // 1000}K",
                               "compensationType": "Salary", "interval": "1 YEAR", "currencyCode": "USD",
                               "minValue": low, "maxValue": high}]
            item["compensation"] = {"compensationTierSummary": components[0]["summary"] if components else None,
                                    "scrapeableCompensationSalarySummary": components[0]["summary"] if components else None,
                                    "compensationTiers": [], "summaryComponents": components}
        out.append(item)
    return {"apiVersion": "1", "jobs": out}


class BoardsSandbox:
    def __init__(self, ats: str, day: dt.date | None = None, faults: bool = True):
        self.ats = ats
        self.day = day or dt.datetime.now(dt.timezone.utc).date()
        self.companies = dict(_company(e) for e in SANDBOX_BOARDS[ats])
        first = next(iter(self.companies))
        self.flaky = {first: [429]} if faults else {}
        self._lock = threading.Lock()

    def board_jobs(self, board: str) -> list[dict]:
        return open_jobs(self.ats, board, self.companies[board], self.day)

    def answer(self, raw_path: str) -> tuple[int, dict, bytes]:
        url = urlparse(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/__sandbox__/days":
            return 200, {}, json.dumps({"days": [self.day.isoformat()]}).encode()
        prefix = {"greenhouse": "/v1/boards/", "lever": "/v0/postings/", "ashby": "/posting-api/job-board/"}[self.ats]
        rest = url.path[len(prefix):] if url.path.startswith(prefix) else None
        if self.ats == "greenhouse" and rest is not None:
            rest = rest[:-len("/jobs")] if rest.endswith("/jobs") else None
        if not rest or "/" in rest:
            return 404, {}, json.dumps({"error": "Not found"}).encode()
        if rest not in self.companies or rest in MISSING:
            body = {"greenhouse": {"status": 404, "error": "Job not found"},
                    "lever": {"ok": False, "error": "Document not found"},
                    "ashby": {"success": False, "error": "Job board not found"}}[self.ats]
            return 404, {}, json.dumps(body).encode()
        with self._lock:
            if self.flaky.get(rest):
                return self.flaky[rest].pop(0), {"Retry-After": "1"}, json.dumps({"error": "Too many requests"}).encode()
        jobs, company = self.board_jobs(rest), self.companies[rest]
        if self.ats == "greenhouse":
            body = greenhouse(rest, company, jobs, query.get("content") == "true")
        elif self.ats == "lever":
            body = lever(rest, company, jobs)
        else:
            body = ashby(rest, company, jobs, query.get("includeCompensation") == "true")
        return 200, {}, json.dumps(body).encode()


@contextlib.contextmanager
def sandbox_server(ats: str, host: str = "127.0.0.1", port: int = 0, *, day: dt.date | None = None,
                   faults: bool = True) -> Iterator[str]:
    """Serve the sandbox ``ats`` API for ``day`` (default today, UTC); yield its base URL."""
    server = ThreadingHTTPServer((host, port), JsonSandboxHandler)
    server.sandbox = BoardsSandbox(ats, day, faults)  # type: ignore[attr-defined]
    with serving(server, f"{ats}-sandbox") as url:
        yield url
