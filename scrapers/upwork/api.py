"""Upwork over HTTP: the GraphQL documents, the visitor job-details endpoint, retries, one refresh on a 401.

``UpworkApi`` (sync, httpx.Client) pages the job search; ``AsyncUpworkApi`` (httpx.AsyncClient)
fetches job details with bounded concurrency. Both:
- send the bearer token in the ``Authorization`` header only (URLs and logs carry no secret);
- on a 401, ask the token source for a fresh token once and repeat the request;
- on a 429 or a 5xx (or a dropped connection), wait as ``Retry-After`` says (seconds or an HTTP
  date), else an exponential backoff, and try again up to ``max_attempts`` times; a server that
  asks for more than ``MAX_RETRY_AFTER`` seconds, or retries that would wait more than
  ``MAX_RETRY_WAIT`` seconds in all, end the request at once (it fails, counted, never stalls a task).

Every document below validates against the service's schema (``sandbox_schema/*.graphql``, which
the sandbox and a test hold them to): no unused variables, no field the node lacks, and no field a
visitor token may not read (the visitor search asks for nothing of ``upworkHistoryData``, the
client block that aborts the whole query for a visitor). docs/sources.md says where each was seen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from scrapers.upwork.settings import UpworkSettings

log = logging.getLogger(__name__)

#: The web app's GraphQL API (www host); the alias names the query, as the web app sends it.
VISITOR_SEARCH_PATH = "/api/graphql/v1?alias=visitorJobSearch"
AUTH_DETAILS_PATH = "/api/graphql/v1?alias=gql-query-get-auth-job-details"
#: The visitor job-details REST endpoint (www host; no bearer token).
VISITOR_DETAILS_PATH = "/job-details/jobdetails/visitor/{ciphertext}/details"
#: The official API's GraphQL endpoint (api host).
OFFICIAL_GRAPHQL_PATH = "/graphql"

VISITOR_SEARCH_QUERY = """
query VisitorJobSearch($requestVariables: VisitorJobSearchV1Request!) {
  search { universalSearchNuxt { visitorJobSearchV1(request: $requestVariables) {
    paging { total offset count }
    results {
      id title description
      ontologySkills { uid prefLabel }
      jobTile { job {
        id ciphertext: cipherText jobType publishTime contractorTier
        hourlyBudgetMin hourlyBudgetMax
        fixedPriceAmount { amount isoCurrencyCode }
      } }
    }
  } } }
}"""

# The node has no job type: amount > 0 means a fixed price (adapter.official_node_to_raw). The
# client's statistics ride on the search, so official mode needs no job-details calls.
OFFICIAL_SEARCH_QUERY = """
query MarketplaceJobs($filter: MarketplaceJobPostingsSearchFilter, $searchType: MarketplaceJobPostingSearchType,
                      $sort: [MarketplaceJobPostingSearchSortAttribute]) {
  marketplaceJobPostingsSearch(marketPlaceJobFilter: $filter, searchType: $searchType, sortAttributes: $sort) {
    totalCount
    edges { node {
      id ciphertext title description publishedDateTime createdDateTime
      skills { name prettyName }
      amount { rawValue currency }
      hourlyBudgetMin { rawValue currency }
      hourlyBudgetMax { rawValue currency }
      experienceLevel durationLabel category
      engagementDuration { label }
      client {
        totalHires totalPostedJobs totalSpent { rawValue currency } verificationStatus
        location { city country } totalReviews totalFeedback memberSinceDateTime
      }
    } }
    pageInfo { endCursor hasNextPage }
  }
}"""

# The authenticated job details (the fallback): needs a logged-in token. Only the buyer block.
AUTH_DETAILS_QUERY = """
query JobAuthDetailsQuery($id: ID!) {
  jobAuthDetails(id: $id) {
    buyer {
      isPaymentMethodVerified
      info {
        location { city country }
        stats { totalAssignments activeAssignmentsCount hoursCount feedbackCount score
                totalJobsWithHires totalCharges { amount } }
        company { contractDate }
        jobs { openCount postedCount }
        avgHourlyJobsRate { amount }
      }
    }
  }
}"""

# What the web app sends with its XHRs (the earlier system's fast path sent these, no bearer).
_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
DETAILS_HEADERS = {"Accept": "application/json, text/plain, */*", "Accept-Language": "en-GB,en;q=0.7,en-US;q=0.3",
                   "x-odesk-user-agent": "oDesk LM", "x-requested-with": "XMLHttpRequest", "User-Agent": _BROWSER}


class TokenSource(Protocol):
    def current(self) -> str: ...
    def refresh(self, stale: str) -> str: ...


class UpworkApiError(RuntimeError):
    """A request that failed for good (status given), after its retries."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Counters:
    requests: int = 0
    retries: int = 0
    refreshes: int = 0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "retries": self.retries, "token_refreshes": self.refreshes}


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds, or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


