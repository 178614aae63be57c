"""A sandbox Indeed: a local HTTP server with Indeed's real page structure, for tests and demos.

    with sandbox_server() as base_url:   # e.g. http://127.0.0.1:41234
        ...point the spider at base_url...

It serves, from the fixture day in ``sandbox_data/day.json`` (rebuilt by
``python -m scrapers.indeed.sandbox_data.generate``):

* ``/jobs?q=KEYWORD&l=remote&start=N`` - search pages, 10 cards a page, with the card model
  embedded as ``window.mosaic.providerData["mosaic-provider-jobcards"]={...};`` and the DOM cards;
  keywords 'data scientist' (3 pages), 'data analyst' and 'data engineer' (2 pages each), postings
  shared by two keywords; one page hides its model (DOM fallback); one answers with a CAPTCHA
  page on every other request; unknown searches get Indeed's "no results" page;
* ``/viewjob?jk=KEY`` - job pages embedding ``window._initialData={...};``, a JSON-LD
  ``JobPosting`` and ``#jobDescriptionText``; some serve only the fallbacks, some are malformed
  (truncated JSON, missing title, non-UTF-8 bytes, empty or 5 MB description), two answer 429 or
  503 on every other request; a day may also ask for embedded JSON nested 100,000 deep
  (variant ``deep_json``: the fallbacks rescue it; ``deep_json_only``: nothing does), and search
  pages cut short in the middle of their card model for their first ``times`` requests
  (``truncated_search_pages``: ``[{"q", "start", "times"}]``, a dropped connection);
* ``/jobs?q=synthetic+N`` - a generated search claiming N results (pages stop at Indeed's 1,000
  cap), for the cap test and the benchmark.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import re
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote_plus, urlparse

from jobreqs.local_server import serving

DAY_FILE = Path(__file__).resolve().parent / "sandbox_data" / "day.json"
PAGE_SIZE = 10
RESULT_CAP = 1000  # Indeed serves no page past start=990
SYNTHETIC = re.compile(r"^synthetic (\d+)$")
HUGE_DESCRIPTION_BYTES = 5 * 1024 * 1024
_PERIOD_LABEL = {"HOURLY": "an hour", "DAILY": "a day", "WEEKLY": "a week", "MONTHLY": "a month", "YEARLY": "a year"}


@lru_cache(maxsize=1)
def load_day(path: Path = DAY_FILE) -> dict:
    """The fixture day (postings, searches, odd pages)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _script_json(value) -> str:
    # As Indeed does: JSON inside <script> with "</" escaped so no string can close the element.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _salary_text(salary: dict | None) -> str | None:
    if not salary:
        return None
    def money(v: float) -> str:
        return f"${v:,.0f}"
    return f"{money(salary['min'])} - {money(salary['max'])} {_PERIOD_LABEL[salary['type']]}"


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
        "location": "Remote", "remote_type": "REMOTE_FULLY", "minutes_ago": index % (23 * 60),
        "salary": {"min": 100000, "max": 120000, "type": "YEARLY", "estimate": False} if index % 3 == 0 else None,
        "job_types": ["Full-time"], "description_html": body, "variant": "full",
    }


def _synthetic_key(key: str) -> tuple[int, int] | None:
    if len(key) == 16 and key.startswith("9"):
        try:
            return int(key[1:6], 16), int(key[6:], 16)
        except ValueError:
            return None
    return None


