"""The Upwork bearer token: cached in the warehouse, reused until close to expiry, renewed on demand.

Two ways to obtain one, chosen by the settings' ``mode``:
- ``oauth``: the official API's OAuth2 token endpoint (``POST /api/v3/oauth2/token``), with the
  client-credentials grant, or the refresh-token grant when a refresh token is configured (a
  rotated refresh token is kept in the cache and used next time);
- ``visitor``: a rendering proxy API renders the public search page and hands back its cookies;
  the visitor search token is the ``UniversalSearchNuxt_vt`` (or ``visitor_gql_token``) cookie.

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

import httpx

from jobreqs.warehouse import connect
from scrapers.upwork.api import UpworkApiError, _backoff, _retryable
from scrapers.upwork.settings import UpworkSettings, load_settings

log = logging.getLogger(__name__)

TOKEN_PATH = "/api/v3/oauth2/token"
RENDER_PATH = "/proxy/render"
VISITOR_COOKIES = ("UniversalSearchNuxt_vt", "visitor_gql_token")
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


def obtain_oauth(settings: UpworkSettings, client: httpx.Client, refresh_token: str | None) -> Token:
    """A new token from the OAuth2 token endpoint (refresh-token grant when one is known)."""
    if not settings.client_id or not settings.client_secret:
        raise UpworkTokenError("oauth mode needs the client id (login) and secret (password) of upwork_api")
    form = {"client_id": settings.client_id, "client_secret": settings.client_secret}
    form |= ({"grant_type": "refresh_token", "refresh_token": refresh_token} if refresh_token
             else {"grant_type": "client_credentials"})
    obtained = _now()
    response = _send(client, settings, "POST", settings.root + TOKEN_PATH, data=form,
                     headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise UpworkTokenError(f"token endpoint answered HTTP {response.status_code} ({form['grant_type']} grant)")
    try:
        body = response.json()
        access, expires_in = body["access_token"], float(body["expires_in"])
    except (ValueError, KeyError, TypeError):
        raise UpworkTokenError("token endpoint answer lacks access_token/expires_in") from None
    return Token(access, obtained + dt.timedelta(seconds=expires_in), obtained,
                 refresh_token=body.get("refresh_token") or refresh_token)


def obtain_visitor(settings: UpworkSettings, client: httpx.Client) -> Token:
    """A visitor search token: the cookie of the search page, rendered by the proxy API."""
    headers = {"Accept": "application/json"}
    if settings.proxy_key:
        headers["X-Api-Key"] = settings.proxy_key  # a header, never the URL: URLs get logged
    obtained = _now()
    response = _send(client, settings, "GET", settings.render_url or settings.root + RENDER_PATH,
                     params={"url": settings.search_page_url}, headers=headers)
    if response.status_code != 200:
        raise UpworkTokenError(f"rendering proxy answered HTTP {response.status_code}")
    try:
        cookies = {c["name"]: c for c in response.json().get("cookies") or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UpworkTokenError("rendering proxy answer has no cookie list") from None
    cookie = next((cookies[name] for name in VISITOR_COOKIES if cookies.get(name, {}).get("value")), None)
    if cookie is None:
        raise UpworkTokenError(f"the rendered search page set none of the cookies {VISITOR_COOKIES}")
    expires = cookie.get("expires")
    if expires and float(expires) > 0:
        expires_at = dt.datetime.fromtimestamp(float(expires), dt.timezone.utc)
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
        conn.execute(
            """INSERT INTO jobreqs_private.upwork_tokens
                   (mode, access_token, refresh_token, expires_at, obtained_at, base_url)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (mode) DO UPDATE SET access_token = EXCLUDED.access_token,
                   refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
                   obtained_at = EXCLUDED.obtained_at, base_url = EXCLUDED.base_url""",
            (settings.mode, token.access_token, token.refresh_token, token.expires_at,
             token.obtained_at, settings.root))
        log.info("obtained a new upwork %s token, valid until %s", settings.mode, token.expires_at.isoformat())
        return token


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
