"""A sandbox Indeed: a local HTTP server with Indeed's real page structure, for tests and demos.

    with sandbox_server(day=D) as base_url:   # e.g. http://127.0.0.1:41234
        ...point the spider at base_url...

It serves the postings of a date (``day``; default: the current UTC date, following the clock),
new every day and built reproducibly from the date by ``sandbox_data.generate.build`` (so a date
re-run sees the same pages, and a month of dates draws a trend):

* ``/jobs?q=KEYWORD&l=remote&filter=0&start=N`` - search pages, 10 organic cards a page (plus the
  sponsored cards on page 1), with the card model embedded as
  ``window.mosaic.providerData["mosaic-provider-jobcards"]={...};`` and the DOM cards; keywords
  'data scientist' (3 pages), 'data analyst' and 'data engineer' (2 pages each), postings shared by
  two keywords; one page hides its model (DOM fallback); one answers with Cloudflare's challenge
  on every other request; unknown searches get Indeed's "no results" page. A search without
  ``filter=0`` gets fewer results, as Indeed folds "similar" postings away;
* ``/viewjob?jk=KEY`` - job pages embedding ``window._initialData={...};`` with the pay where real
  pages have it (top-level ``salaryInfoModel`` / ``salaryGuideModel.estimatedSalaryModel``; the
  header's ``salary*`` null), a JSON-LD ``JobPosting`` and ``#jobDescriptionText``; some serve
  only the fallbacks, one its description as ``{"content": ...}``, some are malformed (truncated
  JSON, missing title, non-UTF-8 bytes, empty or 5 MB description), two answer 429 or 503 on
  every other request; a day may also ask for embedded JSON nested 100,000 deep (variant
  ``deep_json``: the fallbacks rescue it; ``deep_json_only``: nothing does), and search pages cut
  short in the middle of their card model for their first ``times`` requests
  (``truncated_search_pages``: ``[{"q", "start", "times"}]``, a dropped connection);
* ``/jobs?q=synthetic+N`` - a generated search claiming N results (pages stop at Indeed's 1,000
  cap), for the cap test and the benchmark.

Blocks are answered as Cloudflare answers them: HTTP 403 (or 429) with ``cf-mitigated:
challenge``, ``server: cloudflare``, a ``cf-ray`` and the "Just a moment..." page. With
``challenge_direct=True`` every request is challenged unless it carries the clearance cookie that
the sandbox proxy APIs (``scrapers/proxy_sandbox.py``) send, as a real proxy API gets past the
challenge and a direct client does not. With ``blocked_share`` a share of the search pages past
the first (fixed by search and offset; 1.0: all of them) is challenged on every request, whatever
the client sends: a partial block that lasts, as a crawl meets when Cloudflare has flagged its
paging (the coverage figures' block week). The first pages stay open, so the searches still
report their totals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus, urlparse

from jobreqs.local_server import serving
from scrapers.indeed.sandbox_data.generate import OBJECT_DESCRIPTION, build

PAGE_SIZE = 10
RESULT_CAP = 1000  # Indeed serves no page past start=990
SYNTHETIC = re.compile(r"^synthetic (\d+)$")
HUGE_DESCRIPTION_BYTES = 5 * 1024 * 1024
_PERIOD_LABEL = {"HOURLY": "an hour", "DAILY": "a day", "WEEKLY": "a week", "MONTHLY": "a month", "YEARLY": "a year"}
#: The cookie a client that passed the challenge carries (the sandbox proxy APIs send it).
CLEARANCE_COOKIE = "cf_clearance"
CLEARANCE_VALUE = "sandbox-proxy-clearance"
#: Without filter=0, this share of each search's postings is folded away as "similar".
FOLDED_WITHOUT_FILTER = 0.2


def load_day(day: dt.date | None = None) -> dict:
    """The postings of ``day`` (default: today, UTC) as the sandbox serves them."""
    return build(day or dt.datetime.now(dt.timezone.utc).date())


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _script_json(value) -> str:
    # As Indeed does: JSON inside <script> with "</" escaped so no string can close the element.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _salary_text(salary: dict | None) -> str | None:
    """The text Indeed publishes for a salary ("$50 - $60 an hour", "From $95,000 a year")."""
    if not salary:
        return None
    period = _PERIOD_LABEL[salary["type"]]
    if salary.get("open") == "from":
        return f"From {_money(salary['min'])} {period}"
    if salary.get("open") == "upto":
        return f"Up to {_money(salary['max'])} {period}"
    return f"{_money(salary['min'])} - {_money(salary['max'])} {period}"


def _estimate_range(salary: dict) -> str:
    """An estimate's ``formattedRange`` ("$69.7K - $103K a year")."""
    def short(value: float) -> str:
        return f"${value / 1000:.3g}K"
    return f"{short(salary['min'])} - {short(salary['max'])} {_PERIOD_LABEL[salary['type']]}"


