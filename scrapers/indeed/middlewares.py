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
    ``indeed_proxy``), ``JOBREQS_INDEED_PROXY_API`` (``scrapeops``, default, or ``zyte``) and
    optionally ``JOBREQS_INDEED_PROXY_ENDPOINT`` (the API's URL).

    * ``scrapeops``-style: ``GET {endpoint}?api_key=KEY&url=TARGET`` answers with the page itself;
    * ``zyte``-style: ``POST {endpoint}`` with HTTP basic auth (key as user) and JSON
      ``{"url": TARGET, "httpResponseBody": true}`` answers JSON with ``statusCode`` and the
      base64 ``httpResponseBody``.

    Either way the spider sees a response for the target URL with the target's status."""

    ENDPOINTS = {"scrapeops": "https://proxy.scrapeops.io/v1/", "zyte": "https://api.zyte.com/v1/extract"}

    def __init__(self, api: str, key: str, endpoint: str | None = None, stats=None):
        if api not in self.ENDPOINTS:
            raise ValueError(f"unknown proxy API {api!r} (expected one of {sorted(self.ENDPOINTS)})")
        self.api, self.key = api, key
        self.endpoint = endpoint or self.ENDPOINTS[api]
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        key = os.environ.get("JOBREQS_INDEED_PROXY_KEY")
        if not key:
            raise NotConfigured("no proxy API key")
        api = os.environ.get("JOBREQS_INDEED_PROXY_API", "scrapeops").lower()
        logger.info("requests go through the %s proxy API", api)
        return cls(api, key, os.environ.get("JOBREQS_INDEED_PROXY_ENDPOINT"), crawler.stats)

    def process_request(self, request: Request):
        if "proxy_api_target" in request.meta:  # already rewritten
            return None
        meta = {**request.meta, "proxy_api_target": request.url}
        if self.stats is not None:  # the rewritten request is scheduled and counted again
            self.stats.inc_value("indeed/proxy_rewrites")
        if self.api == "scrapeops":
            url = f"{self.endpoint}?{urlencode({'api_key': self.key, 'url': request.url})}"
            return request.replace(url=url, meta=meta)
        auth = base64.b64encode(f"{self.key}:".encode()).decode()
        body = json.dumps({"url": request.url, "httpResponseBody": True, "httpResponseHeaders": True})
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
        return request.replace(url=self.endpoint, method="POST", body=body, headers=headers, meta=meta)

    def process_response(self, request: Request, response: Response):
        target = request.meta.get("proxy_api_target")
        if not target:
            return response
        if self.api == "zyte" and response.status == 200:
            try:
                data = json.loads(response.body)
                body = base64.b64decode(data.get("httpResponseBody") or "")
                status = int(data.get("statusCode") or 200)
            except (ValueError, TypeError) as exc:
                logger.error("proxy API answered something that is not its JSON for %s: %s", target, exc)
                return response.replace(url=target, status=502)
            return HtmlResponse(url=target, status=status, body=body, encoding="utf-8", request=request)
        return response.replace(url=target)
