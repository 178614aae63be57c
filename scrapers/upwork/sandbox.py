"""A sandbox Upwork: a local HTTP server with the real request and response shapes.

It serves, on ``127.0.0.1`` and a free port:
- ``GET  /proxy/render?url=...`` a rendering proxy API: the rendered search page's HTML and its
  cookies, among them the visitor search token ``UniversalSearchNuxt_vt`` with its expiry;
- ``POST /api/v3/oauth2/token`` the OAuth2 token endpoint (client credentials, refresh token);
- ``POST /api/graphql/v1?alias=visitorJobSearch`` the visitor job search, newest first, paged by
  offset (``data.search.universalSearchNuxt.visitorJobSearchV1.results``);
- ``POST /graphql`` the official API's ``marketplaceJobPostingsSearch`` (cursor paging);
- ``POST /api/graphql/v1?alias=gql-query-get-visitor-job-details`` ``jobPubDetails`` (fast path);
- ``POST /api/graphql/v1?alias=gql-query-get-auth-job-details`` ``jobAuthDetails`` (fallback);
- ``GET  /__sandbox__/truth`` and ``POST /__sandbox__/revoke``: for tests, what the day holds
  and a way to invalidate every token (the next call gets a 401).

The day is synthetic and reproducible from ``seed``: ``jobs`` published in the logical date's
window before paging starts, the previous evening's tail (``before``), and jobs that arrive while
the client pages (``arrivals`` still inside the window, then ``late_arrivals`` after it), released
``arrivals_per_search`` per search request at the top of the newest-first list, which shifts
every page. Tokens expire after ``token_ttl`` seconds; a share of jobs fails on the fast details
path (``fast_fail_rate``) and some on both paths (``both_fail_rate``); a share of results is
malformed (``malformed_rate``); every ``burst_every`` API requests (default 500; 0: never),
``burst_length`` requests get a 429 with ``Retry-After``; ``error_rate`` of requests get a 503.
A share of jobs (``nul_rate``, default 0) carries NUL characters in its title and description,
as user-written text on the real site can (JSON escapes them as ``\u0000``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jobreqs.local_server import serving

UTC = dt.timezone.utc

TECH = ["Python", "Django", "FastAPI", "React", "TypeScript", "Node.js", "PostgreSQL", "AWS", "Docker",
        "Kubernetes", "Shopify", "WordPress", "PHP", "Laravel", "Flutter", "Swift", "Kotlin", "Go", "Rust",
        "Terraform", "Airflow", "Snowflake", "dbt", "Power BI", "Tableau", "OpenAI API", "LangChain",
        "Vue.js", "Next.js", "GraphQL", "MongoDB", "Redis", "Figma", "Selenium", "Scrapy", "n8n", "Zapier"]
TOPICS = ["web scraper", "e-commerce store", "mobile app", "data pipeline", "dashboard", "chatbot",
          "REST API", "landing page", "CRM integration", "ETL job", "automation workflow", "SaaS MVP"]
FLUFF = ["We are a small, friendly team and value clear communication.",
         "Please start your proposal with the word 'banana' so we know you read this.",
         "The project should take a few weeks; long-term work is possible for the right person.",
         "Share examples of similar work you have done. Fixed milestones are preferred.",
         "Our timezone is flexible, but some overlap with US business hours is needed."]
CATEGORIES = ["Web, Mobile & Software Dev", "Data Science & Analytics", "IT & Networking",
              "Design & Creative", "Sales & Marketing"]
COUNTRIES = [("United States", ["New York", "Austin", "San Francisco"]), ("United Kingdom", ["London", "Leeds"]),
             ("Germany", ["Berlin", "Munich"]), ("India", ["Bangalore", "Pune"]), ("Canada", ["Toronto"]),
             ("Australia", ["Sydney"]), ("Netherlands", ["Amsterdam"])]
TIERS = ["EntryLevel", "IntermediateLevel", "ExpertLevel"]
DURATIONS = ["Less than 1 month", "1 to 3 months", "3 to 6 months", "More than 6 months"]
MALFORMED_KINDS = ["no_title", "bad_publish_time", "no_id", "bad_job_type"]


@dataclass
class DayOptions:
    day: dt.date = field(default_factory=lambda: dt.datetime.now(UTC).date())
    seed: int = 7
    jobs: int = 5_960
    arrivals: int = 40
    late_arrivals: int = 20
    before: int = 120
    arrivals_per_search: int = 1
    max_page_size: int = 50
    token_ttl: float = 3600.0
    fast_fail_rate: float = 0.08
    both_fail_rate: float = 0.01
    malformed_rate: float = 0.002
    burst_every: int = 500
    burst_length: int = 3
    retry_after: str = "1"
    error_rate: float = 0.0
    nul_rate: float = 0.0
    # Seconds each job-details answer takes (so that concurrent runs overlap in tests).
    details_latency: float = 0.0
    # When set, the proxy key / OAuth client must match: {"proxy_key", "client_id", "client_secret"}.
    credentials: dict | None = None


@dataclass(frozen=True)
class _Job:
    index: int
    id: str
    ciphertext: str
    published: dt.datetime


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxDay:
    """The day's state: the jobs visible so far (oldest first), those still to arrive, tokens."""

    def __init__(self, options: DayOptions):
        self.o = options
        rng = random.Random(options.seed)
        start = dt.datetime.combine(options.day, dt.time(), UTC)
        end = start + dt.timedelta(days=1)
        span = lambda a, b, n: sorted(a + dt.timedelta(seconds=rng.uniform(0, (b - a).total_seconds())) for _ in range(n))
        before = span(start - dt.timedelta(hours=3), start - dt.timedelta(microseconds=1000), options.before)
        initial = span(start, end - dt.timedelta(hours=1), options.jobs)
        if initial:
            initial[0] = start  # a job exactly on the window's start belongs to the day
        arriving = span(end - dt.timedelta(hours=1), end - dt.timedelta(microseconds=1000), options.arrivals)
        late = span(end, end + dt.timedelta(hours=1), options.late_arrivals)
        if late:
            late[0] = end  # ... and one exactly on its end does not
        self.window = (start, end)
        all_times = before + initial + arriving + late
        self._all = [self._make(i, t, rng) for i, t in enumerate(all_times)]
        visible_count = len(before) + len(initial)
        self.visible: list[_Job] = self._all[:visible_count]
        self.pending: list[_Job] = self._all[visible_count:]
        self.by_cipher = {job.ciphertext: job for job in self._all}
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.counts = {"search": 0, "details_fast": 0, "details_fallback": 0, "token": 0, "render": 0,
                       "status_429": 0, "status_503": 0, "status_401": 0, "api": 0}
        self._noise = random.Random(options.seed + 1)

    @staticmethod
    def _make(index: int, published: dt.datetime, rng: random.Random) -> _Job:
        return _Job(index, str(1_790_000_000_000_000_000 + rng.randrange(10**17)), "~02" + "%016x" % rng.getrandbits(64), published)

    # --- per-job facts, reproducible from (seed, index) ---------------------------------------
    def _rng(self, job: _Job) -> random.Random:
        return random.Random(f"{self.o.seed}:{job.index}")

    def _flags(self, job: _Job) -> dict:
        rng = self._rng(job)
        in_window = self.window[0] <= job.published < self.window[1]
        draw_m, draw_f, draw_b = rng.random(), rng.random(), rng.random()
        malformed = MALFORMED_KINDS[job.index % len(MALFORMED_KINDS)] if in_window and draw_m < self.o.malformed_rate else None
        both = draw_b < self.o.both_fail_rate
        return {"malformed": malformed, "fails_fast": both or draw_f < self.o.fast_fail_rate, "fails_both": both}

    def visitor_result(self, job: _Job) -> dict:
        rng = self._rng(job)
        rng.random(), rng.random(), rng.random()  # the flags' draws
        skills = rng.sample(TECH, rng.randint(2, 6))
        hourly = rng.random() < 0.55
        low = rng.choice([10, 15, 20, 25, 30, 40, 50])
        paragraphs = [
            f"We need an experienced developer to build a {rng.choice(TOPICS)}.",
            f"Required: {', '.join(skills[:3])}. Nice to have: {', '.join(skills[3:]) or 'Git'}.",
            rng.choice(FLUFF),
            f"You will work with our {rng.choice(TECH)} backend and deploy on {rng.choice(['AWS', 'GCP', 'Azure', 'Heroku'])}.",
        ]
        country, _ = rng.choice(COUNTRIES)
        result = {
            "id": job.id,
            "title": f"{skills[0]} developer for {rng.choice(TOPICS)}",
            "description": "\n\n".join(paragraphs),
            "ontologySkills": [{"uid": hashlib.md5(s.encode()).hexdigest()[:18], "prefLabel": s} for s in skills],
            "occupations": {"category": {"id": str(rng.randrange(10**6)), "prefLabel": rng.choice(CATEGORIES)}},
            "upworkHistoryData": {"client": {"country": country, "paymentVerificationStatus": "VERIFIED"}},
            "jobTile": {"job": {
                "id": job.id,
                "ciphertext": job.ciphertext,
                "jobType": "HOURLY" if hourly else "FIXED",
                "publishTime": _iso(job.published),
                "contractorTier": rng.choice(TIERS),
                "hourlyBudgetMin": float(low) if hourly else None,
                "hourlyBudgetMax": float(low * rng.choice([1.5, 2, 3])) if hourly else None,
                "fixedPriceAmount": {"amount": "0.0" if hourly else f"{rng.choice([50, 150, 500, 1200, 5000])}.0",
                                     "isoCurrencyCode": "USD"},
                "hourlyEngagementDuration": {"label": rng.choice(DURATIONS), "weeks": 4} if hourly else None,
                "fixedPriceEngagementDuration": None if hourly else {"label": rng.choice(DURATIONS), "weeks": 2},
            }},
        }
        if self.o.nul_rate and random.Random(f"{self.o.seed}:nul:{job.index}").random() < self.o.nul_rate:
            result["title"] += "\x00"
            result["description"] = result["description"].replace(" ", " \x00", 2)
        kind = self._flags(job)["malformed"]
        if kind == "no_title":
            result["title"] = None
        elif kind == "bad_publish_time":
            result["jobTile"]["job"]["publishTime"] = "yesterday afternoon"
        elif kind == "no_id":
            result["id"] = None
            result["jobTile"]["job"]["id"] = None
        elif kind == "bad_job_type":
            result["jobTile"]["job"]["jobType"] = "WEEKLY"
        return result

    def official_node(self, job: _Job) -> dict:
        r = self.visitor_result(job)
        tile = r["jobTile"]["job"]
        money = lambda v: None if v is None else {"rawValue": str(v), "currency": "USD", "displayValue": f"${v}"}
        return {
            "id": r["id"], "ciphertext": tile["ciphertext"], "title": r["title"], "description": r["description"],
            "type": tile["jobType"], "publishedDateTime": tile["publishTime"], "createdDateTime": tile["publishTime"],
            "skills": [{"name": s["prefLabel"].lower(), "prettyName": s["prefLabel"]} for s in r["ontologySkills"]],
            "amount": money(tile["fixedPriceAmount"]["amount"]),
            "hourlyBudgetMin": money(tile["hourlyBudgetMin"]), "hourlyBudgetMax": money(tile["hourlyBudgetMax"]),
            "experienceLevel": {"EntryLevel": "ENTRY_LEVEL", "IntermediateLevel": "INTERMEDIATE",
                                "ExpertLevel": "EXPERT"}[tile["contractorTier"]],
            "duration": None,
            "durationLabel": (tile["hourlyEngagementDuration"] or tile["fixedPriceEngagementDuration"])["label"],
            "category": r["occupations"]["category"]["prefLabel"],
            "client": {"location": {"country": r["upworkHistoryData"]["client"]["country"]}},
        }

    def buyer(self, job: _Job) -> tuple[dict, bool]:
        rng = random.Random(f"{self.o.seed}:buyer:{job.index}")
        country, cities = rng.choice(COUNTRIES)
        posted = rng.randint(1, 400)
        with_hires = rng.randint(0, posted)
        info = {
            "location": {"city": rng.choice(cities), "country": country, "countryTimezone": "UTC", "offsetFromUtcMillis": 0},
            "stats": {"totalAssignments": with_hires + rng.randint(0, 30), "activeAssignmentsCount": rng.randint(0, 12),
                      "hoursCount": round(rng.uniform(0, 20_000), 2), "feedbackCount": rng.randint(0, with_hires + 1),
                      "score": round(rng.uniform(3.5, 5.0), 2), "totalJobsWithHires": with_hires,
                      "totalCharges": {"amount": round(rng.uniform(0, 500_000), 2)}},
            "company": {"contractDate": f"{rng.randint(2008, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00.000Z",
                        "profile": {"industry": None, "size": rng.choice([1, 10, 100])}},
            "jobs": {"openCount": rng.randint(0, 10), "postedCount": posted},
            "avgHourlyJobsRate": {"amount": round(rng.uniform(8, 120), 2)},
        }
        return info, rng.random() < 0.85

    # --- the API ----------------------------------------------------------------------------
    def search_page(self, offset: int, count: int) -> tuple[list[_Job], int]:
        """One newest-first page; afterwards, jobs that arrived while it was served."""
        with self.lock:
            total = len(self.visible)
            newest_first = [self.visible[total - 1 - i] for i in range(offset, min(offset + count, total))]
            for _ in range(self.o.arrivals_per_search):
                if self.pending:
                    self.visible.append(self.pending.pop(0))
            return newest_first, total

    def truth(self) -> dict:
        """What the day holds now: ids of the window's jobs (valid or malformed) and their flags."""
        with self.lock:
            start, end = self.window
            jobs = [j for j in self.visible if start <= j.published < end]
            pending = len(self.pending)
        flags = {j.id: self._flags(j) for j in jobs}
        return {
            "window": [start.isoformat(), end.isoformat()],
            "window_ids": [j.id for j in jobs if not flags[j.id]["malformed"]],
            "malformed": [{"id": j.id, "kind": flags[j.id]["malformed"]} for j in jobs if flags[j.id]["malformed"]],
            "fails_fast": [j.id for j in jobs if flags[j.id]["fails_fast"] and not flags[j.id]["fails_both"]],
            "fails_both": [j.id for j in jobs if flags[j.id]["fails_both"]],
            "pending_arrivals": pending,
            "counts": dict(self.counts),
        }

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def issue_token(self, prefix: str) -> tuple[str, float]:
        token = f"{prefix}-{secrets.token_hex(16)}"
        expires = time.time() + self.o.token_ttl
        with self.lock:
            self.tokens[token] = expires
        return token, expires

    def token_valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            expires = self.tokens.get(header[7:])
        return expires is not None and expires > time.time()

    def revoke(self) -> None:
        with self.lock:
            self.tokens.clear()

    def throttle(self) -> tuple[int, dict] | None:
        """A 429 burst or a random 503 for this API request, else None."""
        with self.lock:
            self.counts["api"] += 1
            n = self.counts["api"]
            if self.o.burst_every and n > self.o.burst_every and (n % self.o.burst_every) < self.o.burst_length:
                self.counts["status_429"] += 1
                return 429, {"Retry-After": self.o.retry_after}
            if self.o.error_rate and self._noise.random() < self.o.error_rate:
                self.counts["status_503"] += 1
                return 503, {"Retry-After": "0"}
        return None