def _synthetic_posting(total: int, index: int) -> dict:
    digest = hashlib.sha1(f"synthetic-{total}-{index}".encode()).hexdigest()
    key = f"9{total:05x}{index:010x}"[:16]
    words = ["Python", "SQL", "Spark", "Kafka", "Airflow", "dbt", "AWS", "Tableau", "Go", "Rust"]
    tech = [words[int(digest[i], 16) % len(words)] for i in range(4)]
    body = "".join(
        f"<p>Paragraph {n} about the team, the product and our {tech[n % 4]} platform; we value clear "
        f"writing, kind reviews and steady delivery.</p><ul><li>Work with {tech[(n + 1) % 4]}.</li>"
        f"<li>Own pipelines end to end.</li></ul>" for n in range(8)
    )
    return {
        "job_key": key, "title": f"Synthetic Data Role {index}", "company": f"Company {int(digest[:4], 16) % 500}",
        "location": "Remote", "remote_type": "REMOTE_ALWAYS", "minutes_ago": index % (23 * 60),
        "salary": {"min": 100000, "max": 120000, "type": "YEARLY", "estimate": False, "open": None} if index % 3 == 0 else None,
        "job_types": ["Full-time"], "description_html": body, "variant": "full", "sponsored": False,
    }


def _synthetic_key(key: str) -> tuple[int, int] | None:
    if len(key) == 16 and key.startswith("9"):
        try:
            return int(key[1:6], 16), int(key[6:], 16)
        except ValueError:
            return None
    return None


