"""The Upwork bearer token: cached in the warehouse, reused until close to expiry, renewed on demand.

Two ways to obtain one, chosen by the settings' ``mode`` (docs/sources.md has the sources):
- ``oauth``: the OAuth2 token endpoint on the www host (``POST /api/v3/oauth2/token``; the
  GraphQL API is on api.upwork.com), with the refresh-token grant: ordinary API keys get their
  first refresh token once, from the authorization-code flow (``jobreqs upwork-authorize``, which
  stores it here); refresh tokens rotate and the newest is kept. Enterprise keys may use
  ``client_credentials`` (``grant`` setting);
- ``visitor``: the Zyte API renders Upwork's home page in a browser (``POST /v1/extract`` with
  ``{"url", "browserHtml": true, "responseCookies": true}``, HTTP basic auth with the key and an
  empty password) and hands back its cookies; the broad visitor token is ``visitor_gql_token``.
  When the home page sets none, the search page's ``UniversalSearchNuxt_vt`` is taken instead
  (reported to be scoped too narrowly for some fields). Any other rendering service would fit
  behind the same small interface (``CookieSource``).

The cache is ``jobreqs_private.upwork_tokens`` (one row per mode; the reader role cannot read it).
Obtaining runs under a transaction-scoped advisory lock, so two workers that find the token
expired fetch one new token between them, not two. The token itself is never logged or returned
by ``upwork_token()``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from jobreqs.warehouse import connect
from scrapers.upwork.api import UpworkApiError, _backoff, _retryable
from scrapers.upwork.settings import UpworkSettings, load_settings

log = logging.getLogger(__name__)

TOKEN_PATH = "/api/v3/oauth2/token"
AUTHORIZE_PATH = "/ab/account-security/oauth2/authorize"
HOME_COOKIE = "visitor_gql_token"
SEARCH_PAGE = "/nx/search/jobs/"
SEARCH_COOKIE = "UniversalSearchNuxt_vt"
# Arbitrary constant: the advisory lock that serialises obtaining a token.
_TOKEN_LOCK_KEY = 4_216_404


class UpworkTokenError(RuntimeError):
    """No token could be obtained (the message never holds a secret)."""


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: dt.datetime
    obtained_at: dt.datetime
    refresh_token: str | None = field(default=None, repr=False)
    reused: bool = False

    def usable(self, margin_seconds: float, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.timezone.utc)
        return self.expires_at - dt.timedelta(seconds=margin_seconds) > now


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _send(client: httpx.Client, settings: UpworkSettings, method: str, url: str, **kwargs) -> httpx.Response:
    """One request to a token endpoint, retried on 429/5xx/connection errors (waits capped as
    for the API: see ``scrapers.upwork.api._backoff``)."""
    waited = 0.0
    for attempt in range(settings.max_attempts):
        response = None
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            if attempt + 1 >= settings.max_attempts:
                raise UpworkTokenError(f"token endpoint unreachable: {type(exc).__name__}") from None
        else:
            if not _retryable(response) or attempt + 1 >= settings.max_attempts:
                return response
        try:
            delay = _backoff(attempt, response, waited)
        except UpworkApiError as exc:
            raise UpworkTokenError(f"token endpoint: {exc}") from None
        waited += delay
        time.sleep(delay)
    raise AssertionError("unreachable")


def _token_answer(response: httpx.Response, grant: str, obtained: dt.datetime, refresh_token: str | None) -> Token:
    if response.status_code != 200:
        try:
            error = response.json().get("error")  # RFC 6749: {"error": "invalid_grant", ...}
        except (ValueError, AttributeError):
            error = None
        raise UpworkTokenError(f"token endpoint answered HTTP {response.status_code}"
                               f"{f' {error}' if isinstance(error, str) else ''} ({grant} grant)")
    try:
        body = response.json()
        access, expires_in = body["access_token"], float(body["expires_in"])  # Upwork may send "86400"
    except (ValueError, KeyError, TypeError):
        raise UpworkTokenError("token endpoint answer lacks access_token/expires_in") from None
    return Token(access, obtained + dt.timedelta(seconds=expires_in), obtained,
                 refresh_token=body.get("refresh_token") or refresh_token)


def obtain_oauth(settings: UpworkSettings, client: httpx.Client, refresh_token: str | None) -> Token:
    """A new token from the OAuth2 token endpoint: the refresh-token grant, or client credentials
    when the settings say the key is an enterprise one."""
    if not settings.has_oauth_client:
        raise UpworkTokenError("oauth mode needs the OAuth app's client id (login) and secret (password)")
    form = {"client_id": settings.client_id, "client_secret": settings.client_secret}
    if refresh_token:
        form |= {"grant_type": "refresh_token", "refresh_token": refresh_token}
    elif settings.grant == "client_credentials":
        form |= {"grant_type": "client_credentials"}
    else:
        raise UpworkTokenError("no Upwork refresh token yet: run `jobreqs upwork-authorize` once (the "
                               "authorization-code flow; it stores the refresh token in the token cache)")
    obtained = _now()
    response = _send(client, settings, "POST", settings.root + TOKEN_PATH, data=form,
                     headers={"Accept": "application/json"})
    return _token_answer(response, form["grant_type"], obtained, refresh_token)


def exchange_code(settings: UpworkSettings, code: str, redirect_uri: str) -> Token:
    """The authorization-code grant: the code the browser came back with, for the first tokens."""
    form = {"grant_type": "authorization_code", "client_id": settings.client_id,
            "client_secret": settings.client_secret, "code": code, "redirect_uri": redirect_uri}
    obtained = _now()
    with httpx.Client(timeout=settings.timeout_seconds) as client:
        response = _send(client, settings, "POST", settings.root + TOKEN_PATH, data=form,
                         headers={"Accept": "application/json"})
    return _token_answer(response, "authorization_code", obtained, None)


class CookieSource(Protocol):
    """What renders a page in a real browser (past Cloudflare) and hands back the cookies it set,
    as ``[{"name", "value", "expires" (Unix seconds), ...}]``."""

    def page_cookies(self, url: str) -> list[dict]: ...


class ZyteApiCookies:
    """The Zyte API's ``extract`` endpoint as a ``CookieSource``: the documented request
    (``browserHtml`` + ``responseCookies``, basic auth with the key and an empty password); its
    answer's ``responseCookies`` (``experimental.responseCookies`` on older API versions)."""

    def __init__(self, settings: UpworkSettings, client: httpx.Client):
        if not settings.proxy_key:
            raise UpworkTokenError("visitor mode needs the Zyte API key (password of upwork_api, or "
                                   "JOBREQS_UPWORK_PROXY_KEY): Upwork's home page answers scripts with a challenge")
        self.settings, self.client = settings, client

    def page_cookies(self, url: str) -> list[dict]:
        response = _send(self.client, self.settings, "POST", self.settings.token_api_url,
                         json={"url": url, "browserHtml": True, "responseCookies": True},
                         auth=(self.settings.proxy_key, ""), timeout=self.settings.token_timeout_seconds)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            problem = body if isinstance(body, dict) else {}
            raise UpworkTokenError(f"the Zyte API answered HTTP {response.status_code} "
                                   f"{problem.get('type') or ''} {problem.get('title') or ''}".rstrip())
        if not isinstance(body, dict):
            raise UpworkTokenError("the Zyte API's answer is not a JSON object")
        if isinstance(body.get("statusCode"), int) and body["statusCode"] >= 400:
            raise UpworkTokenError(f"the Zyte API reached {url} but the page answered HTTP {body['statusCode']}")
        cookies = body.get("responseCookies")
        if cookies is None:
            cookies = (body.get("experimental") or {}).get("responseCookies")
        if not isinstance(cookies, list):
            raise UpworkTokenError("the Zyte API's answer has no responseCookies list")
        return [c for c in cookies if isinstance(c, dict)]