def _handler(day: SandboxDay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "UpworkSandbox/1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:  # quiet: tests and benchmarks print their own figures
            pass

        def _send(self, status: int, body: dict | str, headers: dict | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/html")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/__sandbox__/truth":
                return self._send(200, day.truth())
            if url.path == "/proxy/render":
                return self._render(parse_qs(url.query))
            self._send(404, {"error": "not found"})

        def _render(self, query: dict) -> None:
            creds = day.o.credentials or {}
            if creds.get("proxy_key") and self.headers.get("X-Api-Key") != creds["proxy_key"]:
                return self._send(401, {"error": "invalid api key"})
            if not query.get("url", [""])[0].startswith("https://www.upwork.com/"):
                return self._send(400, {"error": "url must be an upwork.com page"})
            day.count("render")
            token, expires = day.issue_token("oauth2v2_sbxvisitor")
            html = "<html><head><title>Freelance Jobs - Upwork</title></head><body><div id='__nuxt'></div></body></html>"
            self._send(200, {"status": 200, "html": html, "cookies": [
                {"name": "visitor_id", "value": secrets.token_hex(8), "expires": -1},
                {"name": "UniversalSearchNuxt_vt", "value": token, "expires": expires, "httpOnly": True},
            ]})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            raw = self._body()
            if url.path == "/__sandbox__/revoke":
                day.revoke()
                return self._send(200, {"revoked": True})
            if url.path == "/api/v3/oauth2/token":
                return self._token(parse_qs(raw.decode()))
            if url.path not in ("/api/graphql/v1", "/graphql"):
                return self._send(404, {"errors": [{"message": "not found"}]})
            throttled = day.throttle()
            if throttled:
                status, headers = throttled
                return self._send(status, {"errors": [{"message": "Too Many Requests" if status == 429 else "Service Unavailable"}]}, headers)
            if not day.token_valid(self.headers.get("Authorization")):
                day.count("status_401")
                return self._send(401, {"message": "Unauthorized", "errors": [{"message": "invalid or expired token"}]})
            try:
                payload = json.loads(raw)
                query, variables = payload["query"], payload.get("variables") or {}
            except (ValueError, KeyError, TypeError):
                return self._send(400, {"errors": [{"message": "body must be a GraphQL request"}]})
            if "visitorJobSearchV1" in query:
                return self._visitor_search(variables)
            if "marketplaceJobPostingsSearch" in query:
                return self._official_search(variables)
            if re.search(r"\bjobPubDetails\b", query):
                return self._details(variables, fast=True)
            if re.search(r"\bjobAuthDetails\b", query):
                return self._details(variables, fast=False)
            self._send(400, {"errors": [{"message": "unknown query"}]})

        def _token(self, form: dict) -> None:
            get = lambda k: form.get(k, [None])[0]
            creds = day.o.credentials or {}
            if not get("client_id") or not get("client_secret") or (
                    creds.get("client_id") and (get("client_id"), get("client_secret")) != (creds["client_id"], creds.get("client_secret"))):
                return self._send(401, {"error": "invalid_client"})
            grant = get("grant_type")
            if grant == "refresh_token":
                with day.lock:
                    known = get("refresh_token") in day.refresh_tokens
                    day.refresh_tokens.discard(get("refresh_token"))
                if not known and creds.get("refresh_token") != get("refresh_token"):
                    return self._send(400, {"error": "invalid_grant"})
            elif grant != "client_credentials":
                return self._send(400, {"error": "unsupported_grant_type"})
            day.count("token")
            token, _ = day.issue_token("oauth2v2_sbx")
            refresh = f"sbx-refresh-{secrets.token_hex(12)}"
            with day.lock:
                day.refresh_tokens.add(refresh)
            self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": day.o.token_ttl,
                             "refresh_token": refresh})

        def _paging(self, offset, count) -> tuple[int, int] | None:
            try:
                offset, count = int(offset), int(count)
            except (TypeError, ValueError):
                return None
            if offset < 0 or not 1 <= count <= day.o.max_page_size:
                return None
            return offset, count

        def _visitor_search(self, variables: dict) -> None:
            paging = (variables.get("requestVariables") or {}).get("paging") or {}
            checked = self._paging(paging.get("offset", 0), paging.get("count", 10))
            if checked is None:
                return self._send(200, {"errors": [{"message": f"paging.count must be 1..{day.o.max_page_size}"}], "data": None})
            day.count("search")
            jobs, total = day.search_page(*checked)
            self._send(200, {"data": {"search": {"universalSearchNuxt": {"visitorJobSearchV1": {
                "paging": {"total": total, "offset": checked[0], "count": len(jobs)},
                "results": [day.visitor_result(j) for j in jobs]}}}}})

        def _official_search(self, variables: dict) -> None:
            pagination = ((variables.get("filter") or {}).get("pagination_eq")) or {}
            checked = self._paging(pagination.get("after") or 0, pagination.get("first", 10))
            if checked is None:
                return self._send(200, {"errors": [{"message": "invalid pagination_eq"}], "data": None})
            day.count("search")
            jobs, total = day.search_page(*checked)
            end = checked[0] + len(jobs)
            self._send(200, {"data": {"marketplaceJobPostingsSearch": {
                "totalCount": total,
                "edges": [{"node": day.official_node(j)} for j in jobs],
                "pageInfo": {"endCursor": str(end), "hasNextPage": end < total}}}})

        def _details(self, variables: dict, fast: bool) -> None:
            if day.o.details_latency:
                time.sleep(day.o.details_latency)
            job = day.by_cipher.get(str(variables.get("id")))
            day.count("details_fast" if fast else "details_fallback")
            name = "jobPubDetails" if fast else "jobAuthDetails"
            if job is None:
                return self._send(200, {"errors": [{"message": "Job not found", "extensions": {"code": "error.job.not.found"}}],
                                        "data": {name: None}})
            flags = day._flags(job)
            if (fast and flags["fails_fast"]) or (not fast and flags["fails_both"]):
                message = "ExecutionAborted" if fast else "Access is restricted"
                return self._send(200, {"errors": [{"message": message, "extensions": {"code": "error.job.requires.account"}}],
                                        "data": {name: None}})
            info, verified = day.buyer(job)
            opening = {"info": {"ciphertext": job.ciphertext, "id": job.id}}
            if fast:
                body = {"jobPubDetails": {"opening": opening, "buyer": info, "buyerExtra": {"isPaymentMethodVerified": verified}}}
            else:
                body = {"jobAuthDetails": {"opening": {"job": opening}, "buyer": {"isPaymentMethodVerified": verified,
                                                                                  "enterprise": False, "info": info}}}
            self._send(200, {"data": body})

    return Handler


