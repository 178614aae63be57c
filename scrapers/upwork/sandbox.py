"""A sandbox Upwork: local HTTP servers with the real hosts' split, request shapes, limits and errors.

Two servers stand for Upwork's two hosts (docs/sources.md says where each rule was seen):

``www`` (https://www.upwork.com)
    ``GET /`` the home page: sets the broad visitor token cookie ``visitor_gql_token``; like the
    real page behind Cloudflare it answers a client without the clearance cookie (a script, not a
    browser or a proxy API) with a 403 challenge. ``GET /nx/search/jobs/`` sets the search page's
    narrowly scoped ``UniversalSearchNuxt_vt``.
    ``POST /api/graphql/v1`` the web app's GraphQL API: every document is validated against
    ``sandbox_schema/visitor.graphql`` and run by graphql-core (``sandbox_graphql``): unused
    variables, unknown fields and login-gated fields for a visitor token are refused as the real
    service refuses them (HTTP 200 and ``errors[]``). ``visitorJobSearchV1`` pages newest first by
    offset (at most 50 a page; nothing past offset 5,000); ``jobAuthDetails`` needs a logged-in
    token.
    ``GET /job-details/jobdetails/visitor/{ciphertext}/details`` the visitor job-details REST
    endpoint (no bearer; ``x-requested-with: XMLHttpRequest``); a share of jobs meet a 403
    challenge there, as about a quarter did for the earlier system.
    ``GET /ab/account-security/oauth2/authorize`` and ``POST /api/v3/oauth2/token`` OAuth 2.0:
    the authorization-code grant (the sandbox approves at once, as a user who logs in and
    accepts), refresh tokens that rotate, and ``client_credentials`` refused with
    ``unauthorized_client`` unless the client is an enterprise one.
``api`` (https://api.upwork.com)
    ``POST /graphql`` the official API: a logged-in (OAuth) bearer token, documents validated
    against ``sandbox_schema/official.graphql`` (the search node has no ``type``; client
    statistics on the node), ``marketplaceJobPostingsSearch`` paged by ``pagination_eq``.
Neither host serves the other's paths (404), so one base URL for both fails.

The jobs are synthetic, new every date (ids and contents derived from the date), with a
technology mix that drifts over weeks (``scrapers.sandbox_trends``). For a date ``day``: ``jobs``
published in its window before paging starts, the previous evening's tail (``before``), and jobs
that arrive while the client pages (``arrivals`` still inside the window, then
``late_arrivals`` after it), released ``arrivals_per_search`` per search request at the top of the
newest-first list. With ``clock`` set instead, exactly the jobs published up to the clock are
visible, and tests move the clock (``POST /__sandbox__/clock``) to play a day hour by hour.
Tokens expire after ``token_ttl`` seconds; a share of jobs fails on the fast details path
(``fast_fail_rate``) and some on both (``both_fail_rate``); a share of results is malformed
(``malformed_rate``); every ``burst_every`` API requests, ``burst_length`` get a 429 with
``Retry-After``; ``error_rate`` of requests get a 503; a share of jobs (``nul_rate``, default 0)
carries NUL characters in its title and description, as user-written text on the real site can
(JSON escapes them as ``\u0000``). ``GET /__sandbox__/truth`` says what the
day holds, ``GET /__sandbox__/days`` which date it serves, ``POST /__sandbox__/revoke``
invalidates every token (tests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from jobreqs.local_server import serving
from scrapers import sandbox_trends
from scrapers.proxy_sandbox import CLEARANCE, zyte_sandbox
from scrapers.upwork import sandbox_graphql

UTC = dt.timezone.utc

TECH = ["Python", "Django", "FastAPI", "React", "TypeScript", "Node.js", "PostgreSQL", "AWS", "Docker",
        "Kubernetes", "Shopify", "WordPress", "PHP", "Laravel", "Flutter", "Swift", "Kotlin", "Go", "Rust",
        "Terraform", "Airflow", "Snowflake", "dbt", "Power BI", "Tableau", "OpenAI API", "LangChain",
        "Vue.js", "Next.js", "GraphQL", "MongoDB", "Redis", "Figma", "Selenium", "Scrapy", "n8n", "Zapier",
        "jQuery", "Polars"]
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
OFFICIAL_TIERS = {"EntryLevel": "ENTRY_LEVEL", "IntermediateLevel": "INTERMEDIATE", "ExpertLevel": "EXPERT"}
DURATIONS = ["Less than 1 month", "1 to 3 months", "3 to 6 months", "More than 6 months"]
MALFORMED_KINDS = ["no_title", "bad_publish_time", "no_id", "bad_job_type"]
#: The key of the sandbox Zyte API that ``sandbox_servers`` starts beside the two hosts.
ZYTE_KEY = "sandbox-zyte-key"


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
    # Upwork's search results stop at 5,000 (its API FAQ; visitor clients report offset <= ~5,000).
    offset_cap: int = 5_000
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
    # The OAuth client: {"client_id", "client_secret", "refresh_token" (one known refresh token),
    # "redirect_uri" (the registered one), "enterprise" (client credentials allowed)}.
    credentials: dict | None = None
    # When set, exactly the jobs published up to this moment are visible (no arrivals per search).
    clock: dt.datetime | None = None
    # The home page sets no visitor_gql_token (only the search page's narrow cookie is to be had).
    search_cookie_only: bool = False


@dataclass(frozen=True)
class _Job:
    index: int
    id: str
    ciphertext: str
    published: dt.datetime


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(value) -> dict | None:
    if value is None:
        return None
    return {"rawValue": str(value), "currency": "USD", "displayValue": f"${float(value):,.2f}"}


class SandboxDay:
    """The day's state: the jobs visible so far (oldest first), those still to arrive, tokens."""

    def __init__(self, options: DayOptions):
        self.o = options
        rng = random.Random(sandbox_trends.day_seed("upwork", options.day, options.seed))
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
        if options.clock is not None:
            visible_count = sum(1 for job in self._all if job.published <= options.clock)
        else:
            visible_count = len(before) + len(initial)
        self.visible: list[_Job] = self._all[:visible_count]
        self.pending: list[_Job] = self._all[visible_count:]
        self.by_cipher = {job.ciphertext: job for job in self._all}
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[float, str]] = {}  # token -> (expires, scope)
        self.refresh_tokens: set[str] = set()
        self.codes: dict[str, str] = {}  # authorization code -> redirect_uri
        self.counts = {"search": 0, "details_fast": 0, "details_fallback": 0, "token": 0, "home": 0,
                       "authorize": 0, "status_429": 0, "status_503": 0, "status_401": 0, "api": 0,
                       "graphql_errors": 0}
        self._noise = random.Random(options.seed + 1)

    @staticmethod
    def _make(index: int, published: dt.datetime, rng: random.Random) -> _Job:
        return _Job(index, str(1_790_000_000_000_000_000 + rng.randrange(10**17)), "~02" + "%016x" % rng.getrandbits(64),
                    published)

    # --- per-job facts, reproducible from (seed, job id) --------------------------------------
    def _rng(self, job: _Job, salt: str = "") -> random.Random:
        return random.Random(f"{self.o.seed}:{salt}{job.id}")

    def _flags(self, job: _Job) -> dict:
        rng = self._rng(job, "flags:")
        in_window = self.window[0] <= job.published < self.window[1]
        draw_m, draw_f, draw_b = rng.random(), rng.random(), rng.random()
        malformed = MALFORMED_KINDS[job.index % len(MALFORMED_KINDS)] if in_window and draw_m < self.o.malformed_rate else None
        both = draw_b < self.o.both_fail_rate
        return {"malformed": malformed, "fails_fast": both or draw_f < self.o.fast_fail_rate, "fails_both": both}

    def visitor_result(self, job: _Job) -> dict:
        """A ``visitorJobSearchV1`` result with the schema's field names (``cipherText``), the
        login-gated fields included: the GraphQL layer refuses them to visitor tokens."""
        rng = self._rng(job)
        skills = sandbox_trends.pick(rng, TECH, job.published.date(), rng.randint(2, 6))
        hourly = rng.random() < 0.55
        low = rng.choice([10, 15, 20, 25, 30, 40, 50])
        paragraphs = [
            f"We need an experienced developer to build a {rng.choice(TOPICS)}.",
            f"Required: {', '.join(skills[:3])}." + (f" Nice to have: {', '.join(skills[3:])}." if skills[3:] else ""),
            rng.choice(FLUFF),
            f"You will work with our {rng.choice(skills)} backend and deploy on {rng.choice(['AWS', 'GCP', 'Azure', 'Heroku'])}.",
        ]
        buyer, verified = self.buyer(job)
        result = {
            "id": job.id,
            "title": f"{skills[0]} developer for {rng.choice(TOPICS)}",
            "description": "\n\n".join(paragraphs),
            "relevanceEncoded": hashlib.md5(job.id.encode()).hexdigest(),
            "ontologySkills": [{"uid": hashlib.md5(s.encode()).hexdigest()[:18], "prefLabel": s} for s in skills],
            "jobTile": {"job": {
                "id": job.id,
                "cipherText": job.ciphertext,
                "jobType": "HOURLY" if hourly else "FIXED",
                "publishTime": _iso(job.published),
                "createTime": _iso(job.published - dt.timedelta(minutes=rng.randint(1, 90))),
                "contractorTier": rng.choice(TIERS),
                "hourlyBudgetMin": float(low) if hourly else None,
                "hourlyBudgetMax": float(low * rng.choice([1.5, 2, 3])) if hourly else None,
                "fixedPriceAmount": {"amount": "0.0" if hourly else f"{rng.choice([50, 150, 500, 1200, 5000])}.0",
                                     "isoCurrencyCode": "USD"},
            }},
            # login-gated
            "totalApplicants": rng.randint(0, 50), "premium": False, "enterpriseJob": False, "connectPrice": 16,
            "upworkHistoryData": {"client": {"country": buyer["location"]["country"],
                                             "paymentVerificationStatus": "VERIFIED" if verified else "NOT_VERIFIED",
                                             "totalSpent": str(buyer["stats"]["totalCharges"]["amount"]),
                                             "totalHires": buyer["stats"]["totalAssignments"],
                                             "totalReviews": buyer["stats"]["feedbackCount"],
                                             "totalFeedback": buyer["stats"]["score"]}},
            # not in the schema: for the official node
            "_category": rng.choice(CATEGORIES),
            "_duration": rng.choice(DURATIONS),
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
        """A ``MarketplaceJobPostingSearchResult`` (no job type field: ``amount`` > 0 means fixed
        price), with the client's statistics on the node."""
        r = self.visitor_result(job)
        tile = r["jobTile"]["job"]
        buyer, verified = self.buyer(job)
        hourly = tile["jobType"] == "HOURLY"
        published = tile["publishTime"]
        if tile["jobType"] not in ("HOURLY", "FIXED"):  # the malformed kind: a bad amount instead
            hourly, tile["fixedPriceAmount"]["amount"] = False, "-5.0"
        return {
            "id": r["id"], "ciphertext": tile["cipherText"], "title": r["title"], "description": r["description"],
            "duration": None, "durationLabel": r["_duration"], "engagement": None,
            "amount": _money(tile["fixedPriceAmount"]["amount"]), "recordNumber": str(job.index),
            "experienceLevel": OFFICIAL_TIERS[tile["contractorTier"]], "category": r["_category"],
            "subcategory": None, "freelancersToHire": 1,
            "relevance": {"id": r["id"], "effectiveCandidates": 0, "recommendedEffectiveCandidates": 0,
                          "uniqueImpressions": 0, "publishTime": published, "hoursInactive": 0},
            "enterprise": False, "relevanceEncoded": r["relevanceEncoded"], "totalApplicants": r["totalApplicants"],
            "premium": False, "applied": False, "createdDateTime": tile["createTime"], "publishedDateTime": published,
            "renewedDateTime": None,
            "client": {
                "memberSinceDateTime": buyer["company"]["contractDate"],
                "totalHires": buyer["stats"]["totalAssignments"], "totalPostedJobs": buyer["jobs"]["postedCount"],
                "totalSpent": _money(buyer["stats"]["totalCharges"]["amount"]),
                "verificationStatus": "VERIFIED" if verified else None,
                "location": {"city": buyer["location"]["city"], "country": buyer["location"]["country"],
                             "timezone": "UTC", "state": None, "offsetToUTC": "0"},
                "totalReviews": buyer["stats"]["feedbackCount"], "totalFeedback": buyer["stats"]["score"],
                "companyRid": str(job.index), "companyName": None, "edcUserId": str(job.index),
                "companyOrgUid": str(job.index), "hasFinancialPrivacy": False,
            },
            "skills": [{"id": s["uid"], "name": s["prefLabel"].lower(), "prettyName": s["prefLabel"], "highlighted": False}
                       for s in r["ontologySkills"]],
            "occupations": {"category": {"id": "1", "prefLabel": r["_category"]}, "subCategories": [], "occupationService": None},
            "hourlyBudgetType": "MANUAL" if hourly else None,
            "hourlyBudgetMin": _money(tile["hourlyBudgetMin"]), "hourlyBudgetMax": _money(tile["hourlyBudgetMax"]),
            "engagementDuration": {"id": "1", "label": r["_duration"], "weeks": 4},
        }

    def buyer(self, job: _Job) -> tuple[dict, bool]:
        """The client block of the job's details (``BuyerInfo``) and whether its payment is verified."""
        rng = self._rng(job, "buyer:")
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
                        "profile": {"industry": None, "size": rng.choice([1, 10, 100])}, "name": None, "companyId": str(job.index),
                        "isEDCReplicated": False},
            "jobs": {"openCount": rng.randint(0, 10), "postedCount": posted, "openJobs": []},
            "avgHourlyJobsRate": {"amount": round(rng.uniform(8, 120), 2)},
        }
        return info, rng.random() < 0.85

    # --- the search ---------------------------------------------------------------------------
    def search_page(self, offset: int, count: int) -> tuple[list[_Job], int]:
        """One newest-first page (empty past the offset cap); afterwards, jobs that arrived
        while it was served."""
        with self.lock:
            total = len(self.visible)
            stop = min(offset + count, total, self.o.offset_cap)
            newest_first = [self.visible[total - 1 - i] for i in range(offset, stop)]
            if self.o.clock is None:
                for _ in range(self.o.arrivals_per_search):
                    if self.pending:
                        self.visible.append(self.pending.pop(0))
            return newest_first, total

    def set_clock(self, now: dt.datetime) -> int:
        """Make the jobs published up to ``now`` visible; returns how many became visible."""
        with self.lock:
            released = 0
            while self.pending and self.pending[0].published <= now:
                self.visible.append(self.pending.pop(0))
                released += 1
            self.o.clock = now
            return released

    def truth(self) -> dict:
        """What the day holds now: ids of the window's jobs (valid or malformed) and their flags."""
        with self.lock:
            start, end = self.window
            jobs = [j for j in self._all if start <= j.published < end]
            visible = len(self.visible)
            pending = len(self.pending)
        flags = {j.id: self._flags(j) for j in jobs}
        return {
            "window": [start.isoformat(), end.isoformat()],
            "window_ids": [j.id for j in jobs if not flags[j.id]["malformed"]],
            "malformed": [{"id": j.id, "kind": flags[j.id]["malformed"]} for j in jobs if flags[j.id]["malformed"]],
            "fails_fast": [j.id for j in jobs if flags[j.id]["fails_fast"] and not flags[j.id]["fails_both"]],
            "fails_both": [j.id for j in jobs if flags[j.id]["fails_both"]],
            "start_id": next((j.id for j in jobs if j.published == start), None),
            "end_id": next((j.id for j in self._all if j.published == end), None),
            "visible": visible,
            "pending_arrivals": pending,
            "counts": dict(self.counts),
        }

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    # --- tokens -------------------------------------------------------------------------------
    def issue_token(self, scope: str) -> tuple[str, float]:
        token = f"oauth2v2_{'sbx' if scope == 'login' else 'sbxvisitor'}{secrets.token_hex(16)}"
        expires = time.time() + self.o.token_ttl
        with self.lock:
            self.tokens[token] = (expires, scope)
        return token, expires

    def token_scope(self, header: str | None) -> str | None:
        """The scope of a valid bearer token (``login``, ``visitor``, ``search``), else None."""
        if not header or not header.startswith("Bearer "):
            return None
        with self.lock:
            expires, scope = self.tokens.get(header[7:], (0.0, None))
        return scope if expires > time.time() else None

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

    # --- GraphQL roots ------------------------------------------------------------------------
    def _paging(self, offset, count) -> tuple[int, int]:
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= self.o.max_page_size:
            raise ValueError(f"paging: offset must be >= 0 and count 1..{self.o.max_page_size}")
        return offset, count

    def visitor_root(self) -> dict:
        def visitor_search(info, request):
            paging = request.get("paging") or {}
            offset, count = self._paging(paging.get("offset", 0), paging.get("count", 10))
            self.count("search")
            jobs, total = self.search_page(offset, count)
            return {"paging": {"total": total, "offset": offset, "count": len(jobs)},
                    "results": [self.visitor_result(j) for j in jobs]}

        def job_auth_details(info, id):
            self.count("details_fallback")
            job = self.by_cipher.get(str(id))
            if job is None:
                raise ValueError("Job not found")
            if self._flags(job)["fails_both"]:
                raise ValueError("Access is restricted")  # a private job (error.job.requires.account)
            info_block, verified = self.buyer(job)
            return {"opening": {"job": {"info": {"ciphertext": job.ciphertext, "id": job.id}}},
                    "buyer": {"isPaymentMethodVerified": verified, "enterprise": False, "info": info_block}}

        def job_pub_details(info, id):
            job = self.by_cipher.get(str(id))
            if job is None:
                raise ValueError("Job not found")
            info_block, verified = self.buyer(job)
            return {"opening": {"info": {"ciphertext": job.ciphertext, "id": job.id}},
                    "buyer": info_block, "buyerExtra": {"isPaymentMethodVerified": verified}}

        return {"search": {"universalSearchNuxt": {"visitorJobSearchV1": visitor_search,
                                                   "userJobSearchV1": visitor_search}},
                "jobAuthDetails": job_auth_details, "jobPubDetails": job_pub_details}

    def official_root(self) -> dict:
        def search(info, marketPlaceJobFilter=None, searchType=None, sortAttributes=None):  # noqa: N803 (schema names)
            pagination = (marketPlaceJobFilter or {}).get("pagination_eq") or {}
            try:
                offset = int(pagination.get("after") or 0)
            except ValueError:
                raise ValueError("pagination_eq.after must be a numeric offset") from None
            offset, count = self._paging(offset, pagination.get("first", 10))
            self.count("search")
            jobs, total = self.search_page(offset, count)
            end = offset + len(jobs)
            return {"totalCount": total,
                    "edges": [{"cursor": str(offset + i + 1), "node": self.official_node(j)} for i, j in enumerate(jobs)],
                    "pageInfo": {"endCursor": str(end), "hasNextPage": end < min(total, self.o.offset_cap)}}

        return {"marketplaceJobPostingsSearch": search}


