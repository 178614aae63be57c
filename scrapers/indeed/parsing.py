"""Pure parsers for the pages Indeed serves; no Scrapy engine needed.

Two page kinds:

* a search page (``/jobs?q=...``) embeds the result cards as a JavaScript assignment
  ``window.mosaic.providerData["mosaic-provider-jobcards"]={...};`` whose results sit under
  ``metaData.mosaicProviderJobCardsModel.results`` and whose total sits in ``tierSummaries``.
  When the model is absent or broken the DOM cards (``div.job_seen_beacon``) are read instead.
* a job page (``/viewjob?jk=...``) embeds ``window._initialData={...};`` with the posting under
  ``jobInfoWrapperModel.jobInfoModel``; a JSON-LD ``JobPosting`` block and the
  ``#jobDescriptionText`` element are the fallbacks.

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
_BLOCK_MARKERS = ('id="challenge-form"', 'class="h-captcha"', 'id="cf-challenge-running"', "/cdn-cgi/challenge-platform/")

# "$50 - $60 an hour", "£40,000 a year", "From $95K a year", "Up to €30 per hour"
_SALARY_TEXT = re.compile(
    r"(?P<cur>[$£€])?\s*(?P<lo>\d[\d,]*(?:\.\d+)?)\s*(?P<lok>[Kk])?"
    r"(?:\s*(?:-|–|to)\s*[$£€]?\s*(?P<hi>\d[\d,]*(?:\.\d+)?)\s*(?P<hik>[Kk])?)?"
    r"\s*(?:an?|per)\s+(?P<period>hour|day|week|month|year)",
)
_CURRENCY_SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR"}
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


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def salary_period(label: Any) -> str | None:
    """Indeed's period label as one of hour/day/week/month/year (None when unknown)."""
    if not label:
        return None
    return _PERIODS.get(str(label).strip().lower())


def parse_salary_text(text: str | None) -> dict:
    """Salary fields from a published salary text such as ``$50 - $60 an hour``; the amounts and
    period are kept as published (``$95K`` is 95000, never converted to another period)."""
    if not text:
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


def _salary(low: Any, high: Any, period: Any, currency: Any, estimate: bool) -> dict:
    values = {
        "salary_min": _number(low),
        "salary_max": _number(high),
        "salary_period": salary_period(period),
        "salary_currency": (str(currency).upper()[:3] if currency else None),
        "salary_is_estimate": estimate,
    }
    if values["salary_min"] is None and values["salary_max"] is None:
        return {}
    return values


def _epoch_ms(value: Any) -> dt.datetime | None:
    number = _number(value)
    if number is None:
        return None
    return dt.datetime.fromtimestamp(number / 1000, tz=dt.timezone.utc)


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


def _remote(model: Any, location: str | None = None) -> bool | None:
    if isinstance(model, dict) and model.get("type"):
        kind = str(model["type"]).upper()
        return kind.startswith("REMOTE") and "HYBRID" not in kind
    if location:
        lowered = location.lower()
        if "hybrid" in lowered:
            return False
        if "remote" in lowered:
            return True
    return None


def _taxonomy_labels(attributes: Any, label: str) -> list[str]:
    for group in attributes or []:
        if isinstance(group, dict) and group.get("label") == label:
            return [a["label"] for a in group.get("attributes") or [] if isinstance(a, dict) and a.get("label")]
    return []