def _cookie(cookies: list[dict], name: str) -> dict | None:
    return next((c for c in cookies if c.get("name") == name and isinstance(c.get("value"), str) and c["value"]), None)


def obtain_visitor(settings: UpworkSettings, client: httpx.Client, source: CookieSource | None = None) -> Token:
    """A visitor token: the home page's ``visitor_gql_token`` cookie, else the search page's
    ``UniversalSearchNuxt_vt``, rendered by the cookie source (the Zyte API by default)."""
    source = source or ZyteApiCookies(settings, client)
    obtained = _now()
    cookie = _cookie(source.page_cookies(settings.root + "/"), HOME_COOKIE)
    if cookie is None:
        cookie = _cookie(source.page_cookies(settings.root + SEARCH_PAGE), SEARCH_COOKIE)
        if cookie is None:
            raise UpworkTokenError(f"neither the home page's {HOME_COOKIE} nor the search page's {SEARCH_COOKIE} was set")
        log.warning("the home page set no %s: using the search page's %s, which is reported to be scoped "
                    "too narrowly for some search fields", HOME_COOKIE, SEARCH_COOKIE)
    expires = cookie.get("expires")
    try:
        expires = float(expires) if expires is not None else 0.0
    except (TypeError, ValueError):
        expires = 0.0
    if expires > 0:
        expires_at = dt.datetime.fromtimestamp(expires, dt.timezone.utc)
    else:
        expires_at = obtained + dt.timedelta(seconds=settings.visitor_token_ttl_seconds)
    return Token(cookie["value"], expires_at, obtained)


