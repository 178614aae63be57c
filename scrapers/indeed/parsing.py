"""Pure parsers for the pages Indeed serves; no Scrapy engine needed.

Two page kinds:

* a search page (``/jobs?q=...``) embeds the result cards as a JavaScript assignment
  ``window.mosaic.providerData["mosaic-provider-jobcards"]={...};`` whose results sit under
  ``metaData.mosaicProviderJobCardsModel.results`` and whose total sits in ``tierSummaries``.
  When the model is absent or broken the DOM cards (``div.job_seen_beacon``) are read instead.
* a job page (``/viewjob?jk=...``) embeds ``window._initialData={...};`` with the posting under
  ``jobInfoWrapperModel.jobInfoModel``; its pay sits at the top level of ``_initialData``
  (``salaryInfoModel``, and Indeed's estimate in ``salaryGuideModel.estimatedSalaryModel``), not in
  the header model, whose ``salary*`` fields are null on real pages. A JSON-LD ``JobPosting``
  block and the ``#jobDescriptionText`` element are the fallbacks.

Real pages vary (docs/sources.md says where each path was seen): a field of an unexpected shape
never crashes a parse. When a required field (job key, title, description) has one, the page or
card is refused with a :class:`PageError` naming the field; an optional field of an unexpected
shape is left empty and named in the result's ``odd_fields`` (the spider counts and logs them).
A salary currency is taken only where it agrees with the published amount's symbol and the
site's country; otherwise it is left empty rather than wrong (Indeed's estimate cards carry
``salarySnippet.currency`` ``""`` or another country's code).

Embedded objects are decoded with ``json.JSONDecoder.raw_decode`` from their first brace, so a
``};`` inside a string never cuts an object short, and a truncated object is reported as such;
an object nested too deeply for the decoder (``RecursionError``) is a broken object too.
Every problem that makes a page unusable raises :class:`PageError` with a reason that the spider
writes to the quarantine.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import lxml.html
from lxml.cssselect import CSSSelector

from transforms.text import html_to_text, normalise_whitespace

MOSAIC_MARKER = 'window.mosaic.providerData["mosaic-provider-jobcards"]'
INITIAL_DATA_MARKER = "window._initialData"
#: A description larger than this (UTF-8 bytes of its HTML) is quarantined, not stored.
MAX_DESCRIPTION_BYTES = 1_000_000

_DECODER = json.JSONDecoder()

# Titles and elements of the pages Indeed (and its Cloudflare front) serves instead of content.
_BLOCK_TITLES = re.compile(
    r"<title>\s*(hCaptcha solve page|Security Check - Indeed\.com|Just a moment\.\.\.|"
    r"Attention Required!|Blocked - Indeed\.com|Additional Verification Required)\s*</title>",
    re.IGNORECASE,
)
# Cloudflare's challenge page: markers public detectors use (docs/sources.md, "Indeed: blocks").
_BLOCK_MARKERS = ('id="challenge-form"', 'class="h-captcha"', 'id="cf-challenge-running"', 'id="challenge-running"',
                  'id="cf-please-wait"', "window._cf_chl_opt", "/cdn-cgi/challenge-platform/")

# "$50 - $60 an hour", "£40,000 a year", "From $95K a year", "Up to €30 per hour"
_SALARY_TEXT = re.compile(
    r"(?P<cur>[$£€])?\s*(?P<lo>\d[\d,]*(?:\.\d+)?)\s*(?P<lok>[Kk])?"
    r"(?:\s*(?:-|–|to)\s*[$£€]?\s*(?P<hi>\d[\d,]*(?:\.\d+)?)\s*(?P<hik>[Kk])?)?"
    r"\s*(?:an?|per)\s+(?P<period>hour|day|week|month|year)",
)
_CURRENCY_SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR"}
# Which currencies a published symbol can stand for (longest symbols first: "R$" before "$").
_SYMBOL_CURRENCIES = {
    "R$": {"BRL"}, "CA$": {"CAD"}, "A$": {"AUD"}, "$": {"USD", "CAD", "AUD", "NZD", "SGD", "MXN", "HKD"},
    "£": {"GBP"}, "€": {"EUR"}, "₹": {"INR"}, "¥": {"JPY", "CNY"}, "CHF": {"CHF"},
}
# The currency of each Indeed country site (first label of the host; www is the US site).
_SITE_CURRENCY = {
    "www": "USD", "us": "USD", "uk": "GBP", "ca": "CAD", "au": "AUD", "nz": "NZD", "in": "INR",
    "sg": "SGD", "ie": "EUR", "de": "EUR", "fr": "EUR", "nl": "EUR", "es": "EUR", "it": "EUR", "at": "EUR",
    "be": "EUR", "pt": "EUR", "fi": "EUR", "ch": "CHF", "jp": "JPY", "br": "BRL", "mx": "MXN", "hk": "HKD",
}
_DOMAIN_CURRENCY = {".co.uk": "GBP", ".de": "EUR", ".fr": "EUR", ".nl": "EUR", ".es": "EUR", ".it": "EUR",
                    ".ca": "CAD", ".com.au": "AUD", ".co.in": "INR", ".ch": "CHF", ".jp": "JPY"}
# ISO country (``salaryGuideModel.country``, ``_initialData.country``) -> currency.
_COUNTRY_CURRENCY = {
    "US": "USD", "GB": "GBP", "UK": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IN": "INR", "SG": "SGD",
    "IE": "EUR", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR", "AT": "EUR", "BE": "EUR",
    "PT": "EUR", "FI": "EUR", "CH": "CHF", "JP": "JPY", "BR": "BRL", "MX": "MXN", "HK": "HKD",
}
# Indeed's period labels (card ``extractedSalary.type``, job ``salaryType``, JSON-LD ``unitText``).
_PERIODS = {
    "hourly": "hour", "hour": "hour", "daily": "day", "day": "day", "weekly": "week", "week": "week",
    "monthly": "month", "month": "month", "yearly": "year", "year": "year", "annual": "year",
}
_JOB_TYPES = {
    "FULL_TIME": "Full-time", "PART_TIME": "Part-time", "CONTRACTOR": "Contract", "CONTRACT": "Contract",
    "TEMPORARY": "Temporary", "INTERN": "Internship", "INTERNSHIP": "Internship", "PER_DIEM": "Per diem",
}


@lru_cache(maxsize=64)
def _compiled(selector: str) -> CSSSelector:
    return CSSSelector(selector)


def _select(node, selector: str) -> list:
    """``node.cssselect(selector)`` with the selector compiled once (translation is the slow part)."""
    return _compiled(selector)(node)


class PageError(ValueError):
    """A page that cannot be used; ``reason`` is what the quarantine records."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class SearchPage:
    """What a search page holds: its cards (normalised dicts), the total Indeed reports, where
    the cards came from (``model`` or ``dom``), and cards that were skipped, with their reason."""

    cards: list[dict] = field(default_factory=list)
    total: int | None = None
    source: str = "model"
    skipped: list[str] = field(default_factory=list)
    model_error: str | None = None
    #: The page ends before ``</html>`` (a dropped connection): DOM cards past the cut are missing.
    truncated: bool = False