def _unique(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = _clean(value)
        if value:
            seen.setdefault(value, None)
    return list(seen)


# ---------------------------------------------------------------- search pages


def _card_from_model(result: dict, position: int, base_url: str) -> dict:
    job_key = _clean(result.get("jobkey"))
    if not job_key:
        raise PageError(f"card {position} has no jobkey")
    title = _clean(result.get("displayTitle") or result.get("title"))
    if not title:
        raise PageError(f"card {job_key} has no title")
    location = _clean(result.get("formattedLocation"))
    salary = _salary(_dig(result, "extractedSalary", "min"), _dig(result, "extractedSalary", "max"),
                     _dig(result, "extractedSalary", "type"), _dig(result, "salarySnippet", "currency"), False)
    if not salary:
        salary = _salary(_dig(result, "estimatedSalary", "min"), _dig(result, "estimatedSalary", "max"),
                         _dig(result, "estimatedSalary", "type"), _dig(result, "salarySnippet", "currency"), True)
    if not salary:
        text_salary = parse_salary_text(_dig(result, "salarySnippet", "text"))
        salary = {**text_salary, "salary_is_estimate": False} if text_salary else {}
    job_types = list(result.get("jobTypes") or []) + _taxonomy_labels(result.get("taxonomyAttributes"), "job-types")
    remote = _remote(result.get("remoteWorkModel"), location)
    if remote is None and _taxonomy_labels(result.get("taxonomyAttributes"), "remote"):
        remote = True
    return {
        "job_key": job_key,
        "url": view_job_url(base_url, job_key),
        "title": title,
        "company": _clean(result.get("company")),
        "location": location,
        "is_remote": remote,
        "posted_at": _epoch_ms(result.get("pubDate")),
        **salary,
        "job_types": _unique(job_types),
        "snippet_text": html_to_text(result.get("snippet") or "") or None,
        "position": position,
    }


def _total_from_model(model: dict) -> int | None:
    tiers = _dig(model, "metaData", "mosaicProviderJobCardsModel", "tierSummaries")
    if isinstance(tiers, list) and tiers:
        counts = [t.get("jobCount") for t in tiers if isinstance(t, dict) and isinstance(t.get("jobCount"), int)]
        if counts:
            return sum(counts)
    return None


def _dom_cards(text: str, base_url: str) -> tuple[list[dict], int | None, list[str]]:
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
        snippet = _select(card, "div.job-snippet, [data-testid='jobsnippet_footer']")
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
            "position": len(cards),
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

    Raises :class:`PageError` when the page is a block page or holds neither cards nor an explicit
    "no results" message (an unreadable page is never taken for an empty result)."""
    reason = block_reason(text)
    if reason:
        raise PageError(reason)
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
                page.cards.append(_card_from_model(result, position, base_url))
            except PageError as exc:
                page.skipped.append(exc.reason)
        if page.total is None and page.cards:
            page.skipped.append("job-cards model has no tierSummaries total")
        return page
    cards, total, skipped = _dom_cards(text, base_url)
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


def _check_description(description_html: str | None) -> tuple[str, str]:
    if description_html is None:
        raise PageError("missing field: description")
    size = len(description_html.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        raise PageError(f"description too large: {size} bytes > {MAX_DESCRIPTION_BYTES}")
    text = html_to_text(description_html)
    if not text:
        raise PageError("empty description")
    return description_html, text


def parse_job_page(text: str, url: str) -> dict:
    """The posting of a job page as item fields (without the search fields: keywords, page...).

    Source order: ``_initialData`` model, then the JSON-LD ``JobPosting`` block, then the DOM
    (``#jobDescriptionText`` and the header). Raises :class:`PageError` with the reason when the
    page is a block page, or lacks a title or a usable description."""
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
    job_key = job_key_from_url(url) or (_clean(data.get("jobKey")) if isinstance(data, dict) else None)
    errors: list[str] = []
    if isinstance(info, dict):
        try:
            return _posting_from_model(info, job_key, url)
        except PageError as exc:  # a broken model may still be rescued by a fallback
            errors.append(exc.reason)
    else:
        errors.append(model_error or "no _initialData")
    root = lxml.html.fromstring(text) if text.strip() else None
    ld = _json_ld_posting(root) if root is not None else None
    if ld is None:
        errors.append("no JSON-LD")
    else:
        job_key = job_key or _clean(_dig(ld, "identifier", "value"))
        try:
            return _posting_from_json_ld(ld, root, job_key, url)
        except PageError as exc:
            errors.append(f"JSON-LD: {exc.reason}")
    if root is None or not _select(root, "#jobDescriptionText"):
        errors.append("no #jobDescriptionText")
    else:
        try:
            return _posting_from_dom(root, job_key, url)
        except PageError as exc:
            errors.append(f"DOM: {exc.reason}")
    raise PageError(f"{errors[0]} (fallbacks: {'; '.join(errors[1:])})")


def _posting_from_model(info: dict, job_key: str | None, url: str) -> dict:
    header = info.get("jobInfoHeaderModel") or {}
    metadata = info.get("jobMetadataHeaderModel") or {}
    title = _clean(header.get("jobTitle"))
    if not title:
        raise PageError("missing field: jobInfoHeaderModel.jobTitle")
    description_html, description_text = _check_description(info.get("sanitizedJobDescription"))
    location = _clean(header.get("formattedLocation"))
    salary_info = info.get("salaryInfoModel") or {}
    salary = _salary(salary_info.get("salaryMin"), salary_info.get("salaryMax"), salary_info.get("salaryType"),
                     salary_info.get("salaryCurrency"), False)
    if not salary:
        estimate = _dig(info, "salaryGuideModel", "estimatedSalaryModel") or {}
        salary = _salary(estimate.get("min"), estimate.get("max"), estimate.get("type"),
                         estimate.get("currency") or salary_info.get("salaryCurrency"), True)
    if not salary and salary_info.get("salaryText"):
        parsed = parse_salary_text(salary_info["salaryText"])
        salary = {**parsed, "salary_is_estimate": False} if parsed else {}
    job_type = metadata.get("jobType")
    job_types = [part.strip() for part in job_type.split(",")] if isinstance(job_type, str) else []
    return {
        "job_key": job_key or _clean(info.get("jobKey")),
        "url": url,
        "title": title,
        "company": _clean(header.get("companyName")),
        "location": location,
        "is_remote": _remote(header.get("remoteWorkModel") or info.get("remoteWorkModel"), location),
        "posted_at": _epoch_ms(_dig(info, "jobMetadataFooterModel", "createDate")),
        **salary,
        "job_types": _unique(job_types),
        "description_html": description_html,
        "description_text": description_text,
        "parsed_from": "model",
    }


def _posting_from_json_ld(ld: dict, root, job_key: str | None, url: str) -> dict:
    title = _clean(ld.get("title"))
    if not title:
        raise PageError("missing field: JobPosting.title")
    description = ld.get("description")
    dom = _select(root, "#jobDescriptionText")
    if not description and dom:
        description = lxml.html.tostring(dom[0], encoding="unicode")
    description_html, description_text = _check_description(description)
    value = _dig(ld, "baseSalary", "value") or {}
    salary = _salary(value.get("minValue", value.get("value")), value.get("maxValue", value.get("value")),
                     value.get("unitText"), _dig(ld, "baseSalary", "currency"), False)
    address = _dig(ld, "jobLocation", "address") or {}
    location = ", ".join(p for p in (address.get("addressLocality"), address.get("addressRegion")) if p) or None
    employment = ld.get("employmentType") or []
    employment = [employment] if isinstance(employment, str) else employment
    remote = True if ld.get("jobLocationType") == "TELECOMMUTE" else _remote(None, location)
    return {
        "job_key": job_key,
        "url": url,
        "title": title,
        "company": _clean(_dig(ld, "hiringOrganization", "name")),
        "location": location or ("Remote" if remote else None),
        "is_remote": remote,
        "posted_at": _iso_datetime(ld.get("datePosted")),
        **salary,
        "job_types": _unique([_JOB_TYPES.get(str(e).upper(), str(e)) for e in employment]),
        "description_html": description_html,
        "description_text": description_text,
        "parsed_from": "json-ld",
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
    description_html = lxml.html.tostring(_select(root, "#jobDescriptionText")[0], encoding="unicode")
    description_html, description_text = _check_description(description_html)
    location = first('[data-testid="inlineHeader-companyLocation"], [data-testid="job-location"]')
    salary = parse_salary_text(first("#salaryInfoAndJobType"))
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
        "description_html": description_html,
        "description_text": description_text,
        "parsed_from": "dom",
    }


def merge_card(posting: dict, card: dict | None) -> dict:
    """The job page's fields, completed by the search card's where the job page had none
    (posted date, salary, job types, remote flag)."""
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
    return merged