#: The longest single wait a server may ask for (``Retry-After``); asking more ends the request.
MAX_RETRY_AFTER = 60.0
#: The longest one request waits across all its retries.
MAX_RETRY_WAIT = 120.0


def _backoff(attempt: int, response: httpx.Response | None, waited: float = 0.0) -> float:
    """Seconds to wait before the next try; raises :class:`UpworkApiError` when the server asks
    for more than ``MAX_RETRY_AFTER`` or the request would wait more than ``MAX_RETRY_WAIT``."""
    header = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
    status = response.status_code if response is not None else None
    if header is not None and header > MAX_RETRY_AFTER:
        raise UpworkApiError(f"HTTP {status}: the server asked to wait {header:.0f}s, over the "
                             f"{MAX_RETRY_AFTER:.0f}s cap", status)
    delay = header if header is not None else min(30.0, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)
    if waited + delay > MAX_RETRY_WAIT:
        raise UpworkApiError(f"HTTP {status}: retries would wait over {MAX_RETRY_WAIT:.0f}s in all", status)
    return delay


def _retryable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _json(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise UpworkApiError(f"{what}: HTTP {response.status_code}", response.status_code)
    try:
        body = response.json()
    except ValueError:
        raise UpworkApiError(f"{what}: answer is not JSON", response.status_code) from None
    except RecursionError:
        raise UpworkApiError(f"{what}: answer nests too deeply to read", response.status_code) from None
    if not isinstance(body, dict):
        raise UpworkApiError(f"{what}: answer is not a JSON object", response.status_code)
    return body


def _headers(token: str, settings: UpworkSettings, official: bool = False) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    if not official:  # the web app's API: as its own pages call it
        headers |= {"X-Upwork-Accept-Language": "en-US", "User-Agent": _BROWSER,
                    "Origin": settings.root, "Referer": settings.root + "/nx/search/jobs/"}
    return headers


def _url(settings: UpworkSettings, path: str) -> str:
    """The official API's paths on its own host, the rest on www."""
    return (settings.api_root if path == OFFICIAL_GRAPHQL_PATH else settings.root) + path


class UpworkApi:
    """Synchronous GraphQL client (the search)."""

    def __init__(self, settings: UpworkSettings, tokens: TokenSource, client: httpx.Client | None = None):
        self.settings = settings
        self.tokens = tokens
        self.counters = Counters()
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> UpworkApi:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def graphql(self, path: str, query: str, variables: dict) -> dict:
        """POST one GraphQL request; return its JSON body (which may hold ``errors``)."""
        url = _url(self.settings, path)
        payload = {"query": query, "variables": variables}
        token = self.tokens.current()
        refreshed = False
        attempt = 0
        waited = 0.0
        while True:
            self.counters.requests += 1
            try:
                response = self._client.post(url, json=payload,
                                             headers=_headers(token, self.settings, path == OFFICIAL_GRAPHQL_PATH))
            except httpx.TransportError as exc:
                response = None
                if attempt + 1 >= self.settings.max_attempts:
                    raise UpworkApiError(f"{path}: {type(exc).__name__}") from None
            else:
                if response.status_code == 401 and not refreshed:
                    token = self.tokens.refresh(token)
                    refreshed = True
                    self.counters.refreshes += 1
                    continue
                if not _retryable(response) or attempt + 1 >= self.settings.max_attempts:
                    return _json(response, path)
            try:
                delay = _backoff(attempt, response, waited)
            except UpworkApiError as exc:
                raise UpworkApiError(f"{path}: {exc}", exc.status) from None
            log.info("upwork %s: %s, retrying in %.2fs", path.split("?")[-1],
                     response.status_code if response is not None else "connection error", delay)
            self.counters.retries += 1
            attempt += 1
            waited += delay
            time.sleep(delay)

    def search_page(self, offset: int) -> tuple[list[dict], int | None, int | None]:
        """One page of the newest-first search at ``offset``: ``(items, next offset or None,
        total results)``. Both APIs page by offset (the official one takes it as the string
        ``pagination_eq.after``); neither serves anything past ``offset_cap``, so the next offset
        is None there, as at the end of the results."""
        size = min(self.settings.page_size, self.settings.offset_cap - offset)
        if size <= 0:
            return [], None, None
        if self.settings.mode == "visitor":
            body = self.graphql(VISITOR_SEARCH_PATH, VISITOR_SEARCH_QUERY, {"requestVariables": {
                "sort": "recency", "highlight": False, "paging": {"offset": offset, "count": size}}})
            root = (((body.get("data") or {}).get("search") or {}).get("universalSearchNuxt") or {}).get("visitorJobSearchV1")
            if not isinstance(root, dict) or not isinstance(root.get("results"), list):
                raise UpworkApiError(f"visitor search answer has no results: {_brief_errors(body)}")
            results, total = root["results"], (root.get("paging") or {}).get("total")
        else:
            body = self.graphql(OFFICIAL_GRAPHQL_PATH, OFFICIAL_SEARCH_QUERY, {
                "filter": {"pagination_eq": {"after": str(offset), "first": size}},
                "searchType": "USER_JOBS_SEARCH", "sort": [{"field": "RECENCY"}]})
            root = (body.get("data") or {}).get("marketplaceJobPostingsSearch")
            if not isinstance(root, dict) or not isinstance(root.get("edges"), list):
                raise UpworkApiError(f"official search answer has no edges: {_brief_errors(body)}")
            results = [edge.get("node") if isinstance(edge, dict) else edge for edge in root["edges"]]
            total = root.get("totalCount")
        following = offset + len(results)
        more = len(results) >= size and following < self.settings.offset_cap
        return results, (following if more else None), total if isinstance(total, int) else None


def _brief_errors(body: dict) -> str:
    errors = body.get("errors") or []
    return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3]) or "no data"