def obtain(settings: UpworkSettings, refresh_token: str | None = None) -> Token:
    with httpx.Client(timeout=settings.timeout_seconds) as client:
        if settings.mode == "oauth":
            return obtain_oauth(settings, client, refresh_token)
        return obtain_visitor(settings, client)


def get_token(settings: UpworkSettings, *, stale: str | None = None) -> Token:
    """A usable token: the cached one unless it is within the margin of expiry (or is ``stale``,
    the token an API call just saw refused), else a new one, which replaces the cache."""
    with connect() as conn, conn.transaction():
        # Another worker renewing the token holds the lock for one HTTP call: wait that long, not forever.
        conn.execute("SET LOCAL lock_timeout = '60s'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_TOKEN_LOCK_KEY,))
        conn.execute("SET LOCAL lock_timeout = 0")
        row = conn.execute(
            """SELECT access_token, refresh_token, expires_at, obtained_at, base_url
               FROM jobreqs_private.upwork_tokens WHERE mode = %s""", (settings.mode,)).fetchone()
        refresh_token = settings.refresh_token
        if row is not None and row[4] == settings.root:
            cached = Token(row[0], row[2], row[3], refresh_token=row[1], reused=True)
            refresh_token = cached.refresh_token or refresh_token
            if cached.access_token != stale and cached.usable(settings.token_margin_seconds):
                return cached
        token = obtain(settings, refresh_token)
        store_token(conn, settings, token)
        log.info("obtained a new upwork %s token, valid until %s", settings.mode, token.expires_at.isoformat())
        return token


def store_token(conn, settings: UpworkSettings, token: Token) -> None:
    """Put ``token`` in the private cache (one row per mode), replacing the previous one."""
    conn.execute(
        """INSERT INTO jobreqs_private.upwork_tokens
               (mode, access_token, refresh_token, expires_at, obtained_at, base_url)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (mode) DO UPDATE SET access_token = EXCLUDED.access_token,
               refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
               obtained_at = EXCLUDED.obtained_at, base_url = EXCLUDED.base_url""",
        (settings.mode, token.access_token, token.refresh_token, token.expires_at,
         token.obtained_at, settings.root))


class WarehouseTokenSource:
    """The token for API calls: kept in memory while usable, else read from (or renewed into)
    the warehouse cache; ``refresh(stale)`` after a 401 replaces a refused token."""

    def __init__(self, settings: UpworkSettings):
        self.settings = settings
        self._token: Token | None = None

    def current(self) -> str:
        if self._token is None or not self._token.usable(self.settings.token_margin_seconds):
            self._token = get_token(self.settings)
        return self._token.access_token

    def refresh(self, stale: str) -> str:
        self._token = get_token(self.settings, stale=stale)
        return self._token.access_token


def upwork_token() -> dict:
    """Stage ``upwork_token``: make sure a usable token is cached; say whether it was reused.

    Returns ``{"mode", "reused", "expires_at"}``, never the token.
    """
    settings = load_settings()
    token = get_token(settings)
    return {"mode": settings.mode, "reused": token.reused, "expires_at": token.expires_at.isoformat()}
