"""``jobreqs upwork-authorize``: the OAuth 2.0 authorization-code flow, once, for an ordinary API key.

Upwork's ordinary API keys get no token from the client-credentials grant (that is for enterprise
keys): a user must log in and allow the app once. This command prints the authorization URL
(``https://www.upwork.com/ab/account-security/oauth2/authorize?response_type=code&client_id=...
&redirect_uri=...&state=...``); once the user has allowed access, the browser is sent to the
redirect URI with a ``code``. A loopback redirect URI (``http://127.0.0.1:PORT/...``) is answered
by a one-shot local server; for any other (an https page registered with the app), paste the URL
the browser landed on. The code is exchanged at ``https://www.upwork.com/api/v3/oauth2/token``
and the tokens go to the warehouse's private token cache (``jobreqs_private.upwork_tokens``, mode
``oauth``), where the pipeline renews them with the refresh token from then on. No token is ever
printed or logged.

The OAuth app comes from the ``upwork_api`` connection in oauth mode (login = client id, password
= secret), else the ``upwork_oauth`` connection, else ``JOBREQS_UPWORK_CLIENT_ID`` /
``JOBREQS_UPWORK_CLIENT_SECRET``; the redirect URI from ``--redirect-uri`` or the settings'
``redirect_uri``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

from jobreqs.warehouse import connect
from scrapers.upwork.settings import UpworkSettings, load_oauth_settings, load_settings
from scrapers.upwork.token import AUTHORIZE_PATH, Token, UpworkTokenError, exchange_code, store_token


def authorization_url(settings: UpworkSettings, redirect_uri: str, state: str) -> str:
    query = {"response_type": "code", "client_id": settings.client_id, "redirect_uri": redirect_uri, "state": state}
    return f"{settings.root}{AUTHORIZE_PATH}?{urlencode(query)}"


def _is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")


def _wait_for_redirect(redirect_uri: str, timeout: float, ready: Callable[[], None]) -> str:
    """Serve the loopback redirect URI until the browser comes back; return the URL it asked for."""
    parts = urlsplit(redirect_uri)
    landed: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != (parts.path or "/"):
                self.send_error(404)
                return
            landed.append(f"{parts.scheme}://{parts.netloc}{self.path}")
            body = b"<html><body>jobreqs: Upwork access granted. You can close this tab.</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # the query holds the code: never logged
            pass

    deadline = time.monotonic() + timeout
    with HTTPServer((parts.hostname, parts.port or 80), Handler) as server:
        ready()
        while not landed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UpworkTokenError(f"no answer on {redirect_uri} within {timeout:.0f} s")
            server.timeout = left
            server.handle_request()  # returns after one request or the timeout
    return landed[0]


def authorize(settings: UpworkSettings, redirect_uri: str, *, out: TextIO = sys.stderr,
              read_line: Callable[[str], str] = input, open_browser: bool = False, timeout: float = 600) -> Token:
    """Run the flow once and store the tokens; return them (the caller must not show them)."""
    if not settings.has_oauth_client:
        raise UpworkTokenError("no Upwork OAuth app configured: set the upwork_oauth connection (login = client id, "
                               "password = secret) or the upwork_api connection in oauth mode")
    state = secrets.token_urlsafe(16)
    url = authorization_url(settings, redirect_uri, state)

    def show() -> None:
        print(f"Open this URL in a browser, log in to Upwork and allow access:\n  {url}", file=out, flush=True)
        if open_browser:
            webbrowser.open(url)

    if _is_loopback(redirect_uri):
        landed = _wait_for_redirect(redirect_uri, timeout, show)
    else:
        show()
        landed = read_line("Paste the whole URL the browser was sent to after you allowed access: ").strip()
    query = parse_qs(urlsplit(landed).query)
    if query.get("error"):
        raise UpworkTokenError(f"Upwork answered {query['error'][0]}: access was not granted")
    if query.get("state") != [state]:
        raise UpworkTokenError("the redirect's state does not match this request's: start again")
    if not query.get("code"):
        raise UpworkTokenError("the redirect carries no code")
    token = exchange_code(settings, query["code"][0], redirect_uri)
    if not token.refresh_token:
        raise UpworkTokenError("the token endpoint gave no refresh token")
    with connect() as conn, conn.transaction():
        store_token(conn, settings, token)
    return token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redirect-uri", help="the redirect URI registered with the OAuth app "
                                               "(default: the settings' redirect_uri)")
    parser.add_argument("--open", action="store_true", help="open the authorization URL in a browser")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the browser (loopback URI)")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    oauth = load_oauth_settings(settings)
    if oauth is None:
        print("upwork-authorize: no Upwork OAuth app configured (connection upwork_oauth: login = client id, "
              "password = secret; or upwork_api in oauth mode)", file=sys.stderr)
        return 2
    redirect_uri = args.redirect_uri or oauth.redirect_uri
    if not redirect_uri:
        print("upwork-authorize: give --redirect-uri (the one registered with the OAuth app)", file=sys.stderr)
        return 2
    try:
        token = authorize(oauth, redirect_uri, open_browser=args.open, timeout=args.timeout)
    except UpworkTokenError as exc:
        print(f"upwork-authorize: {exc}", file=sys.stderr)
        return 1
    print(f"Authorized. The refresh token is stored in the warehouse's private token cache "
          f"(jobreqs_private.upwork_tokens); the pipeline renews the access token (valid until "
          f"{token.expires_at.isoformat()}) from it.", file=sys.stderr)
    return 0