class AsyncUpworkApi:
    """Asynchronous GraphQL client (job details), shared by many concurrent tasks."""

    def __init__(self, settings: UpworkSettings, tokens: TokenSource, client: httpx.AsyncClient | None = None):
        self.settings = settings
        self.tokens = tokens
        self.counters = Counters()
        self._client = client or httpx.AsyncClient(
            timeout=settings.timeout_seconds, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self._token: str | None = None
        self._refresh_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _current(self) -> str:
        if self._token is None:
            async with self._refresh_lock:
                if self._token is None:
                    self._token = await asyncio.to_thread(self.tokens.current)
        return self._token

    async def _refresh(self, stale: str) -> str:
        async with self._refresh_lock:
            if self._token == stale:  # only the first task that saw the 401 asks for a new token
                self._token = await asyncio.to_thread(self.tokens.refresh, stale)
                self.counters.refreshes += 1
            return self._token

    async def graphql(self, path: str, query: str, variables: dict) -> dict:
        url = _url(self.settings, path)
        payload = {"query": query, "variables": variables}
        token = await self._current()
        refreshed = False
        attempt = 0
        waited = 0.0
        while True:
            self.counters.requests += 1
            try:
                response = await self._client.post(url, json=payload, headers=_headers(token, self.settings))
            except httpx.TransportError as exc:
                response = None
                if attempt + 1 >= self.settings.max_attempts:
                    raise UpworkApiError(f"{path}: {type(exc).__name__}") from None
            else:
                if response.status_code == 401 and not refreshed:
                    token = await self._refresh(token)
                    refreshed = True
                    continue
                if not _retryable(response) or attempt + 1 >= self.settings.max_attempts:
                    return _json(response, path)
            try:
                delay = _backoff(attempt, response, waited)
            except UpworkApiError as exc:
                raise UpworkApiError(f"{path}: {exc}", exc.status) from None
            self.counters.retries += 1
            waited += delay
            await asyncio.sleep(delay)
            attempt += 1

    async def auth_details(self, ciphertext: str) -> dict:
        """The authenticated job details (a logged-in token)."""
        return await self.graphql(AUTH_DETAILS_PATH, AUTH_DETAILS_QUERY, {"id": ciphertext})


async def visitor_details(client: httpx.AsyncClient, settings: UpworkSettings, ciphertext: str,
                          counters: Counters) -> dict:
    """The visitor job-details REST endpoint: no bearer token, the web app's XHR headers. A 429 or
    5xx is retried as above; a 403 (Cloudflare's challenge, about a quarter of the earlier system's
    tries) is not: the fallback takes over."""
    url = settings.root + VISITOR_DETAILS_PATH.format(ciphertext=ciphertext)
    waited = 0.0
    for attempt in range(settings.max_attempts):
        counters.requests += 1
        try:
            response = await client.get(url, headers=DETAILS_HEADERS)
        except httpx.TransportError as exc:
            if attempt + 1 >= settings.max_attempts:
                raise UpworkApiError(f"visitor details: {type(exc).__name__}") from None
            response = None
        else:
            if not _retryable(response) or attempt + 1 >= settings.max_attempts:
                if response.headers.get("cf-mitigated") == "challenge":
                    raise UpworkApiError("visitor details: Cloudflare challenge (HTTP 403)", 403)
                return _json(response, "visitor details")
        try:
            delay = _backoff(attempt, response, waited)
        except UpworkApiError as exc:
            raise UpworkApiError(f"visitor details: {exc}", exc.status) from None
        counters.retries += 1
        waited += delay
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")