class SandboxIndeed:
    """The sandbox's pages as a function of the request; thread-safe counters for odd answers."""

    def __init__(self, day: dict, now_ms: int | None = None):
        self.day = day
        self.by_key = {p["job_key"]: p for p in day["postings"]}
        self.now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self.dom_only = {(k, s) for k, s in day.get("dom_only_search_pages", [])}
        self.flaky = {self._flaky_id(f): f["answer"] for f in day.get("flaky", [])}
        self.truncated = {(t["q"], t["start"]): t["times"] for t in day.get("truncated_search_pages", [])}
        self.hits: dict[str, int] = {}
        self.requests = 0
        self._lock = threading.Lock()

    @staticmethod
    def _flaky_id(spec: dict) -> str:
        if spec["path"] == "/jobs":
            return f"/jobs|{spec['q']}|{spec['start']}"
        return f"/viewjob|{spec['jk']}"

    def _flaky_answer(self, ident: str):
        """The odd answer on odd-numbered requests of a flaky URL (1st, 3rd, ...), else None."""
        answer = self.flaky.get(ident)
        if answer is None:
            return None
        with self._lock:
            self.hits[ident] = self.hits.get(ident, 0) + 1
            return answer if self.hits[ident] % 2 == 1 else None

    # ------------------------------------------------------------ routing

    def answer(self, raw_path: str) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests += 1
        url = urlparse(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/jobs":
            keyword = query.get("q", "").strip().lower()
            try:
                start = int(query.get("start", "0"))
            except ValueError:
                return 400, "text/plain", b"bad start"
            odd = self._flaky_answer(f"/jobs|{keyword}|{start}")
            if odd == "captcha":
                return 200, "text/html; charset=utf-8", captcha_page().encode()
            if isinstance(odd, int):
                return odd, "text/html", f"<html><body>HTTP {odd}</body></html>".encode()
            page = self.search_page(keyword, query.get("l", ""), start)
            with self._lock:
                cut = self.truncated.get((keyword, start), 0) > 0
                if cut:
                    self.truncated[(keyword, start)] -= 1
            if cut:  # the connection dropped inside the card model: the rest of the page is gone
                page = page[:page.index(b"window.mosaic") + 400]
            return 200, "text/html; charset=utf-8", page
        if url.path == "/viewjob":
            key = query.get("jk", "")
            odd = self._flaky_answer(f"/viewjob|{key}")
            if odd == "captcha":
                return 200, "text/html; charset=utf-8", captcha_page().encode()
            if isinstance(odd, int):
                return odd, "text/html", f"<html><body>HTTP {odd}</body></html>".encode()
            posting = self.posting(key)
            if posting is None:
                return 404, "text/html", b"<html><body>This job has expired on Indeed</body></html>"
            return 200, "text/html; charset=utf-8", job_page(posting, self.now_ms)
        return 404, "text/html", b"<html><body>Not found</body></html>"

    def posting(self, key: str) -> dict | None:
        if key in self.by_key:
            return self.by_key[key]
        synthetic = _synthetic_key(key)
        if synthetic and synthetic[1] < synthetic[0]:
            return _synthetic_posting(*synthetic)
        return None

    def search_keys(self, keyword: str, location: str) -> list[str] | tuple[int, int]:
        match = SYNTHETIC.match(keyword)
        if match:
            return int(match.group(1)), 0
        if location.strip().lower() != self.day["location"]:
            return []
        return self.day["searches"].get(keyword, [])

    def search_page(self, keyword: str, location: str, start: int) -> bytes:
        found = self.search_keys(keyword, location)
        if isinstance(found, tuple):
            total = found[0]
            stop = min(total, RESULT_CAP, start + PAGE_SIZE)
            postings = [_synthetic_posting(total, i) for i in range(start, stop)] if start < RESULT_CAP else []
        else:
            total = len(found)
            postings = [self.by_key[k] for k in found[start:start + PAGE_SIZE]]
        with_model = (keyword, start) not in self.dom_only
        return search_page(keyword, location, start, total, postings, self.now_ms, with_model).encode("utf-8")

    @property
    def expected(self) -> dict:
        """What a full crawl of the fixture day must find: keywords per job key, and the
        job keys whose pages are malformed (quarantined) with their variant."""
        keywords: dict[str, list[str]] = {}
        for keyword, keys in self.day["searches"].items():
            for key in keys:
                keywords.setdefault(key, []).append(keyword)
        malformed = {p["job_key"]: p["variant"] for p in self.day["postings"]
                     if p["variant"] not in ("full", "json_ld_only", "dom_only", "deep_json")}
        return {"keywords": keywords, "malformed": malformed}


# ---------------------------------------------------------------- page templates


def captcha_page() -> str:
    return (
        "<!DOCTYPE html><html><head><title>hCaptcha solve page</title></head><body>"
        '<form id="challenge-form" action="/captcha" method="POST"><div class="h-captcha" '
        'data-sitekey="00000000-0000-0000-0000-000000000000"></div></form>'
        "<p>Please verify you are a human.</p></body></html>"
    )


def _card_model(p: dict, now_ms: int) -> dict:
    pub = now_ms - p["minutes_ago"] * 60_000
    salary = p["salary"]
    card = {
        "jobkey": p["job_key"], "title": p["title"], "displayTitle": p["title"], "normTitle": p["title"],
        "company": p["company"], "truncatedCompany": p["company"], "formattedLocation": p["location"],
        "pubDate": pub, "createDate": pub, "formattedRelativeTime": "Today",
        "jobTypes": [],
        "taxonomyAttributes": [
            {"label": "job-types", "attributes": [{"label": t, "suid": hashlib.md5(t.encode()).hexdigest()[:5].upper()} for t in p["job_types"]]},
            {"label": "remote", "attributes": [{"label": "Remote", "suid": "DSQF7"}] if p["remote_type"] == "REMOTE_FULLY" else []},
        ],
        "remoteWorkModel": {"inlineText": True, "text": "Remote" if p["remote_type"] == "REMOTE_FULLY" else "Hybrid work",
                            "type": p["remote_type"]},
        "snippet": "<ul><li>Uses a config like {\"a\": 1}; see };</li><li>Remote-first team.</li></ul>",
        "viewJobLink": f"/viewjob?jk={p['job_key']}&from=serp&vjs=3",
        "link": f"/rc/clk?jk={p['job_key']}&from=serp&vjs=3",
        "sponsored": False, "expired": False, "urgentlyHiring": False, "newJob": True,
        "salarySnippet": {"currency": "USD", "salaryTextFormatted": False, "source": "EXTRACTION",
                          "text": _salary_text(salary) or ""} if salary and not salary["estimate"] else {},
        "encryptedFccompanyId": hashlib.md5(p["company"].encode()).hexdigest(),
    }
    if salary and not salary["estimate"]:
        card["extractedSalary"] = {"max": salary["max"], "min": salary["min"], "type": salary["type"].lower()}
    elif salary:
        card["estimatedSalary"] = {"formattedRange": _salary_text(salary), "max": salary["max"], "min": salary["min"],
                                   "type": salary["type"]}
    return card


def _dom_card(p: dict) -> str:
    e = html.escape
    salary = _salary_text(p["salary"]) if p["salary"] and not p["salary"]["estimate"] else None
    return (
        '<li><div class="cardOutline tapItem result"><div class="job_seen_beacon"><table><tbody><tr>'
        '<td class="resultContent"><h2 class="jobTitle css-198pbd eu4oa1w0">'
        f'<a id="job_{p["job_key"]}" data-jk="{p["job_key"]}" href="/rc/clk?jk={p["job_key"]}&amp;from=serp" '
        f'class="jcs-JobTitle"><span title="{e(p["title"])}">{e(p["title"])}</span></a></h2>'
        f'<div class="company_location"><span data-testid="company-name">{e(p["company"])}</span>'
        f'<div data-testid="text-location">{e(p["location"])}</div></div>'
        + (f'<div class="salary-snippet-container">{e(salary)}</div>' if salary else "")
        + '</td></tr></tbody></table><div class="job-snippet"><ul><li>Remote-first team.</li></ul></div>'
        "</div></div></li>"
    )


def search_page(keyword: str, location: str, start: int, total: int, postings: list[dict], now_ms: int,
                with_model: bool = True) -> str:
    """A search results page as Indeed renders it (model script + DOM cards + pagination)."""
    e = html.escape
    model = {
        "metaData": {"mosaicProviderJobCardsModel": {
            "results": [_card_model(p, now_ms) for p in postings],
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
                 f'href="/jobs?q={quote_plus(keyword)}&amp;l={quote_plus(location)}&amp;start={start + PAGE_SIZE}">Next</a></nav>')
    body = (
        f'<div class="jobsearch-JobCountAndSortPane-jobCount"><span>{total:,} jobs</span></div>'
        if total else
        '<div class="jobsearch-NoResult-messageContainer"><h1>The search did not match any jobs</h1></div>'
    )
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(keyword.title())} Jobs, Employment in {e(location.title())} | Indeed.com</title></head><body>"
        f'<div id="jobsearch-Main">{body}<div id="mosaic-provider-jobcards"><ul class="css-zu9cdh eu4oa1w0">'
        + "".join(_dom_card(p) for p in postings)
        + f"</ul></div>{pages}</div>"
        + '<script type="text/javascript">window.mosaic = window.mosaic || {providerData: {}};</script>'
        + f'<script id="mosaic-data" type="text/javascript">\n{script}\n'
        + 'window.mosaic.providerData["mosaic-provider-reportcontent"]={"reportUrl":"/report"};\n</script>'
        + "</body></html>"
    )


def _initial_data(p: dict, description: str, now_ms: int, *, title: bool = True) -> dict:
    salary = p["salary"]
    header = {"companyName": p["company"], "formattedLocation": p["location"],
              "remoteWorkModel": {"inlineText": True, "text": "Remote", "type": p["remote_type"]},
              "companyReviewModel": {"ratingsModel": {"rating": 4.1, "count": 120}}}
    if title:
        header["jobTitle"] = p["title"]
    info = {
        "jobInfoHeaderModel": header,
        "jobMetadataHeaderModel": {"jobType": ", ".join(p["job_types"])},
        "jobMetadataFooterModel": {"age": "Just posted", "createDate": now_ms - p["minutes_ago"] * 60_000},
        "sanitizedJobDescription": description,
        "salaryInfoModel": None,
        "salaryGuideModel": None,
        "jobTagModel": None,
    }
    if salary and not salary["estimate"]:
        info["salaryInfoModel"] = {"salaryCurrency": "USD", "salaryMax": salary["max"], "salaryMin": salary["min"],
                                   "salarySource": "EXTRACTION", "salaryText": _salary_text(salary),
                                   "salaryType": salary["type"]}
    elif salary:
        info["salaryGuideModel"] = {"estimatedSalaryModel": {"min": salary["min"], "max": salary["max"],
                                                             "type": salary["type"], "currency": "USD"}}
    return {"jobKey": p["job_key"], "jobInfoWrapperModel": {"jobInfoModel": info},
            "hostQueryExecutionResult": {"data": {"jobData": {"results": []}}}}


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
    if p["remote_type"] == "REMOTE_FULLY":
        ld["jobLocationType"] = "TELECOMMUTE"
    if salary and not salary["estimate"]:
        ld["baseSalary"] = {"@type": "MonetaryAmount", "currency": "USD", "value": {
            "@type": "QuantitativeValue", "minValue": salary["min"], "maxValue": salary["max"],
            "unitText": salary["type"].replace("LY", "").replace("DAI", "DAY")}}
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
    data_script = f"<script>window._initialData={_script_json(_initial_data(p, description, now_ms, title=variant != 'missing_title'))};</script>"
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
        status, content_type, body = self.server.sandbox.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxIndeed


@contextlib.contextmanager
def sandbox_server(host: str = "127.0.0.1", port: int = 0, *, day: dict | None = None,
                   now_ms: int | None = None) -> Iterator[str]:
    """Serve the sandbox Indeed on ``host:port`` (0 = a free port) and yield its base URL.
    ``SandboxIndeed(load_day()).expected`` says what a full crawl must find."""
    server = _Server((host, port), _Handler)
    server.sandbox = SandboxIndeed(day or load_day(), now_ms)
    with serving(server, "sandbox-indeed") as url:
        yield url


def main() -> None:
    """``python -m scrapers.indeed.sandbox [PORT]``: serve until interrupted."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    with sandbox_server(port=port) as url:
        print(f"sandbox Indeed at {url}  (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