def _handler(day: SandboxDay, host: str) -> type[BaseHTTPRequestHandler]:
    """The request handler of one host: ``www`` or ``api``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "UpworkSandbox/2"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:  # quiet: tests and benchmarks print their own figures
            pass

        def _send(self, status: int, body: dict | str, headers: dict | list | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers.items() if isinstance(headers, dict) else headers or []):
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _challenge(self) -> None:
            from scrapers.indeed.sandbox import challenge_page

            self._send(403, challenge_page().replace("www.indeed.com", "www.upwork.com"),
                       {"cf-mitigated": "challenge", "Server": "cloudflare", "cf-ray": secrets.token_hex(8) + "-IAD"})

        def _cookie(self, name: str, scope: str) -> tuple[str, str]:
            token, _ = day.issue_token(scope)
            return "Set-Cookie", (f"{name}={token}; Max-Age={int(day.o.token_ttl)}; Domain=.upwork.com; Path=/; "
                                  "Secure; SameSite=Lax")

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/__sandbox__/truth":
                return self._send(200, day.truth())
            if url.path == "/__sandbox__/days":  # which dates this sandbox serves
                return self._send(200, {"days": [day.o.day.isoformat()]})
            if host != "www":
                return self._send(404, {"errors": [{"message": "Not Found"}]})
            if url.path in ("/", "/nx/search/jobs/"):
                return self._page(url.path)
            if url.path.startswith("/job-details/jobdetails/visitor/") and url.path.endswith("/details"):
                return self._rest_details(url.path.split("/")[4])
            if url.path == "/ab/account-security/oauth2/authorize":
                return self._authorize(parse_qs(url.query))
            self._send(404, "<html><body>Page not found</body></html>")

        def _page(self, path: str) -> None:
            # Cloudflare's passive check stops a client that is not a browser (or a proxy API).
            if CLEARANCE not in (self.headers.get("Cookie") or ""):
                return self._challenge()
            day.count("home")
            cookies = [("Set-Cookie", f"visitor_id={secrets.token_hex(8)}; Path=/; Domain=.upwork.com")]
            if path == "/" and not day.o.search_cookie_only:
                cookies.append(self._cookie("visitor_gql_token", "visitor"))
            if path == "/nx/search/jobs/":
                cookies.append(self._cookie("UniversalSearchNuxt_vt", "search"))
            self._send(200, "<html><head><title>Upwork | The World's Work Marketplace</title></head>"
                            "<body><div id='__nuxt'></div></body></html>", cookies)

        def _rest_details(self, cipher: str) -> None:
            if day.o.details_latency:
                time.sleep(day.o.details_latency)
            if self.headers.get("x-requested-with") != "XMLHttpRequest":
                return self._send(404, "<html><body>Page not found</body></html>")  # the page, not its JSON
            day.count("details_fast")
            job = day.by_cipher.get(cipher)
            if job is None:
                return self._send(404, {"message": "Job not found"})
            if day._flags(job)["fails_fast"]:
                return self._challenge()
            info, _ = day.buyer(job)
            self._send(200, {"opening": {"info": {"ciphertext": job.ciphertext, "id": job.id}}, "buyer": info})

        def _authorize(self, query: dict) -> None:
            get = lambda k: (query.get(k) or [None])[0]  # noqa: E731
            creds = day.o.credentials or {}
            if get("response_type") != "code" or not get("client_id") or not get("redirect_uri"):
                return self._send(400, "<html><body>invalid_request</body></html>")
            if creds.get("client_id") and get("client_id") != creds["client_id"]:
                return self._send(400, "<html><body>invalid_client</body></html>")
            if creds.get("redirect_uri") and get("redirect_uri") != creds["redirect_uri"]:
                return self._send(400, "<html><body>redirect_uri does not match the registered one</body></html>")
            day.count("authorize")
            code = secrets.token_hex(12)
            with day.lock:
                day.codes[code] = get("redirect_uri")
            params = {"code": code, **({"state": get("state")} if get("state") else {})}
            separator = "&" if "?" in get("redirect_uri") else "?"
            self._send(302, "", {"Location": get("redirect_uri") + separator + urlencode(params)})

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            raw = self._body()
            if url.path == "/__sandbox__/revoke":
                day.revoke()
                return self._send(200, {"revoked": True})
            if url.path == "/__sandbox__/clock":
                now = dt.datetime.fromisoformat(json.loads(raw)["now"])
                return self._send(200, {"released": day.set_clock(now)})
            if host == "www" and url.path == "/api/v3/oauth2/token":
                return self._token(parse_qs(raw.decode()))
            endpoint = {"www": "/api/graphql/v1", "api": "/graphql"}[host]
            if url.path != endpoint:
                return self._send(404, {"errors": [{"message": "Not Found"}]})
            throttled = day.throttle()
            if throttled:
                status, headers = throttled
                return self._send(status, {"errors": [{"message": "Too Many Requests" if status == 429 else "Service Unavailable"}]}, headers)
            scope = day.token_scope(self.headers.get("Authorization"))
            if scope is None or (host == "api" and scope != "login"):
                day.count("status_401")
                return self._send(401, {"message": "Unauthorized", "errors": [{"message": "invalid or expired token"}]})
            try:
                payload = json.loads(raw)
            except ValueError:
                return self._send(400, {"errors": [{"message": "body must be a GraphQL request"}]})
            if host == "www":
                answer = sandbox_graphql.run("visitor", payload, scope, day.visitor_root())
            else:
                answer = sandbox_graphql.run("official", payload, scope, day.official_root())
            if answer.get("errors"):
                day.count("graphql_errors")
            self._send(200, answer)  # GraphQL errors come back with HTTP 200

        def _token(self, form: dict) -> None:
            get = lambda k: form.get(k, [None])[0]  # noqa: E731
            creds = day.o.credentials or {}
            if not get("client_id") or not get("client_secret") or (
                    creds.get("client_id") and (get("client_id"), get("client_secret")) != (creds["client_id"], creds.get("client_secret"))):
                return self._send(401, {"error": "invalid_client", "error_description": "client authentication failed"})
            grant = get("grant_type")
            if grant == "authorization_code":
                with day.lock:
                    redirect = day.codes.pop(get("code") or "", None)
                if redirect is None or redirect != get("redirect_uri"):
                    return self._send(400, {"error": "invalid_grant", "error_description": "invalid or used code"})
            elif grant == "refresh_token":
                with day.lock:
                    known = get("refresh_token") in day.refresh_tokens
                    day.refresh_tokens.discard(get("refresh_token"))
                if not known and creds.get("refresh_token") != get("refresh_token"):
                    return self._send(400, {"error": "invalid_grant", "error_description": "invalid refresh token"})
            elif grant == "client_credentials":
                if not creds.get("enterprise"):  # ordinary keys: the authorization-code flow only
                    return self._send(400, {"error": "unauthorized_client",
                                            "error_description": "client credentials grant is not allowed"})
            else:
                return self._send(400, {"error": "unsupported_grant_type"})
            day.count("token")
            token, _ = day.issue_token("login")
            refresh = f"oauth2v2_sbxrefresh{secrets.token_hex(12)}"
            with day.lock:
                day.refresh_tokens.add(refresh)
            # Upwork's own example shows expires_in as a string
            self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": str(int(day.o.token_ttl)),
                             "refresh_token": refresh})

    return Handler


@dataclass(frozen=True)
class SandboxUrls:
    """The base URLs of a sandbox Upwork: ``www`` (visitor API, REST details, OAuth), ``api``
    (official GraphQL) and ``zyte`` (a sandbox Zyte API's extract endpoint, key ``ZYTE_KEY``)."""

    www: str
    api: str
    zyte: str
    zyte_key: str = ZYTE_KEY

    def environment(self, mode: str = "visitor") -> dict[str, str]:
        """The environment that points the pipeline at this sandbox (``upwork_api`` absent)."""
        return {"JOBREQS_UPWORK_BASE_URL": self.www, "JOBREQS_UPWORK_API_URL": self.api,
                "JOBREQS_UPWORK_MODE": mode, "JOBREQS_UPWORK_TOKEN_API_URL": self.zyte,
                "JOBREQS_UPWORK_PROXY_KEY": self.zyte_key}


@contextlib.contextmanager
def sandbox_servers(host: str = "127.0.0.1", **day_options) -> Iterator[SandboxUrls]:
    """Serve a sandbox Upwork day (its two hosts and a Zyte API in front of them); yield their URLs.

    ``day_options`` are the fields of ``DayOptions`` (``day``, ``seed``, ``jobs``, ...)."""
    day = SandboxDay(DayOptions(**day_options))
    servers = []
    for name in ("www", "api"):
        server = ThreadingHTTPServer((host, 0), _handler(day, name))
        server.daemon_threads = True
        servers.append(server)
    with contextlib.ExitStack() as stack:
        www = stack.enter_context(serving(servers[0], "upwork-sandbox-www"))
        api = stack.enter_context(serving(servers[1], "upwork-sandbox-api"))
        zyte, _ = stack.enter_context(zyte_sandbox({}, ZYTE_KEY))
        yield SandboxUrls(www, api, zyte)


@contextlib.contextmanager
def sandbox_server(host: str = "127.0.0.1", **day_options) -> Iterator[str]:
    """``sandbox_servers`` yielding the ``www`` URL only."""
    with sandbox_servers(host, **day_options) as urls:
        yield urls.www


def main() -> None:
    """``python -m scrapers.upwork.sandbox [--day YYYY-MM-DD] [--jobs N] ...``: serve until
    interrupted; the first line printed is the environment that points the pipeline at it (JSON)."""
    import argparse

    parser = argparse.ArgumentParser(description="Serve a sandbox Upwork day until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.datetime.now(UTC).date())
    for name in ("jobs", "arrivals", "late_arrivals", "before", "seed", "burst_every", "burst_length"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(DayOptions, name))
    parser.add_argument("--retry-after", default=DayOptions.retry_after)
    parser.add_argument("--mode", default="visitor", choices=["visitor", "oauth"])
    args = parser.parse_args()
    options = {k: v for k, v in vars(args).items() if k not in ("host", "mode")}
    with sandbox_servers(host=args.host, **options) as urls:
        print(json.dumps(urls.environment(args.mode)), flush=True)
        print(f"sandbox Upwork for {args.day}: www {urls.www}, api {urls.api}, Zyte API {urls.zyte}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
