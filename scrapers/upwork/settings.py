"""How the Upwork client is configured: the Airflow connection ``upwork_api``, else the environment.

Upwork has two hosts (docs/sources.md): ``https://www.upwork.com`` (the web app's visitor GraphQL
API, the visitor job-details REST endpoint, and the OAuth endpoints ``/ab/account-security/
oauth2/authorize`` and ``/api/v3/oauth2/token``) and ``https://api.upwork.com`` (the official
GraphQL API, ``/graphql``). Hence two URLs: ``base_url`` (www) and ``api_url`` (api).

Connection ``upwork_api``:
    host      ``base_url``: https://www.upwork.com (the sandbox's www URL in tests)
    login     oauth mode: the OAuth2 client id
    password  oauth mode: the OAuth2 client secret; visitor mode: the Zyte API key (the visitor
              token is read from the cookies of Upwork's home page, rendered by the Zyte API)
    extra     {"mode": "oauth" | "visitor", "api_url": "https://api.upwork.com",
               "token_api_url": "https://api.zyte.com/v1/extract", "redirect_uri": "...",
               "grant": "authorization_code" | "client_credentials", "refresh_token": "...",
               "token_margin_seconds": 300, "page_size": 50, "offset_cap": 5000,
               "visitor_token_ttl_seconds": 1800}
Connection ``upwork_oauth`` (optional, for visitor mode): the OAuth app (login = client id,
password = secret, extra ``redirect_uri``): ``jobreqs upwork-authorize`` uses it, and enrichment's
fallback (which needs a logged-in token) uses the token it stored.

Without ``upwork_api``: ``JOBREQS_UPWORK_BASE_URL`` (required), ``JOBREQS_UPWORK_API_URL``,
``JOBREQS_UPWORK_MODE`` (default ``visitor``), ``JOBREQS_UPWORK_CLIENT_ID``,
``JOBREQS_UPWORK_CLIENT_SECRET``, ``JOBREQS_UPWORK_REFRESH_TOKEN``, ``JOBREQS_UPWORK_REDIRECT_URI``,
``JOBREQS_UPWORK_PROXY_KEY`` (the Zyte API key), ``JOBREQS_UPWORK_TOKEN_API_URL``,
``JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS``.

Secrets stay in this object (``repr`` hides them); nothing here is ever logged or returned.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Literal

from jobreqs.config import UPWORK_CONN_ID, UPWORK_OAUTH_CONN_ID

Mode = Literal["oauth", "visitor"]
MODES = ("oauth", "visitor")
GRANTS = ("authorization_code", "client_credentials")
ZYTE_EXTRACT_URL = "https://api.zyte.com/v1/extract"
OFFICIAL_API_URL = "https://api.upwork.com"


@dataclass(frozen=True)
class UpworkSettings:
    base_url: str
    mode: Mode = "visitor"
    api_url: str = OFFICIAL_API_URL
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    # The Zyte API key (visitor mode): the key of the service that renders Upwork's home page.
    proxy_key: str | None = field(default=None, repr=False)
    token_api_url: str = ZYTE_EXTRACT_URL
    # Where the authorization-code flow sends the browser back (registered with the OAuth app).
    redirect_uri: str | None = None
    # authorization_code (ordinary keys; the refresh token comes from `jobreqs upwork-authorize`)
    # or client_credentials (enterprise keys).
    grant: str = "authorization_code"
    # Reuse a cached token until this many seconds before it expires.
    token_margin_seconds: float = 300.0
    page_size: int = 50
    # Upwork serves no search result past this offset.
    offset_cap: int = 5_000
    # Visitor tokens whose cookie carries no expiry are trusted for this long.
    visitor_token_ttl_seconds: float = 1800.0
    timeout_seconds: float = 30.0
    # Rendering a page through the Zyte API takes tens of seconds.
    token_timeout_seconds: float = 180.0
    max_attempts: int = 6

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"upwork mode must be one of {MODES}, not {self.mode!r}")
        if self.grant not in GRANTS:
            raise ValueError(f"upwork grant must be one of {GRANTS}, not {self.grant!r}")
        for name in ("base_url", "api_url", "token_api_url"):
            value = getattr(self, name)
            if not value or not value.startswith(("http://", "https://")):
                raise ValueError(f"upwork {name} must be an http(s) URL, not {value!r}")
        if self.page_size < 1 or self.page_size > 50:
            raise ValueError("page_size must be between 1 and 50 (Upwork's page limit)")

    @property
    def root(self) -> str:
        """The www host: visitor API, REST details, OAuth endpoints."""
        return self.base_url.rstrip("/")

    @property
    def api_root(self) -> str:
        """The official API's host."""
        return self.api_url.rstrip("/")

    @property
    def has_oauth_client(self) -> bool:
        return bool(self.client_id and self.client_secret)


