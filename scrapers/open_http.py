"""Polite JSON GETs for the sources that publish openly (Hacker News, the ATS job boards).

One ``PoliteClient`` per collection: an ``httpx.Client`` that keeps at least ``min_interval``
seconds between requests (the services publish no rate, so the collectors stay slow on purpose),
and retries with tenacity on a dropped connection, a 429 or a 5xx. The wait is what
``Retry-After`` says (seconds or an HTTP date) when the server sends it, exponential with jitter
otherwise; a server asking for more than ``MAX_RETRY_AFTER`` seconds, or retries that would wait
more than ``MAX_RETRY_WAIT`` in all, end the request (``SourceError``): one request never stalls
a task. Other 4xx answers are not retried.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from scrapers.upwork.api import retry_after_seconds

USER_AGENT = "jobreqs/1.0 (technology demand statistics; +https://github.com/jobreqs)"
MAX_RETRY_AFTER = 60.0
MAX_RETRY_WAIT = 120.0
MAX_ATTEMPTS = 5


class SourceError(RuntimeError):
    """A request that failed for good (status, or the transport error); ``status`` may be None."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class CollectionFailed(SourceError):
    """A collection that ended without a usable snapshot; ``stats`` holds what it counted before
    (the coverage row of the failed date is made from them, ``jobreqs.coverage``)."""

    def __init__(self, message: str, stats: dict, status: int | None = None):
        super().__init__(message, status)
        self.stats = stats


class _Retryable(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _should_retry(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, _Retryable):
        asked = retry_after_seconds(exc.response.headers.get("Retry-After"))
        return asked is None or asked <= MAX_RETRY_AFTER
    return False


_backoff = wait_exponential_jitter(initial=0.5, max=30)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Retryable):
        asked = retry_after_seconds(exc.response.headers.get("Retry-After"))
        if asked is not None:
            return asked
    return _backoff(state)


def _stop(state: RetryCallState) -> bool:
    # the next wait included: a request never waits more than MAX_RETRY_WAIT across its retries
    return stop_after_attempt(MAX_ATTEMPTS)(state) or state.idle_for + _wait(state) > MAX_RETRY_WAIT


class PoliteClient:
    def __init__(self, min_interval: float = 0.0, timeout: float = 30.0):
        self.client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                                   follow_redirects=True)
        self.min_interval = min_interval
        self.requests = 0
        self.retries = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _pace(self) -> None:
        with self._lock:
            delay = self._last + self.min_interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last = time.monotonic()

    def _once(self, url: str, params: dict | None) -> httpx.Response:
        self._pace()
        self.requests += 1
        response = self.client.get(url, params=params)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(response)
        return response

    def get_json(self, url: str, params: dict | None = None, *, missing_ok: bool = False) -> Any:
        """The JSON body of ``GET url``; None for a 404 when ``missing_ok``. Raises ``SourceError``."""
        def count_retry(state: RetryCallState) -> None:
            self.retries += 1

        try:
            response = Retrying(retry=retry_if_exception(_should_retry), wait=_wait, stop=_stop,
                                before_sleep=count_retry, reraise=True)(self._once, url, params)
        except _Retryable as exc:
            status = exc.response.status_code
            asked = retry_after_seconds(exc.response.headers.get("Retry-After"))
            why = (f"asked to wait {asked:.0f}s, over the {MAX_RETRY_AFTER:.0f}s cap" if asked and asked > MAX_RETRY_AFTER
                   else "still failing after retries")
            raise SourceError(f"HTTP {status} for {url}: {why}", status) from None
        except httpx.TransportError as exc:
            raise SourceError(f"{type(exc).__name__} for {url}: {exc}") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise SourceError(f"HTTP {response.status_code} for {url}", response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(f"not JSON from {url}: {exc}", response.status_code) from None