# ---------------------------------------------------------------- page-level helpers


def decode_body(body: bytes) -> str:
    """The page as text; Indeed serves UTF-8, so bytes that are not UTF-8 make the page malformed."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(f"non-UTF-8 bytes at offset {exc.start} ({exc.reason})") from None


def block_reason(text: str) -> str | None:
    """Why this page is a block / CAPTCHA page instead of content, or None when it is content."""
    head = text[:20_000]  # block pages are small; never scan a description for these words
    match = _BLOCK_TITLES.search(head)
    if match:
        return f"block page: {match.group(1)}"
    for marker in _BLOCK_MARKERS:
        if marker in head:
            return f"block page: {marker}"
    return None


def challenge_reason(status: int, headers: Any, text: str | None = None) -> str | None:
    """Why a response is Cloudflare's challenge (or another block page), else None.

    Cloudflare marks every challenge response with the header ``cf-mitigated: challenge`` ("the
    only valid value", its docs say), whatever the status: 403 usually, 429 or 503 too. The body
    markers catch a challenge whose headers a proxy did not pass on. ``headers`` is any mapping
    with ``get`` (Scrapy's or httpx's headers, a dict)."""
    value = headers.get("cf-mitigated") if headers is not None else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str) and value.strip().lower() == "challenge":
        return f"Cloudflare challenge (HTTP {status}, cf-mitigated: challenge)"
    return block_reason(text) if text else None


def extract_js_object(text: str, marker: str) -> Any | None:
    """Decode the JSON value assigned right after ``marker`` (``marker = {...};``).

    Returns None when the marker is absent; raises :class:`PageError` when the value is broken."""
    start = text.find(marker)
    if start < 0:
        return None
    index = start + len(marker)
    match = re.compile(r"\s*=\s*").match(text, index)
    if not match:
        raise PageError(f"{marker} is not followed by an assignment")
    index = match.end()
    try:
        value, _ = _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        where = "end of page" if exc.pos >= len(text) - 20 else f"char {exc.pos}"
        raise PageError(f"truncated or invalid embedded JSON after {marker} ({exc.msg} at {where})") from None
    except RecursionError:
        raise PageError(f"embedded JSON after {marker} nests too deeply to read") from None
    return value


def page_kind(text: str) -> str:
    """``search``, ``job`` or ``unknown``, from what a saved page embeds."""
    if MOSAIC_MARKER in text or "job_seen_beacon" in text or "jobsearch-JobCountAndSortPane" in text:
        return "search"
    if INITIAL_DATA_MARKER in text or 'id="jobDescriptionText"' in text or '"JobPosting"' in text:
        return "job"
    return "unknown"


def job_key_from_url(url: str) -> str | None:
    values = parse_qs(urlparse(url).query).get("jk")
    return values[0] if values else None


def view_job_url(base_url: str, job_key: str) -> str:
    """The canonical job page URL of a job key on a country site."""
    return urljoin(base_url.rstrip("/") + "/", f"viewjob?jk={job_key}")


# ---------------------------------------------------------------- field helpers


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = normalise_whitespace(str(value))
    return text or None


class _Fields:
    """Reads a model's optional fields defensively: a value of an unexpected shape is treated as
    absent and its path is remembered in ``odd`` (reported with the posting, never fatal)."""

    def __init__(self) -> None:
        self.odd: list[str] = []

    def _note(self, path: str, value: Any) -> None:
        self.odd.append(f"{path}: {type(value).__name__}")

    def text(self, value: Any, path: str) -> str | None:
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, (str, int, float)):
            return _clean(value)
        self._note(path, value)
        return None

    def number(self, value: Any, path: str) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self._note(path, value)
            return None
        try:
            return float(value)
        except ValueError:
            self._note(path, value)
            return None

    def obj(self, value: Any, path: str) -> dict:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self._note(path, value)
        return {}

    def items(self, value: Any, path: str) -> list:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self._note(path, value)
        return []

    def flag(self, value: Any, path: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self._note(path, value)
        return None


def salary_period(label: Any) -> str | None:
    """Indeed's period label as one of hour/day/week/month/year (None when unknown)."""
    if not label or not isinstance(label, str):
        return None
    return _PERIODS.get(label.strip().lower())


def parse_salary_text(text: str | None) -> dict:
    """Salary fields from a published salary text such as ``$50 - $60 an hour``; the amounts and
    period are kept as published (``$95K`` is 95000, never converted to another period)."""
    if not text or not isinstance(text, str):
        return {}
    match = _SALARY_TEXT.search(text.replace("\u00a0", " "))
    if not match:
        return {}

    def amount(digits: str | None, thousands: str | None) -> float | None:
        if not digits:
            return None
        value = float(digits.replace(",", ""))
        return value * 1000 if thousands else value

    low = amount(match["lo"], match["lok"])
    high = amount(match["hi"], match["hik"])
    lowered = text.lower()
    if high is None and "up to" in lowered:
        low, high = None, low
    elif high is None and "from" not in lowered:
        high = low
    return {
        "salary_min": low,
        "salary_max": high,
        "salary_period": match["period"],
        "salary_currency": _CURRENCY_SYMBOLS.get(match["cur"] or ""),
    }


def site_currency(url: str | None) -> str | None:
    """The currency of the Indeed country site a URL belongs to (``uk.indeed.com`` -> GBP), None
    for a host that is not a known Indeed site (the sandbox's loopback URL stands for the US site)."""
    host = (urlparse(url or "").hostname or "").lower()
    if host in ("127.0.0.1", "localhost", "::1"):
        return "USD"
    if not host.endswith("indeed.com") and ".indeed." not in host:
        return None
    label = host.split(".")[0]
    if label in _SITE_CURRENCY:
        return _SITE_CURRENCY[label]
    for suffix, currency in _DOMAIN_CURRENCY.items():  # indeed.co.uk, de.indeed.com, ...
        if host.endswith(suffix):
            return currency
    return None


def _symbol(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    for symbol in _SYMBOL_CURRENCIES:  # longest first
        if symbol in text:
            return symbol
    return None


def salary_currency(code: Any, text: Any, default: str | None) -> str | None:
    """The salary's currency, or None rather than a wrong one.

    ``code`` (a field such as ``salarySnippet.currency``) is taken when it is a three-letter code
    that agrees with the currency symbol of the published ``text``; otherwise ``default`` (the
    site's or the posting country's currency) when the symbol agrees with it (or there is none)."""
    symbol = _symbol(text)
    allowed = _SYMBOL_CURRENCIES.get(symbol) if symbol else None
    if isinstance(code, str) and re.fullmatch(r"[A-Za-z]{3}", code.strip()):
        code = code.strip().upper()
        if allowed is None or code in allowed:
            return code
    if default and (allowed is None or default in allowed):
        return default
    if allowed and len(allowed) == 1:  # £ or €: the symbol alone says it
        return next(iter(allowed))
    return None


def _amount(value: float | None) -> float | None:
    # Indeed writes -1 for an open top ("From $X") and 0 for an open bottom ("Up to $X").
    return value if value is not None and value > 0 else None


def _salary(fields: _Fields, model: dict, path: str, keys: tuple[str, str, str], currency: str | None,
            estimate: bool) -> dict:
    low_key, high_key, period_key = keys
    values = {
        "salary_min": _amount(fields.number(model.get(low_key), f"{path}.{low_key}")),
        "salary_max": _amount(fields.number(model.get(high_key), f"{path}.{high_key}")),
        "salary_period": salary_period(model.get(period_key)),
        "salary_currency": currency,
        "salary_is_estimate": estimate,
    }
    if values["salary_min"] is None and values["salary_max"] is None:
        return {}
    return values


def _epoch_ms(value: float | None) -> dt.datetime | None:
    if value is None or value <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _iso_datetime(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # a bare date or local time: Indeed's JSON-LD dates are UTC
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _remote(model: Any, location: str | None = None, flag: bool | None = None) -> bool | None:
    """Remote or not: the ``remoteWorkModel`` type (``REMOTE_ALWAYS``; hybrid is not remote), else
    a ``remoteLocation`` flag that says so, else the location text; None when nothing says."""
    if isinstance(model, dict) and isinstance(model.get("type"), str) and model["type"]:
        kind = model["type"].upper()
        return kind.startswith("REMOTE") and "HYBRID" not in kind
    if flag is True:
        return True
    if location:
        lowered = location.lower()
        if "hybrid" in lowered:
            return False
        if "remote" in lowered:
            return True
    return None


def _taxonomy_labels(attributes: Any, label: str) -> list[str]:
    for group in attributes if isinstance(attributes, list) else []:
        if isinstance(group, dict) and group.get("label") == label:
            members = group.get("attributes")
            return [a["label"] for a in members if isinstance(a, dict) and isinstance(a.get("label"), str)] \
                if isinstance(members, list) else []
    return []


def _unique(values: list) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = _clean(value) if isinstance(value, str) else None
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _unexpected(where: str, exc: Exception) -> str:
    return f"unexpected shape in {where} ({type(exc).__name__}: {exc})"


#: What a reader of an unexpectedly shaped model can raise; anything else is a bug, not a page.
_SHAPE_ERRORS = (TypeError, AttributeError, ValueError, KeyError, IndexError)


# ---------------------------------------------------------------- search pages


def is_sponsored(result: dict) -> bool:
    """A sponsored card (an ad): ``sponsored: true``, an ``adId``, or a ``/pagead/`` click link.
    (``showSponsoredLabel`` is false on real sponsored cards too, so it is not a marker.)"""
    link = result.get("link")
    return (result.get("sponsored") is True or bool(result.get("adId"))
            or (isinstance(link, str) and link.startswith("/pagead/")))


def _card_from_model(result: dict, position: int, base_url: str, currency: str | None) -> dict:
    fields = _Fields()
    job_key = fields.text(result.get("jobkey"), "jobkey")
    if not job_key:
        raise PageError(f"card {position} has no jobkey")
    title = fields.text(result.get("displayTitle"), "displayTitle") or fields.text(result.get("title"), "title")
    if not title:
        raise PageError(f"card {job_key} has no title")
    location = fields.text(result.get("formattedLocation"), "formattedLocation")
    snippet = fields.obj(result.get("salarySnippet"), "salarySnippet")
    extracted = fields.obj(result.get("extractedSalary"), "extractedSalary")
    salary = _salary(fields, extracted, "extractedSalary", ("min", "max", "type"),
                     salary_currency(snippet.get("currency"), snippet.get("text"), currency), False)
    if not salary:
        # Indeed's own estimate: its currency is the site's (salarySnippet.currency is "" or
        # another country's code on such cards), checked against the range's symbol.
        estimated = fields.obj(result.get("estimatedSalary"), "estimatedSalary")
        salary = _salary(fields, estimated, "estimatedSalary", ("min", "max", "type"),
                         salary_currency(None, estimated.get("formattedRange"), currency), True)
    if not salary:
        text_salary = parse_salary_text(snippet.get("text"))
        if text_salary:
            text_salary["salary_currency"] = salary_currency(None, snippet.get("text"), currency)
            salary = {**text_salary, "salary_is_estimate": False}
    attributes = result.get("taxonomyAttributes")
    job_types = fields.items(result.get("jobTypes"), "jobTypes") + _taxonomy_labels(attributes, "job-types")
    remote = _remote(fields.obj(result.get("remoteWorkModel"), "remoteWorkModel") or None, location,
                     fields.flag(result.get("remoteLocation"), "remoteLocation"))
    if remote is None and _taxonomy_labels(attributes, "remote"):
        remote = True
    snippet_html = fields.text(result.get("snippet"), "snippet")
    return {
        "job_key": job_key,
        "url": view_job_url(base_url, job_key),
        "title": title,
        "company": fields.text(result.get("company"), "company"),
        "location": location,
        "is_remote": remote,
        "posted_at": _epoch_ms(fields.number(result.get("pubDate"), "pubDate")),
        **salary,
        "job_types": _unique(job_types),
        "snippet_text": html_to_text(snippet_html or "") or None,
        "sponsored": is_sponsored(result),
        "position": position,
        "odd_fields": fields.odd,
    }


def _total_from_model(model: dict) -> int | None:
    tiers = _dig(model, "metaData", "mosaicProviderJobCardsModel", "tierSummaries")
    if isinstance(tiers, list) and tiers:
        counts = [t.get("jobCount") for t in tiers if isinstance(t, dict) and isinstance(t.get("jobCount"), int)
                  and not isinstance(t.get("jobCount"), bool)]
        if counts:
            return sum(counts)
    return None


def _dom_cards(text: str, base_url: str, currency: str | None) -> tuple[list[dict], int | None, list[str]]:
    root = lxml.html.fromstring(text)
    cards: list[dict] = []
    skipped: list[str] = []
    for position, card in enumerate(_select(root, "div.job_seen_beacon, div.cardOutline")):
        link = _select(card, "h2.jobTitle a, a.jcs-JobTitle")
        job_key = link[0].get("data-jk") if link else None
        if not job_key and link:
            job_key = job_key_from_url(link[0].get("href") or "")
        title = _clean(link[0].text_content()) if link else None
        if not job_key or not title:
            skipped.append(f"DOM card {position} has no {'job key' if not job_key else 'title'}")
            continue
        if any(c["job_key"] == job_key for c in cards):  # both selectors can match one card
            continue

        def first(selector: str) -> str | None:
            found = _select(card, selector)
            return _clean(found[0].text_content()) if found else None

        location = first('[data-testid="text-location"], div.companyLocation')
        salary_text = first('[data-testid="attribute_snippet_testid"].salary-snippet-container, div.salary-snippet-container')
        salary = parse_salary_text(salary_text)
        if salary:
            salary["salary_currency"] = salary_currency(None, salary_text, currency)
        snippet = _select(card, "div.job-snippet, [data-testid='jobsnippet_footer']")
        href = link[0].get("href") or ""
        cards.append({
            "job_key": job_key,
            "url": view_job_url(base_url, job_key),
            "title": title,
            "company": first('[data-testid="company-name"], span.companyName'),
            "location": location,
            "is_remote": _remote(None, location),
            "posted_at": None,
            **({**salary, "salary_is_estimate": False} if salary else {}),
            "job_types": [],
            "snippet_text": html_to_text(lxml.html.tostring(snippet[0], encoding="unicode")) if snippet else None,
            "sponsored": href.startswith("/pagead/"),
            "position": len(cards),
            "odd_fields": [],
        })
    total = None
    count = _select(root, "div.jobsearch-JobCountAndSortPane-jobCount")
    if count:
        digits = re.sub(r"[^\d]", "", count[0].text_content())
        total = int(digits) if digits else None
    return cards, total, skipped


def _no_results(text: str) -> bool:
    return "jobsearch-NoResult-messageContainer" in text


def parse_search_page(text: str, base_url: str) -> SearchPage:
    """The cards and total of a search page (model first, DOM cards when the model is unusable).

    A card whose required fields are missing or of an unexpected shape is skipped with its reason
    (``SearchPage.skipped``); the page's other cards are kept. Raises :class:`PageError` when the
    page is a block page or holds neither cards nor an explicit "no results" message (an
    unreadable page is never taken for an empty result)."""
    reason = block_reason(text)
    if reason:
        raise PageError(reason)
    currency = site_currency(base_url)
    model_error = None
    try:
        model = extract_js_object(text, MOSAIC_MARKER)
    except PageError as exc:
        model, model_error = None, exc.reason
    results = _dig(model, "metaData", "mosaicProviderJobCardsModel", "results")
    if model is not None and not isinstance(results, list):
        model_error = "job-cards model has no metaData.mosaicProviderJobCardsModel.results"
    if isinstance(results, list):
        page = SearchPage(total=_total_from_model(model), source="model")
        for position, result in enumerate(results):
            try:
                if not isinstance(result, dict):
                    raise PageError(f"card {position} is not an object")
                page.cards.append(_card_from_model(result, position, base_url, currency))
            except PageError as exc:
                page.skipped.append(exc.reason)
            except _SHAPE_ERRORS as exc:
                page.skipped.append(_unexpected(f"card {position}", exc))
        if page.total is None and page.cards:
            page.skipped.append("job-cards model has no tierSummaries total")
        return page
    cards, total, skipped = _dom_cards(text, base_url, currency)
    if not cards and not _no_results(text):
        raise PageError(f"search page has no usable job-cards model ({model_error or 'absent'}) and no DOM cards")
    return SearchPage(cards=cards, total=total if total is not None else (0 if not cards else None),
                      source="dom", skipped=skipped, model_error=model_error,
                      truncated="</html>" not in text[-4096:].lower())


# ---------------------------------------------------------------- job pages


def _json_ld_posting(root) -> dict | None:
    for script in root.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, RecursionError):
            continue
        for node in data if isinstance(data, list) else [data]:
            if isinstance(node, dict) and node.get("@type") == "JobPosting":
                return node
    return None


def description_html(value: Any, path: str = "sanitizedJobDescription") -> str | None:
    """A description as HTML: a string (desktop pages), or an object whose ``content`` is one (the
    embedded mobile page); None when absent. Any other shape is refused with its path."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        content = value.get("content")
        if content is None or isinstance(content, str):
            return content
        raise PageError(f"unexpected shape: {path}.content is a {type(content).__name__}, not text")
    raise PageError(f"unexpected shape: {path} is a {type(value).__name__}, not text or {{content}}")


def _check_description(value: Any, path: str = "description") -> tuple[str, str]:
    html = description_html(value, path)
    if html is None:
        raise PageError("missing field: description")
    size = len(html.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        raise PageError(f"description too large: {size} bytes > {MAX_DESCRIPTION_BYTES}")
    text = html_to_text(html)
    if not text:
        raise PageError("empty description")
    return html, text


def parse_job_page(text: str, url: str) -> dict:
    """The posting of a job page as item fields (without the search fields: keywords, page...).

    Source order: ``_initialData`` model, then the JSON-LD ``JobPosting`` block, then the DOM
    (``#jobDescriptionText`` and the header). Raises :class:`PageError` with the reason when the
    page is a block page, or lacks a title or a usable description. A field of an unexpected
    shape in one source lets the next source try; the reason names the field."""
    reason = block_reason(text)
    if reason:
        raise PageError(reason)
    model_error = None
    try:
        data = extract_js_object(text, INITIAL_DATA_MARKER)
    except PageError as exc:
        data, model_error = None, exc.reason
    info = _dig(data, "jobInfoWrapperModel", "jobInfoModel")
    if data is not None and not isinstance(info, dict):
        model_error = "_initialData has no jobInfoWrapperModel.jobInfoModel"
    job_key = job_key_from_url(url)
    if not job_key and isinstance(data, dict) and isinstance(data.get("jobKey"), str):
        job_key = _clean(data["jobKey"])
    errors: list[str] = []
    if isinstance(info, dict):
        try:
            return _posting_from_model(data, info, job_key, url)
        except PageError as exc:  # a broken model may still be rescued by a fallback
            errors.append(exc.reason)
        except _SHAPE_ERRORS as exc:
            errors.append(_unexpected("_initialData", exc))
    else:
        errors.append(model_error or "no _initialData")
    root = lxml.html.fromstring(text) if text.strip() else None
    ld = _json_ld_posting(root) if root is not None else None
    if ld is None:
        errors.append("no JSON-LD")
    else:
        if not job_key and isinstance(_dig(ld, "identifier", "value"), str):
            job_key = _clean(_dig(ld, "identifier", "value"))
        try:
            return _posting_from_json_ld(ld, root, job_key, url)
        except PageError as exc:
            errors.append(f"JSON-LD: {exc.reason}")
        except _SHAPE_ERRORS as exc:
            errors.append(f"JSON-LD: {_unexpected('JobPosting', exc)}")
    if root is None or not _select(root, "#jobDescriptionText"):
        errors.append("no #jobDescriptionText")
    else:
        try:
            return _posting_from_dom(root, job_key, url)
        except PageError as exc:
            errors.append(f"DOM: {exc.reason}")
    raise PageError(f"{errors[0]} (fallbacks: {'; '.join(errors[1:])})")


def _job_salary(fields: _Fields, data: dict, info: dict, header: dict, currency: str | None) -> dict:
    """The job page's pay: the published salary (``salaryInfoModel`` at the top level of
    ``_initialData``; older layouts also under ``jobInfoModel`` or the details section), then the
    header's ``salary*`` fields, then Indeed's estimate (``salaryGuideModel.estimatedSalaryModel``)."""
    guide = fields.obj(data.get("salaryGuideModel"), "salaryGuideModel")
    country = guide.get("country") if isinstance(guide.get("country"), str) else data.get("country")
    default = _COUNTRY_CURRENCY.get(country.upper()) if isinstance(country, str) else None
    default = default or currency
    published = [
        ("salaryInfoModel", data.get("salaryInfoModel")),
        ("jobInfoModel.salaryInfoModel", info.get("salaryInfoModel")),
        ("jobDetailsSection.salaryInfoModel",
         _dig(info, "jobDescriptionSectionModel", "jobDetailsSection", "salaryInfoModel")),
    ]
    for path, value in published:
        model = fields.obj(value, path)
        code = salary_currency(model.get("salaryCurrency"), model.get("salaryText"), default)
        salary = _salary(fields, model, path, ("salaryMin", "salaryMax", "salaryType"), code, False)
        if salary:
            return salary
        parsed = parse_salary_text(model.get("salaryText"))
        if parsed:
            parsed["salary_currency"] = salary_currency(None, model.get("salaryText"), default)
            return {**parsed, "salary_is_estimate": False}
    salary = _salary(fields, header, "jobInfoHeaderModel", ("salaryMin", "salaryMax", "salaryType"),
                     salary_currency(header.get("salaryCurrency"), None, default), False)
    if salary:
        return salary
    estimates = [("salaryGuideModel.estimatedSalaryModel", guide.get("estimatedSalaryModel")),
                 ("jobInfoModel.salaryGuideModel.estimatedSalaryModel",
                  _dig(info, "salaryGuideModel", "estimatedSalaryModel"))]
    for path, value in estimates:
        model = fields.obj(value, path)
        salary = _salary(fields, model, path, ("min", "max", "type"),
                         salary_currency(None, model.get("formattedRange"), default), True)
        if salary:
            return salary
    return {}


def _posting_from_model(data: dict, info: dict, job_key: str | None, url: str) -> dict:
    fields = _Fields()
    header = fields.obj(info.get("jobInfoHeaderModel"), "jobInfoHeaderModel")
    metadata = fields.obj(info.get("jobMetadataHeaderModel"), "jobMetadataHeaderModel")
    title = header.get("jobTitle")
    if title is not None and not isinstance(title, str):
        raise PageError(f"unexpected shape: jobInfoHeaderModel.jobTitle is a {type(title).__name__}, not text")
    title = _clean(title)
    if not title:
        raise PageError("missing field: jobInfoHeaderModel.jobTitle")
    html, description_text = _check_description(info.get("sanitizedJobDescription"),
                                                 "jobInfoModel.sanitizedJobDescription")
    location = fields.text(header.get("formattedLocation"), "jobInfoHeaderModel.formattedLocation")
    salary = _job_salary(fields, data, info, header, site_currency(url))
    job_type = metadata.get("jobType")
    job_types = [part.strip() for part in job_type.split(",")] if isinstance(job_type, str) else []
    job_types += _taxonomy_labels(header.get("taxonomyAttributes"), "job-types")
    remote_model = header.get("remoteWorkModel") or info.get("remoteWorkModel")
    remote = _remote(fields.obj(remote_model, "jobInfoHeaderModel.remoteWorkModel") or None, location,
                     fields.flag(header.get("remoteLocation"), "jobInfoHeaderModel.remoteLocation"))
    created = fields.number(_dig(info, "jobMetadataFooterModel", "createDate"), "jobMetadataFooterModel.createDate")
    if not job_key and isinstance(info.get("jobKey"), str):
        job_key = _clean(info["jobKey"])
    return {
        "job_key": job_key,
        "url": url,
        "title": title,
        "company": fields.text(header.get("companyName"), "jobInfoHeaderModel.companyName"),
        "location": location,
        "is_remote": remote,
        "posted_at": _epoch_ms(created),
        **salary,
        "job_types": _unique(job_types),
        "sponsored": data.get("sponsored") is True,
        "description_html": html,
        "description_text": description_text,
        "parsed_from": "model",
        "odd_fields": fields.odd,
    }


def _posting_from_json_ld(ld: dict, root, job_key: str | None, url: str) -> dict:
    fields = _Fields()
    title = ld.get("title")
    if title is not None and not isinstance(title, str):
        raise PageError(f"unexpected shape: JobPosting.title is a {type(title).__name__}, not text")
    title = _clean(title)
    if not title:
        raise PageError("missing field: JobPosting.title")
    description = ld.get("description")
    dom = _select(root, "#jobDescriptionText")
    if not description and dom:
        description = lxml.html.tostring(dom[0], encoding="unicode")
    html, description_text = _check_description(description, "JobPosting.description")
    base_salary = fields.obj(ld.get("baseSalary"), "JobPosting.baseSalary")
    value = fields.obj(base_salary.get("value"), "JobPosting.baseSalary.value")
    value = {"min": value.get("minValue", value.get("value")), "max": value.get("maxValue", value.get("value")),
             "unit": value.get("unitText")}
    salary = _salary(fields, value, "JobPosting.baseSalary.value", ("min", "max", "unit"),
                     salary_currency(base_salary.get("currency"), None, site_currency(url)), False)
    address = fields.obj(_dig(ld, "jobLocation", "address"), "JobPosting.jobLocation.address")
    parts = [fields.text(address.get(k), f"address.{k}") for k in ("addressLocality", "addressRegion")]
    location = ", ".join(p for p in parts if p) or None
    employment = ld.get("employmentType") or []
    employment = [employment] if isinstance(employment, str) else fields.items(employment, "JobPosting.employmentType")
    remote = True if ld.get("jobLocationType") == "TELECOMMUTE" else _remote(None, location)
    return {
        "job_key": job_key,
        "url": url,
        "title": title,
        "company": fields.text(_dig(ld, "hiringOrganization", "name"), "JobPosting.hiringOrganization.name"),
        "location": location or ("Remote" if remote else None),
        "is_remote": remote,
        "posted_at": _iso_datetime(ld.get("datePosted")),
        **salary,
        "job_types": _unique([_JOB_TYPES.get(e.upper(), e) for e in employment if isinstance(e, str)]),
        "description_html": html,
        "description_text": description_text,
        "parsed_from": "json-ld",
        "odd_fields": fields.odd,
    }


def _posting_from_dom(root, job_key: str | None, url: str) -> dict:
    def first(selector: str) -> str | None:
        found = _select(root, selector)
        return _clean(found[0].text_content()) if found else None

    title = first("h1.jobsearch-JobInfoHeader-title, h1")
    if title and title.endswith("- job post"):
        title = title[: -len("- job post")].strip()
    if not title:
        raise PageError("missing field: title (no model, no JSON-LD, no h1)")
    html = lxml.html.tostring(_select(root, "#jobDescriptionText")[0], encoding="unicode")
    html, description_text = _check_description(html)
    location = first('[data-testid="inlineHeader-companyLocation"], [data-testid="job-location"]')
    salary_text = first("#salaryInfoAndJobType")
    salary = parse_salary_text(salary_text)
    if salary:
        salary["salary_currency"] = salary_currency(None, salary_text, site_currency(url))
    return {
        "job_key": job_key,
        "url": url,
        "title": title,
        "company": first('[data-testid="inlineHeader-companyName"], [data-company-name="true"]'),
        "location": location,
        "is_remote": _remote(None, location),
        "posted_at": None,
        **({**salary, "salary_is_estimate": False} if salary else {}),
        "job_types": [],
        "description_html": html,
        "description_text": description_text,
        "parsed_from": "dom",
        "odd_fields": [],
    }


def merge_card(posting: dict, card: dict | None) -> dict:
    """The job page's fields, completed by the search card's where the job page had none
    (posted date, salary, job types, remote flag, sponsored)."""
    if not card:
        return posting
    merged = dict(posting)
    for key in ("company", "location", "is_remote", "posted_at"):
        if merged.get(key) is None and card.get(key) is not None:
            merged[key] = card[key]
    if merged.get("salary_min") is None and merged.get("salary_max") is None and (
            card.get("salary_min") is not None or card.get("salary_max") is not None):
        for key in ("salary_min", "salary_max", "salary_period", "salary_currency", "salary_is_estimate"):
            merged[key] = card.get(key)
    merged["job_types"] = _unique(list(merged.get("job_types") or []) + list(card.get("job_types") or []))
    merged["sponsored"] = bool(merged.get("sponsored") or card.get("sponsored"))
    merged["odd_fields"] = list(merged.get("odd_fields") or []) + [f"card {f}" for f in card.get("odd_fields") or []]
    return merged
