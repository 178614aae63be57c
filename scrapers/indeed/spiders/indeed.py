"""The Indeed spider: every posting of the last day for keyword x location searches.

For each search (``filter=0``: Indeed otherwise folds "similar" postings away) it pages through
the results (10 organic cards a page, plus sponsored ones) following the total Indeed reports,
stopping at Indeed's ~1,000-result cap (logged and counted when the cap cuts results). Each job
key is requested once; a posting found again by another search only gains that keyword.
Sponsored cards are ads that ignore the date filter: kept when posted inside the window, else
counted and skipped.

Cloudflare's challenge (``cf-mitigated: challenge`` on a 403/429/503, or its page) and other block
pages are recognised, counted and retried a few times after a long wait, never in a tight loop;
when blocks come back to back (``INDEED_BLOCK_WALL`` in a row) the crawl stops with a message
saying what to configure (a proxy API). Pages that cannot be parsed become quarantine items with
their reason, and the crawl goes on.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError

from scrapers.indeed.items import IndeedPostingItem, QuarantineItem
from scrapers.indeed.parsing import (
    PageError,
    challenge_reason,
    decode_body,
    merge_card,
    parse_job_page,
    parse_search_page,
)

logger = logging.getLogger(__name__)

_ITEM_FIELDS = set(IndeedPostingItem.fields)

#: Why the crawl stopped early (``CloseSpider`` reasons), as the manifest reports them.
WALL_OF_BLOCKS = "blocked"
PROXY_API_REFUSED = "proxy_api_refused"

DIRECT_WALL_MESSAGE = (
    "Indeed answered {blocks} requests in a row with {reason}: requests sent directly cannot pass "
    "Cloudflare's challenge, and retrying them does not help: configure a proxy API, the Airflow "
    "connection 'indeed_proxy' with the API key as password and extra {{\"api\": \"zyte\"}} or "
    "{{\"api\": \"scrapeops\"}} (see docs/sources.md)."
)
PROXY_WALL_MESSAGE = (
    "Indeed answered {blocks} requests in a row with {reason}, through the {api} proxy API: the proxy "
    "did not get past the challenge. Check the proxy API's plan and options (e.g. ScrapeOps "
    "'bypass', Zyte's browser rendering) before the next run."
)


def _guarded(kind: str):
    """A callback whose unexpected failure (a page that breaks the parser, such as JSON nested
    deeper than the decoder goes) becomes a quarantine item with its reason, counted as an
    error, instead of a spider error that loses the posting without a trace."""
    def wrap(callback):
        @functools.wraps(callback)
        def guarded(self, response, *args, **kwargs):
            try:
                yield from callback(self, response, *args, **kwargs)
            except CloseSpider:  # a wall of blocks or a refused proxy key: the crawl stops on purpose
                raise
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
    # Cloudflare's challenge comes as 403, 429 or 503: it must reach the callback to be recognised
    # (429 and 503 that are not challenges are retried first, then quarantined with their status).
    handle_httpstatus_list = [403, 429, 503]

    def __init__(self, keywords: list[str] | str = "", locations: list[str] | str = "remote",
                 base_url: str | None = None, max_pages: int | str | None = None,
                 day: str | dt.date | None = None, **kwargs):
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
        #: the end of the window the crawl collects (the day after ``day``, 00:00 UTC; default now):
        #: sponsored cards posted long before it are ads outside the window
        day = dt.date.fromisoformat(day) if isinstance(day, str) and day not in ("", "None") else day
        self.window_end = (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
                           if isinstance(day, dt.date) else None)
        self.blocks_in_a_row = 0
        self.pages_ok = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.base_url = (spider.base_url_arg or settings.get("INDEED_BASE_URL")).rstrip("/")
        spider.page_size = settings.getint("INDEED_PAGE_SIZE", 10)
        spider.cap = settings.getint("INDEED_RESULT_CAP", 1000)
        spider.fromage = settings.getint("INDEED_FROMAGE", 1)
        spider.block_retries = settings.getint("INDEED_BLOCK_RETRY_TIMES", 1)
        spider.block_backoff = settings.getfloat("INDEED_BLOCK_BACKOFF", 30.0)
        spider.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        spider.block_wall = settings.getint("INDEED_BLOCK_WALL", 8)
        return spider

    # ------------------------------------------------------------ requests

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.keywords:
            for location in self.locations:
                yield self.search_request(keyword, location, 0)

    def search_url(self, keyword: str, location: str, start: int) -> str:
        # filter=0: without it Indeed hides postings it deems similar to others.
        query = {"q": keyword, "l": location, "filter": 0, "fromage": self.fromage, "sort": "date"}
        if start:
            query["start"] = start
        return f"{self.base_url}/jobs?{urlencode(query)}"

    def search_request(self, keyword: str, location: str, start: int, blocked: int = 0,
                       truncated: int = 0) -> scrapy.Request:
        return scrapy.Request(
            self.search_url(keyword, location, start), callback=self.parse_search, errback=self.failed,
            cb_kwargs={"keyword": keyword, "location": location, "start": start},
            meta={"kind": "search_page", "blocked": blocked, "truncated": truncated, "keyword": keyword,
                  "location": location, **self._block_delay(blocked), **self._refetch_delay(truncated)},
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
        # A challenge is about the client, not the moment: wait long before trying again.
        return {"backoff_delay": self.block_backoff * 2 ** (blocked - 1)} if blocked else {}

    def _refetch_delay(self, tries: int) -> dict:
        # A page cut short is a network accident: the ordinary retry wait.
        return {"backoff_delay": self.backoff_base * 2 ** (tries - 1)} if tries else {}

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
        self.blocks_in_a_row += 1
        url = response.meta.get("proxy_api_target") or response.url
        logger.warning("BLOCKED (%s) on %s, attempt %d", reason, url, tries + 1)
        self.last_block = (reason, response.meta.get("proxy_api"))
        if self.blocks_in_a_row >= self.block_wall:
            self._wall_message()
            yield self.quarantine(response, f"{reason}; crawl stopped: wall of blocks", "blocked")
            raise CloseSpider(WALL_OF_BLOCKS)
        if tries < self.block_retries:
            yield retry(tries + 1)
        else:
            yield self.quarantine(response, f"{reason}; gave up after {tries + 1} attempts", "blocked")

    def _wall_message(self) -> None:
        reason, api = self.last_block
        template = PROXY_WALL_MESSAGE if api else DIRECT_WALL_MESSAGE
        message = template.format(blocks=self.blocks_in_a_row, reason=reason, api=api)
        self.crawler.stats.set_value("indeed/stop_message", message)
        logger.error(message)

    def closed(self, reason: str) -> None:
        """A crawl that got nothing but blocks met a wall too, even when it ran out of requests
        before ``INDEED_BLOCK_WALL`` blocks in a row: say what to do."""
        self.crawler.stats.set_value("indeed/listed", len(self.found))
        if reason == "finished" and self.pages_ok == 0 and self.blocks_in_a_row:
            self._wall_message()

    def _refused_by_proxy(self, response: Response) -> None:
        """Stop at once when the proxy API refused the key or the account (retrying cannot help)."""
        message = response.meta.get("proxy_api_fatal")
        if message:
            self.crawler.stats.set_value("indeed/stop_message", message)
            logger.error(message)
            raise CloseSpider(PROXY_API_REFUSED)

    def _page_problem(self, response: Response) -> tuple[str | None, str | None, str | None]:
        """``(text, block reason, other problem)`` of a response: a block (Cloudflare's challenge
        or a block page), an HTTP error that survived the retries, or an undecodable body."""
        self._refused_by_proxy(response)
        try:
            text = decode_body(response.body)
        except PageError as exc:
            text, decode_error = None, exc.reason
        else:
            decode_error = None
        blocked = challenge_reason(response.status, response.headers, text)
        if blocked:
            return text, blocked, None
        if response.status != 200:
            return text, None, f"HTTP {response.status}"
        self.blocks_in_a_row = 0
        self.pages_ok += 1
        return text, None, decode_error

    @_guarded("search_page")
    def parse_search(self, response: Response, keyword: str, location: str, start: int) -> Iterator:
        self._count("search_pages")
        text, blocked, problem = self._page_problem(response)
        if blocked:
            yield from self._blocked(response, blocked,
                                     lambda n: self.search_request(keyword, location, start, blocked=n))
            return
        if problem:
            yield self.quarantine(response, problem, "search_page")
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
            self._note_odd_fields(card.pop("odd_fields", []), card["job_key"])
            if card.get("sponsored"):
                self._count("sponsored")
                if self._stale_ad(card):
                    self._count("sponsored_outside_window")
                    continue
            key = card["job_key"]
            if key in self.found:
                self._count("duplicates")
                if keyword not in self.found[key]:
                    self.found[key].append(keyword)
                continue
            self.found[key] = [keyword]
            yield self.job_request(card, keyword, location, page_number, response.url)
        yield from self._next_page(response, page, keyword, location, start)

    def _stale_ad(self, card: dict) -> bool:
        """A sponsored card posted more than ``fromage`` days (+1 for Indeed's day-rounded dates)
        before the window's end: an ad, not a posting of the window."""
        posted = card.get("posted_at")
        if posted is None:
            return False
        end = self.window_end or dt.datetime.now(dt.timezone.utc)
        return posted < end - dt.timedelta(days=self.fromage + 1)

    def _note_odd_fields(self, odd: list[str], job_key: str) -> None:
        if odd:
            self._count("odd_fields", len(odd))
            logger.warning("job %s: fields of an unexpected shape left empty: %s", job_key, ", ".join(odd))

    def _next_page(self, response: Response, page, keyword: str, location: str, start: int) -> Iterator:
        total = page.total
        organic = sum(1 for card in page.cards if not card.get("sponsored"))
        # Coverage: what each search reported and how much of it was listed (see the manifest).
        if total is not None:
            self._count("organic_cards_of_counted", organic)
        if start == 0:
            self._count("searches_answered")
            if total is not None:
                self._count("reported_total", total)
                self._count("reachable_total", min(total, self.cap))
            else:  # no count on the page: what the crawl reads is all it can know of
                self._count("searches_without_total")
            logger.info("search %r in %r: %s results", keyword, location, "unknown" if total is None else total)
            if total is not None and total > self.cap:
                self._count("cap_hit")
                logger.warning("search %r in %r reports %d results; Indeed serves only the first %d, "
                               "%d will not be collected", keyword, location, total, self.cap, total - self.cap)
        next_start = start + self.page_size
        # Unknown total (DOM page without a count): go on while pages come full of organic cards
        # (sponsored cards come on top of the page's ten).
        limit = min(total, self.cap) if total is not None else (self.cap if organic >= self.page_size else 0)
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
        text, blocked, problem = self._page_problem(response)
        if blocked:
            keyword = response.meta["keyword"]
            referer = response.meta.get("referer_url", "")
            yield from self._blocked(response, blocked,
                                     lambda n: self.job_request(card, keyword, location, page, referer, blocked=n))
            return
        if problem:
            yield self.quarantine(response, problem, "job_page")
            return
        try:
            posting = parse_job_page(text, card["url"])
        except PageError as exc:
            yield self.quarantine(response, exc.reason, "job_page")
            return
        self._count(f"parsed_from/{posting.pop('parsed_from')}")
        posting = merge_card(posting, card)
        self._note_odd_fields(posting.pop("odd_fields", []), card["job_key"])
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
            self._refused_by_proxy(response)
            reason = f"HTTP {response.status}"
            yield self.quarantine(response, reason, request.meta.get("kind", "page"))
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
            yield self.quarantine(request, reason, request.meta.get("kind", "page"))
        self._count("failed_requests")
        if request.meta.get("kind") != "search_page":  # quarantine() counted search pages already
            self._count("errors")
