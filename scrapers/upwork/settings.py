"""How the Upwork client is configured: the Airflow connection ``upwork_api``, else the environment.

Connection ``upwork_api``:
    host      API base URL (``https://www.upwork.com`` for visitor mode, ``https://api.upwork.com``
              for the official API; the sandbox's URL in tests)
    login     oauth mode: the OAuth2 client id; visitor mode: unused
    password  oauth mode: the OAuth2 client secret; visitor mode: the rendering proxy API key
    extra     {"mode": "oauth" | "visitor", "refresh_token": "...", "token_margin_seconds": 300,
               "page_size": 50, "render_url": "<proxy endpoint>", "visitor_token_ttl_seconds": 1800}

Without that connection: ``JOBREQS_UPWORK_BASE_URL`` (required), ``JOBREQS_UPWORK_MODE`` (default
``visitor``: what the sandbox serves without any credential), ``JOBREQS_UPWORK_CLIENT_ID``,
``JOBREQS_UPWORK_CLIENT_SECRET``, ``JOBREQS_UPWORK_REFRESH_TOKEN``, ``JOBREQS_UPWORK_PROXY_KEY``,
``JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS``.

Secrets stay in this object (``repr`` hides them); nothing here is ever logged or returned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from jobreqs.config import UPWORK_CONN_ID

Mode = Literal["oauth", "visitor"]
MODES = ("oauth", "visitor")


@dataclass(frozen=True)
class UpworkSettings:
    base_url: str
    mode: Mode = "visitor"
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    proxy_key: str | None = field(default=None, repr=False)
    # Reuse a cached token until this many seconds before it expires.
    token_margin_seconds: float = 300.0
    page_size: int = 50
    # The rendering proxy endpoint (visitor mode); default: ``<base_url>/proxy/render``.
    render_url: str | None = None
    # The page the proxy renders to obtain a visitor token.
    search_page_url: str = "https://www.upwork.com/nx/search/jobs/?sort=recency"
    # Visitor tokens whose cookie carries no expiry are trusted for this long.
    visitor_token_ttl_seconds: float = 1800.0
    timeout_seconds: float = 30.0
    max_attempts: int = 6

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"upwork mode must be one of {MODES}, not {self.mode!r}")
        if not self.base_url or not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"upwork base URL must be an http(s) URL, not {self.base_url!r}")
        if self.page_size < 1 or self.page_size > 100:
            raise ValueError("page_size must be between 1 and 100")

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")


def _from_connection() -> UpworkSettings | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(UPWORK_CONN_ID)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    mode = extra.get("mode", "oauth")
    host = conn.host or ""
    if host and "://" not in host:
        host = f"{'http' if conn.schema == 'http' else 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    optional = {
        k: extra[k] for k in ("token_margin_seconds", "page_size", "render_url", "search_page_url",
                              "visitor_token_ttl_seconds", "timeout_seconds", "max_attempts")
        if extra.get(k) is not None
    }
    return UpworkSettings(
        base_url=host,
        mode=mode,
        client_id=conn.login if mode == "oauth" else None,
        client_secret=conn.password if mode == "oauth" else None,
        proxy_key=conn.password if mode == "visitor" else None,
        refresh_token=extra.get("refresh_token"),
        **optional,
    )


def _from_environment() -> UpworkSettings:
    base_url = os.environ.get("JOBREQS_UPWORK_BASE_URL")
    if not base_url:
        raise RuntimeError(
            f"Upwork is not configured: define the Airflow connection {UPWORK_CONN_ID!r} or set "
            "JOBREQS_UPWORK_BASE_URL (for instance to the sandbox's URL)"
        )
    margin = os.environ.get("JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS")
    return UpworkSettings(
        base_url=base_url,
        mode=os.environ.get("JOBREQS_UPWORK_MODE", "visitor"),
        client_id=os.environ.get("JOBREQS_UPWORK_CLIENT_ID"),
        client_secret=os.environ.get("JOBREQS_UPWORK_CLIENT_SECRET"),
        refresh_token=os.environ.get("JOBREQS_UPWORK_REFRESH_TOKEN"),
        proxy_key=os.environ.get("JOBREQS_UPWORK_PROXY_KEY"),
        **({"token_margin_seconds": float(margin)} if margin else {}),
    )


def load_settings() -> UpworkSettings:
    """The Upwork settings: the ``upwork_api`` connection when defined, else the environment."""
    return _from_connection() or _from_environment()
