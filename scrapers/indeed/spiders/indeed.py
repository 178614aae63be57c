"""The Indeed spider: every posting of the last day for keyword x location searches.

For each search it pages through the results (10 a page) following the total Indeed reports,
stopping at Indeed's ~1,000-result cap (logged and counted when the cap cuts results). Each job
key is requested once; a posting found again by another search only gains that keyword. Block
pages are recognised, counted and retried with fresh headers; pages that cannot be parsed become
quarantine items with their reason, and the crawl goes on.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError

from scrapers.indeed.items import IndeedPostingItem, QuarantineItem
from scrapers.indeed.parsing import (
    PageError,
    block_reason,
    decode_body,
    merge_card,
    parse_job_page,
    parse_search_page,
)

logger = logging.getLogger(__name__)

_ITEM_FIELDS = set(IndeedPostingItem.fields)


def _guarded(kind: str):
    """A callback whose unexpected failure (a page that breaks the parser, such as JSON nested
    deeper than the decoder goes) becomes a quarantine item with its reason, counted as an
    error, instead of a spider error that loses the posting without a trace."""
    def wrap(callback):
        @functools.wraps(callback)
        def guarded(self, response, *args, **kwargs):
            try:
                yield from callback(self, response, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - recorded with its reason, never lost
                logger.exception("parser error on %s", response.meta.get("proxy_api_target") or response.url)
                self._count("parser_errors")
                if kind != "search_page":  # quarantine() counts lost search pages itself
                    self._count("errors")
                yield self.quarantine(response, f"parser error: {type(exc).__name__}: {str(exc)[:200]}", kind)
        return guarded
    return wrap


def _excerpt(body: bytes, limit: int = 2000) -> str:
    return body[:limit].decode("utf-8", errors="backslashreplace")


class IndeedSpider(scrapy.Spider):
    name = "indeed"
    # Block pages often come with 403; they must reach the callback to be recognised.
    handle_httpstatus_list = [403]

    def __init__(self, keywords: list[str] | str = "", locations: list[str] | str = "remote",
                 base_url: str | None = None, max_pages: int | str | None = None, **kwargs):
        super().__init__(**kwargs)
        split = lambda v: [s.strip() for s in v.split(",") if s.strip()] if isinstance(v, str) else list(v)  # noqa: E731
        self.keywords = split(keywords)
        self.locations = split(locations)
        if not self.keywords or not self.locations:
            raise ValueError("the spider needs at least one keyword and one location")
        self.base_url_arg = base_url
        self.max_pages = int(max_pages) if max_pages not in (None, "", "None") else None
        #: job key -> every keyword that found it, in the order found
        self.found: dict[str, list[str]] = {}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.base_url = (spider.base_url_arg or settings.get("INDEED_BASE_URL")).rstrip("/")
        spider.page_size = settings.getint("INDEED_PAGE_SIZE", 10)
        spider.cap = settings.getint("INDEED_RESULT_CAP", 1000)
        spider.fromage = settings.getint("INDEED_FROMAGE", 1)
        spider.block_retries = settings.getint("INDEED_BLOCK_RETRY_TIMES", 2)
        spider.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        return spider

    # ------------------------------------------------------------ requests

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.keywords:
            for location in self.locations:
                yield self.search_request(keyword, location, 0)

    def search_url(self, keyword: str, location: str, start: int) -> str:
        query = {"q": keyword, "l": location, "fromage": self.fromage, "sort": "date"}
        if start:
            query["start"] = start
        return f"{self.base_url}/jobs?{urlencode(query)}"

    def search_request(self, keyword: str, location: str, start: int, blocked: int = 0,
                       truncated: int = 0) -> scrapy.Request:
        return scrapy.Request(
            self.search_url(keyword, location, start), callback=self.parse_search, errback=self.failed,
            cb_kwargs={"keyword": keyword, "location": location, "start": start},
            meta={"kind": "search_page", "blocked": blocked, "truncated": truncated, "keyword": keyword,
                  "location": location, **self._block_delay(blocked or truncated)},
            dont_filter=blocked > 0 or truncated > 0, priority=10,  # finish searches first: keywords complete early
        )

    def job_request(self, card: dict, keyword: str, location: str, page: int, referer: str,
                    blocked: int = 0) -> scrapy.Request:
        return scrapy.Request(
            card["url"], callback=self.parse_job, errback=self.failed,
            cb_kwargs={"card": card, "location": location, "page": page},
            meta={"kind": "job_page", "blocked": blocked, "keyword": keyword, "location": location,
                  "job_key": card["job_key"], "from_search": True, "referer_url": referer,
                  **self._block_delay(blocked)},
            dont_filter=blocked > 0,
        )

    def _block_delay(self, blocked: int) -> dict:
        return {"backoff_delay": self.backoff_base * 2 ** (blocked - 1)} if blocked else {}

    # ------------------------------------------------------------ callbacks

    def _count(self, key: str, by: int = 1) -> None:
        self.crawler.stats.inc_value(f"indeed/{key}", by)

    def quarantine(self, response_or_request, reason: str, kind: str, **extra) -> QuarantineItem:
        meta = response_or_request.meta
        body = getattr(response_or_request, "body", b"")
        if kind in ("search_page", "blocked"):  # a lost search page or a lost job: the run is incomplete
            self._count("errors")
        # Behind a proxy API the request URL is the proxy's, with its key in the query string:
        # record (and log) the target URL instead, in the reason too.
        sent_url = getattr(response_or_request, "url", None)
        url = meta.get("proxy_api_target") or sent_url
        if sent_url and url != sent_url:
            reason = reason.replace(sent_url, url)
        logger.warning("quarantined %s %s: %s", kind, url, reason)
        job_key = meta.get("job_key")
        return QuarantineItem(
            kind=kind, reason=reason, url=url,
            job_key=job_key, keywords=list(self.found.get(job_key) or [meta.get("keyword")]),
            search_location=meta.get("location"), status=getattr(response_or_request, "status", None),
            excerpt=_excerpt(body) if body else None, **extra,
        )

    def _blocked(self, response: Response, reason: str, retry) -> Iterator:
        tries = response.meta.get("blocked", 0)
        self._count("blocked")
        logger.warning("BLOCKED (%s) on %s, attempt %d", reason, response.url, tries + 1)
        if tries < self.block_retries:
            yield retry(tries + 1)
        else:
            yield self.quarantine(response, f"{reason}; gave up after {tries + 1} attempts", "blocked")

    @_guarded("search_page")
    def parse_search(self, response: Response, keyword: str, location: str, start: int) -> Iterator:
        self._count("search_pages")
        try:
            text = decode_body(response.body)
        except PageError as exc:
            yield self.quarantine(response, exc.reason, "search_page")
            return
        reason = block_reason(text)
        if reason:
            yield from self._blocked(response, reason,
                                     lambda n: self.search_request(keyword, location, start, blocked=n))
            return
        try:
            page = parse_search_page(text, self.base_url)
        except PageError as exc:
            yield self.quarantine(response, exc.reason, "search_page")
            return
        page_number = start // self.page_size
        if page.source == "dom" and page.truncated:
            # The page was cut short (a dropped connection): its card model is broken and the DOM
            # cards past the cut are missing. Fetch it again; if it stays cut, use the cards it
            # has and say the page was degraded (counted, quarantined with the reason).
            tries = response.meta.get("truncated", 0)
            if tries < self.block_retries:
                self._count("search_pages_refetched")
                logger.warning("search page %s was cut short (%s), fetching it again", response.url,
                               page.model_error)
                yield self.search_request(keyword, location, start, truncated=tries + 1)
                return
            self._count("search_pages_degraded")
            yield self.quarantine(response, f"degraded: page cut short ({page.model_error or 'no card model'}); "
                                            f"{len(page.cards)} DOM cards read, later cards may be missing",
                                  "search_page_degraded")
        if page.source == "dom":
            self._count("search_pages_dom_fallback")
            logger.warning("search page %s: card model unusable (%s), read %d DOM cards",
                           response.url, page.model_error, len(page.cards))
        for reason in page.skipped:
            yield self.quarantine(response, reason, "search_card")
        for card in page.cards:
            self._count("cards")
            key = card["job_key"]
            if key in self.found:
                self._count("duplicates")
                if keyword not in self.found[key]:
                    self.found[key].append(keyword)
                continue
            self.found[key] = [keyword]
            yield self.job_request(card, keyword, location, page_number, response.url)
        yield from self._next_page(response, page, keyword, location, start)

    def _next_page(self, response: Response, page, keyword: str, location: str, start: int) -> Iterator:
        total = page.total
        if start == 0:
            logger.info("search %r in %r: %s results", keyword, location, "unknown" if total is None else total)
            if total is not None and total > self.cap:
                self._count("cap_hit")
                logger.warning("search %r in %r reports %d results; Indeed serves only the first %d, "
                               "%d will not be collected", keyword, location, total, self.cap, total - self.cap)
        next_start = start + self.page_size
        # Unknown total (DOM page without a count): go on while pages come full.
        limit = min(total, self.cap) if total is not None else (self.cap if len(page.cards) >= self.page_size else 0)
        if next_start >= limit or not page.cards:
            return
        if self.max_pages is not None and next_start // self.page_size >= self.max_pages:
            self._count("max_pages_hit")
            logger.info("search %r in %r: stopping at max_pages=%d", keyword, location, self.max_pages)
            return
        yield self.search_request(keyword, location, next_start)

    @_guarded("job_page")
    def parse_job(self, response: Response, card: dict, location: str, page: int) -> Iterator:
        self._count("job_pages")
        try:
            text = decode_body(response.body)
        except PageError as exc:
            yield self.quarantine(response, exc.reason, "job_page")
            return
        reason = block_reason(text)
        if reason:
            keyword = response.meta["keyword"]
            referer = response.meta.get("referer_url", "")
            yield from self._blocked(response, reason,
                                     lambda n: self.job_request(card, keyword, location, page, referer, blocked=n))
            return
        try:
            posting = parse_job_page(text, card["url"])
        except PageError as exc:
            yield self.quarantine(response, exc.reason, "job_page")
            return
        self._count(f"parsed_from/{posting.pop('parsed_from')}")
        posting = merge_card(posting, card)
        posting["job_key"] = card["job_key"]  # the key the search gave: dedupe and keywords use it
        item = IndeedPostingItem({k: v for k, v in posting.items() if k in _ITEM_FIELDS})
        item.setdefault("salary_is_estimate", False)
        item["keywords"] = list(self.found[card["job_key"]])  # completed by the pipeline at close
        item["search_location"] = location
        item["page"] = page
        item["position"] = card["position"]
        item["scraped_at"] = dt.datetime.now(dt.timezone.utc)
        yield item

    def failed(self, failure) -> Iterator:
        """A request that failed for good (HTTP error after retries, DNS, timeout)."""
        request = failure.request
        if failure.check(HttpError):
            response = failure.value.response
            reason = f"HTTP {response.status}"
            yield self.quarantine(response, reason, request.meta.get("kind", "page"))
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
            yield self.quarantine(request, reason, request.meta.get("kind", "page"))
        self._count("failed_requests")
        if request.meta.get("kind") != "search_page":  # quarantine() counted search pages already
            self._count("errors")