@contextlib.contextmanager
def sandbox_server(host: str = "127.0.0.1", port: int = 0, **day_options) -> Iterator[str]:
    """Serve a sandbox Upwork day on ``host:port`` (0: a free port) and yield its base URL.

    ``day_options`` are the fields of ``DayOptions`` (``day``, ``seed``, ``jobs``, ...)."""
    options = DayOptions(**day_options)
    day = SandboxDay(options)
    server = ThreadingHTTPServer((host, port), _handler(day))
    server.daemon_threads = True
    with serving(server, "upwork-sandbox") as url:
        yield url


def main() -> None:
    """``python -m scrapers.upwork.sandbox [--port N] [--day YYYY-MM-DD] [--jobs N] ...``: serve until
    interrupted; the first line printed is the base URL."""
    import argparse

    parser = argparse.ArgumentParser(description="Serve a sandbox Upwork day until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: a free port")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.datetime.now(UTC).date())
    for name in ("jobs", "arrivals", "late_arrivals", "before", "seed", "burst_every", "burst_length"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(DayOptions, name))
    parser.add_argument("--retry-after", default=DayOptions.retry_after)
    args = parser.parse_args()
    options = {k: v for k, v in vars(args).items() if k not in ("host", "port")}
    with sandbox_server(host=args.host, port=args.port, **options) as url:
        print(url, flush=True)
        print(f"sandbox Upwork for {args.day}: set JOBREQS_UPWORK_BASE_URL={url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
