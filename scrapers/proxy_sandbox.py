"""Sandbox proxy APIs: the Zyte API and the ScrapeOps Proxy API, with their documented shapes.

A proxy API fetches a page of a site for its client, gets past the site's bot protection, and
hands the page back. These local servers do the same for the sandbox sites: a request for
``https://www.indeed.com/jobs?...`` is fetched from the sandbox that stands for that host
(``upstreams``: host -> sandbox base URL), carrying the clearance cookie the sandboxes accept in
place of a solved Cloudflare challenge (a loopback URL is fetched as it is). The client code is
unchanged: it asks for the real URLs, through the proxy API's request shape (docs/sources.md gives
the sources of each rule):

Zyte API (``POST /v1/extract``)
    HTTP basic auth, the key as user name and an empty password (else 401, problem JSON
    ``/auth/key-not-found``); a JSON body with ``url`` and at least one output
    (``browserHtml``, ``httpResponseBody``, ``httpResponseHeaders``; ``responseCookies``);
    ``browserHtml`` with ``httpResponseBody`` is refused (422 ``/request/unprocessable``), as are
    unknown fields (400). The answer: ``url``, ``statusCode`` (the site's), the outputs asked
    for (``httpResponseBody`` in base64, headers and cookies as lists of objects, a cookie's
    ``expires`` in Unix seconds). Over ``per_minute`` requests a minute: 429
    ``/limits/over-user-limit`` with ``Retry-After``; a host it cannot reach: 520
    ``/download/temporary-error``.
ScrapeOps Proxy API (``GET /v1/?api_key=KEY&url=TARGET``)
    A missing or wrong key: 403; no ``url``: 400; ``credits=0``: 401; more than ``concurrency``
    requests at once: 429; a host it cannot reach: 500 (after its own retries). Otherwise the
    site's body and status, the final URL in ``Sops-Final-Url``. Error bodies are not documented:
    plain text here, and clients key on the status.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from jobreqs.local_server import serving

#: The cookie the sandbox sites accept in place of a solved challenge (see scrapers/indeed/sandbox.py).
CLEARANCE = "cf_clearance=sandbox-proxy-clearance"

_ZYTE_FIELDS = {
    "url", "browserHtml", "httpResponseBody", "httpResponseHeaders", "responseCookies", "requestCookies",
    "customHttpRequestHeaders", "requestHeaders", "httpRequestMethod", "httpRequestBody", "httpRequestText",
    "geolocation", "echoData", "javascript", "actions", "screenshot", "session", "sessionContext", "ipType",
    "experimental", "device", "followRedirect",
}
_OUTPUTS = ("browserHtml", "httpResponseBody", "httpResponseHeaders", "screenshot")
_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _problem(status: int, kind: str, title: str, detail: str, **extra) -> dict:
    return {"type": kind, "title": title, "status": status, "detail": detail, **extra}


@dataclass
class ProxyState:
    upstreams: dict[str, str]
    key: str
    per_minute: int = 120
    concurrency: int = 5
    credits: bool = True
    calls: list[dict] = field(default_factory=list)
    _recent: deque = field(default_factory=deque)
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def upstream_url(self, target: str) -> str | None:
        """The sandbox URL standing for ``target``, or None for a host no sandbox stands for."""
        parts = urlsplit(target)
        if parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return target  # a sandbox site itself: fetched as it is
        base = self.upstreams.get(parts.hostname or "")
        if not base:
            return None
        up = urlsplit(base)
        return urlunsplit((up.scheme, up.netloc, parts.path or "/", parts.query, ""))

    def over_rate(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] > 60:
                self._recent.popleft()
            if len(self._recent) >= self.per_minute:
                return True
            self._recent.append(now)
            return False

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """One concurrent request; yields False when the concurrency limit is exceeded."""
        with self._lock:
            allowed = self._active < self.concurrency
            if allowed:
                self._active += 1
        try:
            yield allowed
        finally:
            if allowed:
                with self._lock:
                    self._active -= 1


def fetch(url: str, referer: str | None = None) -> httpx.Response:
    headers = {"Cookie": CLEARANCE, "User-Agent": "Mozilla/5.0 (sandbox proxy; real browser stack)"}
    if referer:
        headers["Referer"] = referer
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        return client.get(url, headers=headers)


def response_cookies(response: httpx.Response, host: str) -> list[dict]:
    """The cookies a page set, as the Zyte API lists them (``expires`` in Unix seconds)."""
    cookies = []
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            cookie = {"name": name, "value": morsel.value, "domain": morsel["domain"] or f".{host}",
                      "path": morsel["path"] or "/", "httpOnly": bool(morsel["httponly"]),
                      "secure": bool(morsel["secure"])}
            if morsel["max-age"]:
                cookie["expires"] = int(time.time()) + int(morsel["max-age"])
            elif morsel["expires"]:
                cookie["expires"] = int(parsedate_to_datetime(morsel["expires"]).timestamp())
            if morsel["samesite"]:
                cookie["sameSite"] = morsel["samesite"]
            cookies.append(cookie)
    return cookies


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ProxyState

    def _send(self, status: int, body: bytes | dict | str, headers: dict | None = None,
              content_type: str | None = None) -> None:
        if isinstance(body, dict):
            data, content_type = json.dumps(body).encode(), content_type or "application/json"
        elif isinstance(body, str):
            data, content_type = body.encode(), content_type or "text/plain; charset=utf-8"
        else:
            data, content_type = body, content_type or "application/octet-stream"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class _ZyteHandler(_Base):
    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/v1/extract":
            return self._send(404, _problem(404, "/request/not-found", "Not Found", "no such endpoint"))
        expected = "Basic " + base64.b64encode(f"{self.state.key}:".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._send(401, _problem(401, "/auth/key-not-found", "Authentication Key Not Found",
                                            "The authentication key is not valid or can't be matched."))
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            return self._send(400, _problem(400, "/request/invalid", "Invalid Request", "the body is not JSON"))
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            return self._send(400, _problem(400, "/request/invalid", "Invalid Request", "'url' is required"))
        unknown = sorted(set(request) - _ZYTE_FIELDS)
        if unknown:
            return self._send(400, _problem(400, "/request/invalid", "Invalid Request", f"unknown fields: {unknown}"))
        if not any(request.get(name) for name in _OUTPUTS):
            return self._send(400, _problem(400, "/request/invalid", "Invalid Request",
                                            "At least one of browserHtml, httpResponseBody, httpResponseHeaders, "
                                            "screenshot must be set to true."))
        if request.get("browserHtml") and request.get("httpResponseBody"):
            return self._send(422, _problem(422, "/request/unprocessable", "Unprocessable Request",
                                            "Incompatible parameters were found in the request."))
        if self.state.over_rate():
            return self._send(429, _problem(429, "/limits/over-user-limit", "User Account Limit Exceeded",
                                            "The user has exceeded its allowed rate limit."), {"Retry-After": "1"})
        upstream = self.state.upstream_url(request["url"])
        self.state.calls.append({"api": "zyte", "url": request["url"], "fields": sorted(request)})
        if upstream is None:
            return self._send(520, _problem(520, "/download/temporary-error", "Temporary Downloading Error",
                                            "There was an error downloading the requested web page."))
        # A browser request may set only the Referer header (requestHeaders.referer).
        headers = request.get("requestHeaders")
        page = fetch(upstream, headers.get("referer") if isinstance(headers, dict) else None)
        answer: dict = {"url": request["url"], "statusCode": page.status_code}
        if request.get("browserHtml"):
            answer["browserHtml"] = page.text
        if request.get("httpResponseBody"):
            answer["httpResponseBody"] = base64.b64encode(page.content).decode()
        if request.get("httpResponseHeaders"):
            answer["httpResponseHeaders"] = [{"name": k, "value": v} for k, v in page.headers.multi_items()
                                             if k.lower() not in _HOP]
        if request.get("responseCookies"):
            answer["responseCookies"] = response_cookies(page, urlsplit(request["url"]).hostname or "")
        if "echoData" in request:
            answer["echoData"] = request["echoData"]
        self._send(200, answer)


class _ScrapeOpsHandler(_Base):
    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path not in ("/v1/", "/v1"):
            return self._send(404, "not found")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if query.get("api_key") != self.state.key:
            return self._send(403, "Forbidden: missing or invalid api_key")
        if not self.state.credits:
            return self._send(401, "Unauthorized: no API credits left")
        if not query.get("url"):
            return self._send(400, "Bad Request: url is required")
        with self.state.slot() as allowed:
            if not allowed:
                return self._send(429, "Too Many Requests: concurrency limit exceeded")
            upstream = self.state.upstream_url(query["url"])
            self.state.calls.append({"api": "scrapeops", "url": query["url"],
                                     "options": sorted(k for k in query if k not in ("api_key", "url"))})
            if upstream is None:
                return self._send(500, "Internal Server Error: could not get a successful response")
            page = fetch(upstream)
            headers = {"Sops-Final-Url": query["url"]}
            self._send(page.status_code, page.content, headers, page.headers.get("content-type", "text/html"))


@contextlib.contextmanager
def _serve(handler: type[_Base], state: ProxyState, name: str) -> Iterator[tuple[str, ProxyState]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type(name, (handler,), {"state": state}))
    server.daemon_threads = True
    with serving(server, name) as url:
        yield url, state


@contextlib.contextmanager
def zyte_sandbox(upstreams: dict[str, str], key: str, per_minute: int = 10_000) -> Iterator[tuple[str, ProxyState]]:
    """Serve a sandbox Zyte API; yields ``(endpoint URL of /v1/extract, state)``."""
    with _serve(_ZyteHandler, ProxyState(upstreams, key, per_minute=per_minute), "zyte-sandbox") as (url, state):
        yield url + "/v1/extract", state


@contextlib.contextmanager
def scrapeops_sandbox(upstreams: dict[str, str], key: str, concurrency: int = 16,
                      credits: bool = True) -> Iterator[tuple[str, ProxyState]]:
    """Serve a sandbox ScrapeOps Proxy API; yields ``(endpoint URL of /v1/, state)``."""
    state = ProxyState(upstreams, key, concurrency=concurrency, credits=credits)
    with _serve(_ScrapeOpsHandler, state, "scrapeops-sandbox") as (url, state):
        yield url + "/v1/", state