_OPTIONAL = ("token_margin_seconds", "page_size", "offset_cap", "visitor_token_ttl_seconds", "timeout_seconds",
             "token_timeout_seconds", "max_attempts", "api_url", "token_api_url", "redirect_uri", "grant")


def _connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _from_connection() -> UpworkSettings | None:
    conn = _connection(UPWORK_CONN_ID)
    if conn is None:
        return None
    extra = conn.extra_dejson or {}
    mode = extra.get("mode", "oauth")
    host = conn.host or ""
    if host and "://" not in host:
        host = f"{'http' if conn.schema == 'http' else 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return UpworkSettings(
        base_url=host,
        mode=mode,
        client_id=conn.login if mode == "oauth" else None,
        client_secret=conn.password if mode == "oauth" else None,
        proxy_key=conn.password if mode == "visitor" else None,
        refresh_token=extra.get("refresh_token"),
        **{k: extra[k] for k in _OPTIONAL if extra.get(k) is not None},
    )


def _from_environment() -> UpworkSettings:
    base_url = os.environ.get("JOBREQS_UPWORK_BASE_URL")
    if not base_url:
        raise RuntimeError(
            f"Upwork is not configured: define the Airflow connection {UPWORK_CONN_ID!r} or set "
            "JOBREQS_UPWORK_BASE_URL (for instance to the sandbox's URL)"
        )
    env = {
        "api_url": "JOBREQS_UPWORK_API_URL", "token_api_url": "JOBREQS_UPWORK_TOKEN_API_URL",
        "redirect_uri": "JOBREQS_UPWORK_REDIRECT_URI", "grant": "JOBREQS_UPWORK_GRANT",
    }
    optional = {name: os.environ[var] for name, var in env.items() if os.environ.get(var)}
    margin = os.environ.get("JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS")
    return UpworkSettings(
        base_url=base_url,
        mode=os.environ.get("JOBREQS_UPWORK_MODE", "visitor"),
        client_id=os.environ.get("JOBREQS_UPWORK_CLIENT_ID"),
        client_secret=os.environ.get("JOBREQS_UPWORK_CLIENT_SECRET"),
        refresh_token=os.environ.get("JOBREQS_UPWORK_REFRESH_TOKEN"),
        proxy_key=os.environ.get("JOBREQS_UPWORK_PROXY_KEY"),
        **optional,
        **({"token_margin_seconds": float(margin)} if margin else {}),
    )


def load_settings() -> UpworkSettings:
    """The Upwork settings: the ``upwork_api`` connection when defined, else the environment."""
    return _from_connection() or _from_environment()


def load_oauth_settings(settings: UpworkSettings | None = None) -> UpworkSettings | None:
    """The settings of the OAuth app, for ``jobreqs upwork-authorize`` and for the logged-in
    token enrichment's fallback needs: ``settings`` themselves in oauth mode; in visitor mode the
    ``upwork_oauth`` connection, else the client id/secret in the environment, on the same hosts.
    None when no OAuth app is configured."""
    settings = settings or load_settings()
    if settings.mode == "oauth":
        return settings if settings.has_oauth_client else None
    conn = _connection(UPWORK_OAUTH_CONN_ID)
    if conn is not None:
        extra = conn.extra_dejson or {}
        client = {"client_id": conn.login, "client_secret": conn.password,
                  "refresh_token": extra.get("refresh_token"), "redirect_uri": extra.get("redirect_uri")}
    else:
        client = {"client_id": settings.client_id, "client_secret": settings.client_secret,
                  "refresh_token": settings.refresh_token, "redirect_uri": settings.redirect_uri}
    if not client["client_id"] or not client["client_secret"]:
        return None
    return dataclasses.replace(settings, mode="oauth", proxy_key=None, **client)
