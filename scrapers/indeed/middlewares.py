"""Downloader middlewares: rotating browser headers, retries with backoff, an optional proxy API."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
from urllib.parse import urlencode

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.response import response_status_message

from scrapers.indeed.parsing import challenge_reason

logger = logging.getLogger(__name__)

# Whole browser identities: a User-Agent only makes sense with its own client hints.
_BROWSERS = [
    {
        "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "sec-ch-ua": '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
        "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": '"Windows"',
    },
    {
        "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        "sec-ch-ua": '"Chromium";v="130", "Google Chrome";v="130", "Not?A_Brand";v="99"',
        "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": '"macOS"',
    },
    {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:132.0) Gecko/20100101 Firefox/132.0"},
    {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"},
    {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"},
    {
        "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "sec-ch-ua": '"Microsoft Edge";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
        "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": '"Windows"',
    },
]
_LANGUAGES = ["en-US,en;q=0.9", "en-US,en;q=0.8", "en-GB,en-US;q=0.9,en;q=0.8", "en-US,en;q=0.9,es;q=0.6"]


class RotatingHeadersMiddleware:
    """Give each request a realistic browser's headers, a different browser each time (a retried
    request, e.g. after a block page, gets fresh ones)."""

    def __init__(self, seed: int | None = None):
        self.random = random.Random(seed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("INDEED_HEADERS_SEED") or None)

    def process_request(self, request: Request):
        browser = self.random.choice(_BROWSERS)
        for name, value in browser.items():
            request.headers[name] = value
        request.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        request.headers["Accept-Language"] = self.random.choice(_LANGUAGES)
        request.headers.setdefault("Upgrade-Insecure-Requests", "1")
        request.headers.setdefault("Sec-Fetch-Site", "same-origin" if request.meta.get("from_search") else "none")
        request.headers.setdefault("Sec-Fetch-Mode", "navigate")
        request.headers.setdefault("Sec-Fetch-Dest", "document")
        if request.meta.get("referer_url"):
            request.headers["Referer"] = request.meta["referer_url"]
        return None


def backoff_delay(attempt: int, base: float, cap: float, retry_after: str | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): ``base * 2**(attempt-1)`` with
    +-25% jitter, at least the server's Retry-After (in seconds), never more than ``cap``."""
    delay = base * (2 ** max(attempt - 1, 0)) * (rng or random).uniform(0.75, 1.25)
    if retry_after:
        try:
            delay = max(delay, float(retry_after))
        except ValueError:
            pass  # an HTTP date: keep our own delay
    return min(delay, cap)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (same settings, stats and give-up logging) plus a wait before each
    retry: exponential backoff with jitter, honouring Retry-After. The wait is asynchronous, so
    other requests go on meanwhile."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def process_request(self, request: Request):
        delay = request.meta.pop("backoff_delay", None)
        if delay:
            await asyncio.sleep(delay)
        return None

    def process_response(self, request: Request, response: Response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        if request.meta.get("proxy_api_fatal") or challenge_reason(response.status, response.headers, _head(response)):
            return response  # a challenge or a refused key: retrying at once cannot help (the spider decides)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        attempt = retry.meta.get("retry_times", 1)
        retry_after = response.headers.get("Retry-After")
        retry.meta["backoff_delay"] = backoff_delay(attempt, self.base, self.cap,
                                                    retry_after.decode() if retry_after else None)
        logger.info("HTTP %s on %s: retry %d in %.1fs", response.status, request.url, attempt,
                    retry.meta["backoff_delay"])
        return retry

    def process_exception(self, request: Request, exception: Exception):
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            retry.meta["backoff_delay"] = backoff_delay(retry.meta.get("retry_times", 1), self.base, self.cap)
        return retry


class ProxyApiMiddleware:
    """Send requests through a proxy API, when one is configured; off otherwise.

    Configured by the environment only, never by settings (Scrapy logs settings):
    ``JOBREQS_INDEED_PROXY_KEY`` (the API key; the task reads it from the Airflow connection
    ``indeed_proxy``), ``JOBREQS_INDEED_PROXY_API`` (``scrapeops``, default, or ``zyte``),
    optionally ``JOBREQS_INDEED_PROXY_ENDPOINT`` (the API's URL) and
    ``JOBREQS_INDEED_PROXY_OPTIONS`` (JSON: the API's own options, e.g. ``{"country": "us"}`` for
    ScrapeOps or ``{"geolocation": "US"}`` for Zyte). The two documented request shapes
    (docs/sources.md has the sources):

    * ScrapeOps Proxy API Aggregator: ``GET https://proxy.scrapeops.io/v1/?api_key=KEY&url=TARGET``
      (+ options) answers with the target's body and status, the URL after redirects in the
      ``Sops-Final-Url`` header. Its own errors are bare statuses: 401 (credits exhausted) and 403
      (invalid key) stop the crawl; 429 (concurrency limit) and 500 (gave up after two minutes) are
      retried.
    * Zyte API: ``POST https://api.zyte.com/v1/extract``, HTTP basic auth with the key as user and an
      empty password, JSON ``{"url": TARGET, "httpResponseBody": true, "httpResponseHeaders": true}``;
      the answer is JSON with the target's ``statusCode``, its base64 ``httpResponseBody`` and its
      ``httpResponseHeaders`` (a list of ``{name, value}``). Errors are problem JSON (``type``,
      ``title``, ``status``, ``detail``): 401/403 (key, account), 451 (domain refused) and 400/422
      (a request the API does not accept) stop the crawl; 429/503 (rate limits) and 520/521
      (download errors) are retried by the retry middleware.

    Either way the spider sees a response for the target URL with the target's status and, with
    Zyte, its headers (so Cloudflare's ``cf-mitigated`` reaches the block check)."""

    ENDPOINTS = {"scrapeops": "https://proxy.scrapeops.io/v1/", "zyte": "https://api.zyte.com/v1/extract"}
    #: ScrapeOps may take two minutes to give up on a page; Zyte answers in tens of seconds.
    TIMEOUT_SECONDS = 180
    _SCRAPEOPS_FATAL = {401: "its credits are exhausted (HTTP 401)", 403: "the API key is missing or invalid (HTTP 403)"}
    _ZYTE_FATAL = {400, 401, 402, 403, 422, 451}
    # Headers that described the proxy's own transfer, not the target page's.
    _HOP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection"}

    def __init__(self, api: str, key: str, endpoint: str | None = None, stats=None, options: dict | None = None):
        if api not in self.ENDPOINTS:
            raise ValueError(f"unknown proxy API {api!r} (expected one of {sorted(self.ENDPOINTS)})")
        self.api, self.key = api, key
        self.endpoint = endpoint or self.ENDPOINTS[api]
        self.stats = stats
        self.options = dict(options or {})

    @classmethod
    def from_crawler(cls, crawler):
        key = os.environ.get("JOBREQS_INDEED_PROXY_KEY")
        if not key:
            raise NotConfigured("no proxy API key")
        api = os.environ.get("JOBREQS_INDEED_PROXY_API", "scrapeops").lower()
        options = json.loads(os.environ.get("JOBREQS_INDEED_PROXY_OPTIONS") or "{}")
        logger.info("requests go through the %s proxy API", api)
        return cls(api, key, os.environ.get("JOBREQS_INDEED_PROXY_ENDPOINT"), crawler.stats, options)

    def process_request(self, request: Request):
        if "proxy_api_target" in request.meta:  # already rewritten
            return None
        meta = {**request.meta, "proxy_api_target": request.url, "proxy_api": self.api,
                "download_timeout": max(request.meta.get("download_timeout") or 0, self.TIMEOUT_SECONDS)}
        if self.stats is not None:  # the rewritten request is scheduled and counted again
            self.stats.inc_value("indeed/proxy_rewrites")
        if self.api == "scrapeops":
            url = f"{self.endpoint}?{urlencode({'api_key': self.key, 'url': request.url, **self.options})}"
            return request.replace(url=url, meta=meta)
        auth = base64.b64encode(f"{self.key}:".encode()).decode()
        body = json.dumps({**self.options, "url": request.url, "httpResponseBody": True, "httpResponseHeaders": True})
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json", "Accept": "application/json"}
        return request.replace(url=self.endpoint, method="POST", body=body, headers=headers, meta=meta)

    def process_response(self, request: Request, response: Response):
        target = request.meta.get("proxy_api_target")
        if not target:
            return response
        if self.api == "zyte":
            return self._zyte_response(request, response, target)
        final = response.headers.get("Sops-Final-Url")
        url = final.decode("latin-1") if final else target
        if response.status in self._SCRAPEOPS_FATAL and not challenge_reason(response.status, response.headers, _head(response)):
            request.meta["proxy_api_fatal"] = (
                f"ScrapeOps refused the crawl's requests: {self._SCRAPEOPS_FATAL[response.status]}. "
                "Check the key (password of the Airflow connection 'indeed_proxy') and the plan.")
        return response.replace(url=url)

    def _zyte_response(self, request: Request, response: Response, target: str) -> Response:
        if response.status != 200:
            problem = _json_object(response.body)
            if response.status in self._ZYTE_FATAL:
                request.meta["proxy_api_fatal"] = (
                    f"the Zyte API refused the crawl's requests: HTTP {response.status} "
                    f"{problem.get('type') or ''} {problem.get('title') or ''}".rstrip() + ". "
                    "Check the key (password of the Airflow connection 'indeed_proxy') and the account.")
            else:
                logger.info("Zyte API: HTTP %s %s for %s", response.status, problem.get("type") or "", target)
            return response.replace(url=target)  # 429/503/520/521: the retry middleware decides
        data = _json_object(response.body)
        try:
            body = base64.b64decode(data.get("httpResponseBody") or "", validate=True)
            status = int(data.get("statusCode") or 200)
        except (ValueError, TypeError) as exc:
            logger.error("the Zyte API answered something that is not its JSON for %s: %s", target, exc)
            return response.replace(url=target, status=502)
        headers = {}
        for header in data.get("httpResponseHeaders") or []:
            if isinstance(header, dict) and isinstance(header.get("name"), str) \
                    and header["name"].lower() not in self._HOP_HEADERS:
                headers[header["name"]] = str(header.get("value", ""))
        return HtmlResponse(url=str(data.get("url") or target), status=status, headers=headers, body=body,
                            encoding="utf-8", request=request)


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _head(response: Response) -> str:
    return response.body[:20_000].decode("utf-8", errors="replace")