def _folded(key: str) -> bool:
    """Whether Indeed would fold this posting away as "similar" in a search without filter=0."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:4], 16) / 0xFFFF < FOLDED_WITHOUT_FILTER


class SandboxIndeed:
    """The sandbox's pages as a function of the request; thread-safe counters for odd answers.

    ``day``: the date served (None: today's, following the clock), or a day's data itself (a
    ``load_day()`` result a test has changed); ``now_ms``: the clock the pages' dates are relative
    to (default: now, or the end of ``day`` when it is past)."""

    def __init__(self, day: dt.date | dict | None = None, now_ms: int | None = None, challenge_direct: bool = False,
                 blocked_share: float = 0.0):
        if not 0.0 <= blocked_share <= 1.0:
            raise ValueError(f"blocked_share must be between 0 and 1, not {blocked_share}")
        self.blocked_share = blocked_share
        self.custom = day if isinstance(day, dict) else None
        self.fixed_day = dt.date.fromisoformat(day["day"]) if self.custom else day
        self.fixed_now_ms = now_ms
        self.challenge_direct = challenge_direct
        self.truncated = {(t["q"], t["start"]): t["times"] for t in (self.custom or {}).get("truncated_search_pages", [])}
        self.hits: dict[str, int] = {}
        self.requests = 0
        self.challenges = 0
        self._lock = threading.Lock()

    @property
    def day(self) -> dict:
        return self.custom or build(self.fixed_day or _today())

    @property
    def now_ms(self) -> int:
        if self.fixed_now_ms is not None:
            return self.fixed_now_ms
        now = int(time.time() * 1000)
        end = dt.datetime.combine((self.fixed_day or _today()) + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        return min(now, int(end.timestamp() * 1000) - 60_000)

    def by_key(self) -> dict[str, dict]:
        day = self.day
        return {p["job_key"]: p for p in day["postings"] + day["stale_ads"]}

    @staticmethod
    def _flaky_id(spec: dict) -> str:
        if spec["path"] == "/jobs":
            return f"/jobs|{spec['q']}|{spec['start']}"
        return f"/viewjob|{spec['jk']}"

    def _flaky_answer(self, ident: str):
        """The odd answer on odd-numbered requests of a flaky URL (1st, 3rd, ...), else None."""
        flaky = {self._flaky_id(f): f["answer"] for f in self.day.get("flaky", [])}
        answer = flaky.get(ident)
        if answer is None:
            return None
        with self._lock:
            self.hits[ident] = self.hits.get(ident, 0) + 1
            return answer if self.hits[ident] % 2 == 1 else None

    def _challenge(self, status: int = 403) -> tuple[int, dict, bytes]:
        with self._lock:
            self.challenges += 1
            ray = hashlib.sha1(str(self.challenges).encode()).hexdigest()[:16]
        headers = {"Content-Type": "text/html; charset=UTF-8", "cf-mitigated": "challenge", "Server": "cloudflare",
                   "cf-ray": f"{ray}-IAD", "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate"}
        return status, headers, challenge_page().encode()

    # ------------------------------------------------------------ routing

    def answer(self, raw_path: str, headers=None) -> tuple[int, dict, bytes]:
        """``(status, headers, body)`` for a GET of ``raw_path`` with the request's ``headers``."""
        with self._lock:
            self.requests += 1
            count = self.requests
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        url = urlparse(raw_path)
        if self.challenge_direct and not _cleared(headers) and url.path != "/__sandbox__/days":
            return self._challenge(429 if count % 4 == 0 else 403)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/__sandbox__/days":  # which date this sandbox serves (not Indeed's: the pipeline asks)
            served = (self.fixed_day or _today()).isoformat()
            return 200, {"Content-Type": "application/json"}, json.dumps({"days": [served]}).encode()
        if url.path == "/jobs":
            keyword = query.get("q", "").strip().lower()
            try:
                start = int(query.get("start", "0"))
            except ValueError:
                return 400, {"Content-Type": "text/plain"}, b"bad start"
            if self.blocks_search_page(keyword, start):
                return self._challenge()
            odd = self._flaky_answer(f"/jobs|{keyword}|{start}")
            if odd == "challenge":
                return self._challenge()
            if isinstance(odd, int):
                return odd, html_type, f"<html><body>HTTP {odd}</body></html>".encode()
            unfiltered = query.get("filter") == "0"
            page = self.search_page(keyword, query.get("l", ""), start, unfiltered)
            with self._lock:
                cut = self.truncated.get((keyword, start), 0) > 0
                if cut:
                    self.truncated[(keyword, start)] -= 1
            if cut:  # the connection dropped inside the card model: the rest of the page is gone
                page = page[:page.index(b"window.mosaic") + 400]
            return 200, html_type, page
        if url.path == "/viewjob":
            key = query.get("jk", "")
            odd = self._flaky_answer(f"/viewjob|{key}")
            if odd == "challenge":
                return self._challenge()
            if isinstance(odd, int):
                extra = {"Retry-After": "1"} if odd == 429 else {}
                return odd, {**html_type, **extra}, f"<html><body>HTTP {odd}</body></html>".encode()
            posting = self.posting(key)
            if posting is None:
                return 404, html_type, b"<html><body>This job has expired on Indeed</body></html>"
            return 200, html_type, job_page(posting, self.now_ms)
        return 404, html_type, b"<html><body>Not found</body></html>"

    def blocks_search_page(self, keyword: str, start: int) -> bool:
        """Whether this search page is behind a block that does not lift: ``blocked_share`` of the
        pages past the first (chosen by a hash of the search and offset, so a re-run meets the same
        blocks; 1.0 blocks them all). First pages stay open, so the crawl sees the totals it
        misses and never meets a wall of blocks."""
        if not self.blocked_share or start == 0:
            return False
        digest = hashlib.sha1(f"block|{keyword}|{start}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.blocked_share

    def posting(self, key: str) -> dict | None:
        found = self.by_key().get(key)
        if found:
            return found
        synthetic = _synthetic_key(key)
        if synthetic and synthetic[1] < synthetic[0]:
            return _synthetic_posting(*synthetic)
        return None

    def search_keys(self, keyword: str, location: str, unfiltered: bool = True) -> list[str] | tuple[int, int]:
        match = SYNTHETIC.match(keyword)
        if match:
            return int(match.group(1)), 0
        day = self.day
        if location.strip().lower() != day["location"]:
            return []
        keys = day["searches"].get(keyword, [])
        return keys if unfiltered else [k for k in keys if not _folded(k)]

    def search_page(self, keyword: str, location: str, start: int, unfiltered: bool = True) -> bytes:
        found = self.search_keys(keyword, location, unfiltered)
        by_key = self.by_key()
        ads: list[dict] = []
        if isinstance(found, tuple):
            total = found[0]
            stop = min(total, RESULT_CAP, start + PAGE_SIZE)
            postings = [_synthetic_posting(total, i) for i in range(start, stop)] if start < RESULT_CAP else []
        else:
            total = len(found)
            postings = [by_key[k] for k in found[start:start + PAGE_SIZE]]
            if start == 0 and found:
                ads = [by_key[k] for k in self.day["ads"].get(keyword, [])]
        with_model = [keyword, start] not in self.day["dom_only_search_pages"]
        return search_page(keyword, location, start, total, postings, self.now_ms, with_model, ads).encode("utf-8")

    @property
    def expected(self) -> dict:
        """What a full crawl of the day must find: keywords per job key (sponsored postings of the
        day included, stale ads not), the job keys whose pages are malformed (quarantined) with
        their variant, and the stale ads (skipped)."""
        day = self.day
        keywords: dict[str, list[str]] = {}
        for keyword, keys in day["searches"].items():
            for key in keys:
                keywords.setdefault(key, []).append(keyword)
        for keyword, (ad, _stale) in day["ads"].items():
            keywords.setdefault(ad, []).append(keyword)
        malformed = {p["job_key"]: p["variant"] for p in day["postings"]
                     if p["variant"] not in ("full", "json_ld_only", "dom_only", "deep_json", OBJECT_DESCRIPTION)}
        return {"keywords": keywords, "malformed": malformed,
                "stale_ads": [p["job_key"] for p in day["stale_ads"]],
                "sponsored": [ad for ad, _stale in day["ads"].values()]}


def _cleared(headers) -> bool:
    cookie = headers.get("Cookie", "") if headers is not None else ""
    return f"{CLEARANCE_COOKIE}={CLEARANCE_VALUE}" in (cookie or "")


# ---------------------------------------------------------------- page templates


def challenge_page() -> str:
    """Cloudflare's managed challenge page, with the markers public detectors look for."""
    return (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta name="robots" content="noindex,nofollow">'
        '</head><body><div class="main-wrapper" role="main"><div class="main-content">'
        '<h1 class="zone-name-title h1">www.indeed.com</h1><h2 class="h2" id="challenge-running">Verifying you are '
        'human. This may take a few seconds.</h2><noscript><div class="h2"><span id="challenge-error-text">Enable '
        "JavaScript and cookies to continue</span></div></noscript></div></div><script>(function(){window._cf_chl_opt="
        "{cvId: '3',cZone: \"www.indeed.com\",cType: 'managed'};var cpo=document.createElement('script');"
        "cpo.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=sandbox';"
        "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"
    )


def _card_model(p: dict, now_ms: int) -> dict:
    exact = now_ms - p["minutes_ago"] * 60_000
    pub = exact - exact % 86_400_000  # Indeed's pubDate is rounded to the day
    salary = p["salary"]
    card = {
        "jobkey": p["job_key"], "title": p["title"], "displayTitle": p["title"], "normTitle": p["title"],
        "company": p["company"], "truncatedCompany": p["company"], "formattedLocation": p["location"],
        "pubDate": pub, "createDate": exact, "formattedRelativeTime": "Today" if p["minutes_ago"] < 1440 else "30+ days ago",
        "jobTypes": [],
        "taxonomyAttributes": [
            {"label": "job-types", "attributes": [{"label": t, "suid": hashlib.md5(t.encode()).hexdigest()[:5].upper()} for t in p["job_types"]]},
            {"label": "remote", "attributes": [{"label": "Remote", "suid": "DSQF7"}] if p["remote_type"] == "REMOTE_ALWAYS" else []},
        ],
        "remoteLocation": p["remote_type"] == "REMOTE_ALWAYS",
        "snippet": "<ul><li>Uses a config like {\"a\": 1}; see };</li><li>Remote-first team.</li></ul>",
        "viewJobLink": f"/viewjob?jk={p['job_key']}&from=serp&vjs=3",
        "link": f"/rc/clk?jk={p['job_key']}&from=serp&vjs=3",
        "sponsored": False, "showSponsoredLabel": False, "expired": False, "urgentlyHiring": False, "newJob": True,
        "salarySnippet": {"currency": "USD", "salaryTextFormatted": False},
        "encryptedFccompanyId": hashlib.md5(p["company"].encode()).hexdigest(),
    }
    if p["remote_type"]:  # absent from the card otherwise, as on most real cards
        card["remoteWorkModel"] = {"inlineText": True, "text": "Remote" if p["remote_type"] == "REMOTE_ALWAYS" else "Hybrid work",
                                   "type": p["remote_type"]}
    if p.get("sponsored"):
        ad_id = str(int(hashlib.sha1(p["job_key"].encode()).hexdigest()[:8], 16))
        card.update(sponsored=True, adId=ad_id, link=f"/pagead/clk?mo=r&ad=-{ad_id}&p=0&fvj=0&vjs=3",
                    viewJobLink=f"/viewjob?jk={p['job_key']}&from=vjs&viewtype=embedded&adid={ad_id}",
                    companyBrandingAttributes={"brandingReasons": ["PREMIUM_SPONSORSHIP"]})
    if salary and not salary["estimate"]:
        card["extractedSalary"] = {"max": -1 if salary.get("open") == "from" else salary["max"],
                                   "min": 0 if salary.get("open") == "upto" else salary["min"],
                                   "type": salary["type"].lower()}
        card["salarySnippet"] = {"currency": "USD", "salaryTextFormatted": False, "source": "EXTRACTION",
                                 "text": _salary_text(salary)}
    elif salary:
        # An estimate: the card's salarySnippet.currency says nothing true ("" or another code).
        card["estimatedSalary"] = {"formattedRange": _estimate_range(salary), "max": salary["max"],
                                   "min": salary["min"], "type": salary["type"]}
        card["salarySnippet"] = {"currency": salary.get("snippet_currency", ""), "salaryTextFormatted": False}
    return card


def _dom_card(p: dict) -> str:
    e = html.escape
    salary = _salary_text(p["salary"]) if p["salary"] and not p["salary"]["estimate"] else None
    link = f"/pagead/clk?mo=r&amp;jk={p['job_key']}" if p.get("sponsored") else f"/rc/clk?jk={p['job_key']}&amp;from=serp"
    return (
        '<li><div class="cardOutline tapItem result"><div class="job_seen_beacon"><table><tbody><tr>'
        '<td class="resultContent"><h2 class="jobTitle css-198pbd eu4oa1w0">'
        f'<a id="job_{p["job_key"]}" data-jk="{p["job_key"]}" href="{link}" '
        f'class="jcs-JobTitle"><span title="{e(p["title"])}">{e(p["title"])}</span></a></h2>'
        f'<div class="company_location"><span data-testid="company-name">{e(p["company"])}</span>'
        f'<div data-testid="text-location">{e(p["location"])}</div></div>'
        + (f'<div class="salary-snippet-container">{e(salary)}</div>' if salary else "")
        + '</td></tr></tbody></table><div class="job-snippet"><ul><li>Remote-first team.</li></ul></div>'
        "</div></div></li>"
    )


def search_page(keyword: str, location: str, start: int, total: int, postings: list[dict], now_ms: int,
                with_model: bool = True, ads: list[dict] | None = None) -> str:
    """A search results page as Indeed renders it (model script + DOM cards + pagination);
    ``ads``: sponsored cards shown on top of the organic ones."""
    e = html.escape
    cards = list(ads or []) + postings
    model = {
        "metaData": {"mosaicProviderJobCardsModel": {
            "results": [_card_model(p, now_ms) for p in cards],
            "tierSummaries": [{"jobCount": total, "tierType": "DEFAULT", "dedupedJobCount": total}],
            "pageNumber": start // PAGE_SIZE + 1,
            "isNoResultsSearch": total == 0,
        }},
        "ariaLabel": "Job cards",
    }
    script = f'window.mosaic.providerData["mosaic-provider-jobcards"]={_script_json(model)};'
    if not with_model:  # a page whose model arrived cut short
        script = script[: len(script) // 3]
    pages = ""
    if start + PAGE_SIZE < min(total, RESULT_CAP):
        pages = (f'<nav aria-label="pagination"><a data-testid="pagination-page-next" '
                 f'href="/jobs?q={quote_plus(keyword)}&amp;l={quote_plus(location)}&amp;filter=0&amp;start={start + PAGE_SIZE}">Next</a></nav>')
    body = (
        f'<div class="jobsearch-JobCountAndSortPane-jobCount"><span>{total:,} jobs</span></div>'
        if total else
        '<div class="jobsearch-NoResult-messageContainer"><h1>The search did not match any jobs</h1></div>'
    )
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(keyword.title())} Jobs, Employment in {e(location.title())} | Indeed.com</title></head><body>"
        f'<div id="jobsearch-Main">{body}<div id="mosaic-provider-jobcards"><ul class="css-zu9cdh eu4oa1w0">'
        + "".join(_dom_card(p) for p in cards)
        + f"</ul></div>{pages}</div>"
        + '<script type="text/javascript">window.mosaic = window.mosaic || {providerData: {}};</script>'
        + f'<script id="mosaic-data" type="text/javascript">\n{script}\n'
        + 'window.mosaic.providerData["mosaic-provider-reportcontent"]={"reportUrl":"/report"};\n</script>'
        + "</body></html>"
    )


def _initial_data(p: dict, description, now_ms: int, *, title: bool = True) -> dict:
    """``window._initialData`` as real desktop pages lay it out: the posting under
    ``jobInfoWrapperModel.jobInfoModel`` (the header's ``salary*`` fields null), the pay at the top
    level (``salaryInfoModel``; an estimate in ``salaryGuideModel.estimatedSalaryModel``)."""
    salary = p["salary"]
    remote = p["remote_type"]
    header = {"companyName": p["company"], "formattedLocation": p["location"],
              "remoteWorkModel": {"inlineText": False, "text": "Remote" if remote == "REMOTE_ALWAYS" else "Hybrid work",
                                  "type": remote} if remote else None,
              "remoteLocation": remote == "REMOTE_ALWAYS",
              "salaryCurrency": None, "salaryMax": None, "salaryMin": None, "salaryType": None,
              "jobTypes": None, "taxonomyAttributes": None, "subtitle": f"{p['company']} - {p['location']}",
              "companyReviewModel": {"ratingsModel": {"rating": 4.1, "count": 120}}}
    if title:
        header["jobTitle"] = p["title"]
    info = {
        "jobInfoHeaderModel": header,
        "jobMetadataHeaderModel": {"jobType": ", ".join(p["job_types"])},
        "sanitizedJobDescription": description,
        "jobTagModel": None,
    }
    data = {
        "jobKey": p["job_key"], "jobTitle": p["title"], "jobLocation": p["location"], "country": "US",
        "sponsored": bool(p.get("sponsored")), "loggedIn": False,
        "salaryInfoModel": None,
        "salaryGuideModel": {"acmeMicrocontentEndpoint": "/acme", "country": "US", "estimatedSalaryModel": None,
                             "formattedLocation": p["location"], "jobKey": p["job_key"], "language": "en"},
        "hiringInsightsModel": {"age": "Just posted" if p["minutes_ago"] < 120 else "Today"},
        "jobInfoWrapperModel": {"jobInfoModel": info},
        "hostQueryExecutionResult": {"data": {"jobData": {"results": []}}},
    }
    if salary and not salary["estimate"]:
        data["salaryInfoModel"] = {"salaryCurrency": "USD", "salaryMax": salary["max"], "salaryMin": salary["min"],
                                   "salarySource": "EXTRACTION", "salaryText": _salary_text(salary),
                                   "salaryType": salary["type"]}
    elif salary:
        data["salaryGuideModel"]["estimatedSalaryModel"] = {
            "formattedRange": _estimate_range(salary), "max": salary["max"], "min": salary["min"], "type": salary["type"]}
    return data


def _json_ld(p: dict, description: str, now_ms: int) -> dict:
    salary = p["salary"]
    ld = {
        "@context": "http://schema.org", "@type": "JobPosting", "title": p["title"], "description": description,
        "datePosted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now_ms - p["minutes_ago"] * 60_000) / 1000)),
        "hiringOrganization": {"@type": "Organization", "name": p["company"]},
        "employmentType": [t.upper().replace("-", "_") for t in p["job_types"] if t != "Permanent"],
        "jobLocation": {"@type": "Place", "address": {"@type": "PostalAddress", "addressCountry": "US"}},
        "identifier": {"@type": "PropertyValue", "name": "Indeed", "value": p["job_key"]},
    }
    if p["remote_type"] == "REMOTE_ALWAYS":
        ld["jobLocationType"] = "TELECOMMUTE"
    if salary and not salary["estimate"]:
        value = {"@type": "QuantitativeValue", "unitText": salary["type"].replace("LY", "").replace("DAI", "DAY")}
        if salary["min"] is not None:
            value["minValue"] = salary["min"]
        if salary["max"] is not None:
            value["maxValue"] = salary["max"]
        ld["baseSalary"] = {"@type": "MonetaryAmount", "currency": "USD", "value": value}
    return ld


def job_page(p: dict, now_ms: int) -> bytes:
    """A job page as Indeed renders it, in the variant the fixture asks for (see module doc)."""
    e = html.escape
    variant = p["variant"]
    description = p["description_html"]
    if variant == "empty_description":
        description = ""
    elif variant == "huge_description":
        chunk = "<p>" + ("We use Python and SQL every day. " * 30) + "</p>"
        description = chunk * (HUGE_DESCRIPTION_BYTES // len(chunk) + 1)
    elif variant == "non_utf8":
        description = description.replace("</p>", " Caf\x00BAD\x00 team.</p>", 1)
    model_description = {"content": description} if variant == OBJECT_DESCRIPTION else description
    data = _initial_data(p, model_description, now_ms, title=variant != "missing_title")
    data_script = f"<script>window._initialData={_script_json(data)};</script>"
    if variant == "truncated_json":
        data_script = data_script[: len(data_script) // 2]  # the connection dropped mid-object
    ld_script = f'<script type="application/ld+json">{_script_json(_json_ld(p, description, now_ms))}</script>'
    salary = _salary_text(p["salary"]) if p["salary"] and not p["salary"]["estimate"] else ""
    dom = (
        f'<h1 class="jobsearch-JobInfoHeader-title"><span>{e(p["title"])}</span><span> - job post</span></h1>'
        f'<div data-testid="inlineHeader-companyName"><a href="/cmp/x">{e(p["company"])}</a></div>'
        f'<div data-testid="inlineHeader-companyLocation"><div>{e(p["location"])}</div></div>'
        f'<div id="salaryInfoAndJobType"><span>{e(salary)}</span></div>'
        f'<div id="jobDescriptionText" class="jobsearch-JobComponent-description">{description}</div>'
    )
    if variant in ("deep_json", "deep_json_only"):  # a model no JSON decoder can read
        data_script = f'<script>window._initialData={{"jobInfoWrapperModel": {"[" * 100_000}{"]" * 100_000}}};</script>'
    if variant in ("truncated_json", "missing_title", "deep_json_only"):  # no fallback can rescue these
        ld_script, dom = "", '<h1 class="jobsearch-JobInfoHeader-title"></h1>'
    elif variant == "json_ld_only":
        data_script = ""
    elif variant == "dom_only":
        data_script, ld_script = "", ""
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(p['title'])} - {e(p['location'])} - Indeed.com</title>{ld_script}</head><body>"
        f'<div class="jobsearch-JobComponent">{dom}</div>{data_script}</body></html>'
    ).encode("utf-8")
    if variant == "non_utf8":  # a Latin-1 byte inside a page that says it is UTF-8
        page = page.replace(b"\x00BAD\x00", b"\xe9")
    return page


# ---------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status, headers, body = self.server.sandbox.answer(self.path, self.headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxIndeed


@contextlib.contextmanager
def sandbox_server(host: str = "127.0.0.1", port: int = 0, *, day: dt.date | dict | None = None,
                   now_ms: int | None = None, challenge_direct: bool = False,
                   blocked_share: float = 0.0) -> Iterator[str]:
    """Serve the sandbox Indeed for ``day`` (None: today's, following the clock) on ``host:port``
    (0 = a free port) and yield its base URL. ``SandboxIndeed(day).expected`` says what a full
    crawl must find. ``blocked_share``: that share of the search pages past the first is
    challenged on every request (a simulated block, for the coverage figures)."""
    server = _Server((host, port), _Handler)
    server.sandbox = SandboxIndeed(day, now_ms, challenge_direct, blocked_share)
    with serving(server, "sandbox-indeed") as url:
        yield url


def main() -> None:
    """``python -m scrapers.indeed.sandbox [PORT] [YYYY-MM-DD]``: serve until interrupted."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    day = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else None
    with sandbox_server(port=port, day=day) as url:
        print(f"sandbox Indeed at {url}  (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
