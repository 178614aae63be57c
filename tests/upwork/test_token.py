"""The Upwork token: obtained as the real services give it (the Zyte API rendering the home page; the
OAuth app's authorization-code flow once, then refresh tokens), cached and reused, renewed near
expiry, refreshed once on a 401, never shown."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest

from scrapers.upwork.enrich import upwork_enrich
from scrapers.upwork.fetch import upwork_fetch
from scrapers.upwork.token import UpworkTokenError, upwork_token
from tests.upwork.conftest import APP, DAY, authorize_app, revoke, truth


def _cached(conninfo, mode="visitor") -> tuple[str, str | None]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT access_token, refresh_token FROM jobreqs_private.upwork_tokens WHERE mode = %s",
                            (mode,)).fetchone()


def test_visitor_token_reused_then_renewed_near_expiry(upwork_sandbox, warehouse):
    url = upwork_sandbox(token_ttl=3.0, env={"JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS": "1.5"})
    first = upwork_token()
    assert first["mode"] == "visitor" and first["reused"] is False
    second = upwork_token()
    assert second["reused"] is True and second["expires_at"] == first["expires_at"]
    assert truth(url)["counts"]["home"] == 1
    time.sleep(1.7)  # now inside the margin before expiry: a new token is obtained
    third = upwork_token()
    assert third["reused"] is False and third["expires_at"] > first["expires_at"]
    assert truth(url)["counts"]["home"] == 2
    assert set(first) == {"mode", "reused", "expires_at"}  # never the token itself


def test_visitor_token_comes_from_the_home_page_through_the_zyte_api(upwork_sandbox, warehouse):
    """The home page answers a script with Cloudflare's challenge; the Zyte API's documented
    request ({url, browserHtml, responseCookies}, basic auth with an empty password) gets its
    visitor_gql_token, which reads every field of the visitor search."""
    import httpx

    url = upwork_sandbox()
    assert httpx.get(url + "/").status_code == 403  # direct: the challenge
    upwork_token()
    token, _ = _cached(warehouse)
    assert token.startswith("oauth2v2_")
    search = httpx.post(url + "/api/graphql/v1", headers={"Authorization": f"Bearer {token}"}, json={
        "query": "query { search { universalSearchNuxt { visitorJobSearchV1(request: {paging: {offset: 0, count: 1}}) "
                 "{ results { jobTile { job { cipherText publishTime } } } } } } }"}).json()
    assert "errors" not in search


def test_the_search_cookie_is_accepted_when_the_home_page_sets_none(upwork_sandbox, warehouse, caplog, lake_root):
    """Reported: the search page's UniversalSearchNuxt_vt is scoped too narrowly for ciphertext,
    publishTime, amount: taken (with a warning) when it is all there is, and the sandbox then
    refuses those fields as the real service does."""
    from scrapers.upwork.api import UpworkApiError

    upwork_sandbox(search_cookie_only=True)
    assert upwork_token()["reused"] is False
    assert "UniversalSearchNuxt_vt" in caplog.text
    with pytest.raises(UpworkApiError, match="Execution aborted: field 'cipherText'"):
        upwork_fetch(lake_root, DAY)


def test_a_zyte_api_that_refuses_the_key_is_a_clear_error(upwork_sandbox, warehouse):
    upwork_sandbox(env={"JOBREQS_UPWORK_PROXY_KEY": "not-the-key"})
    with pytest.raises(UpworkTokenError, match="Zyte API answered HTTP 401 /auth/key-not-found") as info:
        upwork_token()
    assert "not-the-key" not in str(info.value)


def test_refresh_once_on_401_in_fetch_and_enrich(upwork_sandbox, lake_root, warehouse, monkeypatch):
    url = upwork_sandbox(jobs=120, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=0, both_fail_rate=0)
    upwork_token()
    old, _ = _cached(warehouse)
    revoke(url)  # the server forgets every token: the next call gets a 401
    result = upwork_fetch(lake_root, DAY)
    assert result["token_refreshes"] == 1 and result["fetched"] == 120
    new, _ = _cached(warehouse)
    assert new != old
    revoke(url)
    enriched = upwork_enrich(limit=1000, concurrency=8)
    # the fast path (the visitor REST details) sends no token at all
    assert enriched["token_refreshes"] == 0 and enriched["enriched"] == enriched["fast"] == 120


def test_one_refresh_serves_every_concurrent_401_of_the_fallback(upwork_sandbox, lake_root, warehouse, monkeypatch):
    url = upwork_sandbox(jobs=80, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=1.0,
                         both_fail_rate=0)
    upwork_fetch(lake_root, DAY)
    authorize_app(monkeypatch)
    revoke(url)
    enriched = upwork_enrich(limit=1000, concurrency=8)
    # eight concurrent requests saw the 401; one refresh (of the OAuth token) served them all
    assert enriched["token_refreshes"] == 1 and enriched["enriched"] == enriched["fallback"] == 80
    assert truth(url)["counts"]["status_401"] >= 2


def test_official_mode_authorize_once_then_refresh_tokens_on_split_hosts(upwork_sandbox, lake_root, warehouse,
                                                                        caplog, monkeypatch):
    """An ordinary key: client credentials are refused (unauthorized_client); the authorization-code
    flow once; then refresh tokens that rotate. Tokens on www.upwork.com, GraphQL on api.upwork.com."""
    import httpx

    url = upwork_sandbox(mode="oauth", token_ttl=2.0, jobs=100, arrivals=5, late_arrivals=2, before=10, malformed_rate=0,
                         credentials={"client_id": APP["JOBREQS_UPWORK_CLIENT_ID"],
                                      "client_secret": APP["JOBREQS_UPWORK_CLIENT_SECRET"]},
                         env=APP | {"JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS": "1"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpworkTokenError, match="run `jobreqs upwork-authorize` once"):
        upwork_token()
    monkeypatch.setenv("JOBREQS_UPWORK_GRANT", "client_credentials")
    with pytest.raises(UpworkTokenError, match="HTTP 400 unauthorized_client"):
        upwork_token()
    monkeypatch.delenv("JOBREQS_UPWORK_GRANT")
    authorize_app(monkeypatch)
    token, refresh = _cached(warehouse, "oauth")
    assert refresh and upwork_token()["reused"] is True
    time.sleep(1.1)
    assert upwork_token()["reused"] is False  # renewed with the (rotated) refresh token
    token2, refresh2 = _cached(warehouse, "oauth")
    assert token2 != token and refresh2 != refresh
    # one host for both fails: www has no /graphql, api has no token endpoint
    api = upwork_sandbox.urls.api
    assert httpx.post(url + "/graphql", json={"query": "{ x }"}, headers={"Authorization": f"Bearer {token2}"}).status_code == 404
    assert httpx.post(api + "/api/v3/oauth2/token", data={"grant_type": "refresh_token"}).status_code == 404
    # the official search shape, through the adapter, gives the same day, with its clients
    result = upwork_fetch(lake_root, DAY)
    assert result["fetched"] == len(truth(url)["window_ids"]) and result["clients"] == result["fetched"]
    with psycopg.connect(warehouse) as conn:
        paths = dict(conn.execute("SELECT enrich_path, count(*) FROM jobreqs.upwork_jobs GROUP BY 1").fetchall())
        clients = conn.execute("SELECT count(*) FROM jobreqs.upwork_clients").fetchone()[0]
    assert paths == {"search": result["fetched"]} and clients == result["fetched"]
    assert upwork_enrich(limit=1000)["claimed"] == 0  # enrichment rode on the search
    logged = caplog.text + repr(result)
    for value in (APP["JOBREQS_UPWORK_CLIENT_SECRET"], token, token2, refresh, refresh2):
        assert value not in logged


def test_upwork_authorize_command_stores_the_refresh_token_and_never_prints_it(upwork_sandbox, warehouse, monkeypatch):
    """`jobreqs upwork-authorize` as a user runs it: it prints the authorization URL, the browser
    comes back to the loopback redirect URI, the tokens land in the private cache."""
    import os
    import re
    import subprocess
    import sys

    import httpx

    from jobreqs.config import PROJECT_ROOT
    from tests.conftest import free_port

    upwork_sandbox(env=APP)
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    command = subprocess.Popen([sys.executable, "-m", "jobreqs.cli", "upwork-authorize", "--redirect-uri", redirect,
                                "--timeout", "60"], cwd=PROJECT_ROOT, env=dict(os.environ),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = ""
    while not (match := re.search(r"http\S+oauth2/authorize\S+", shown)):
        line = command.stderr.readline()
        assert line, (shown, command.stdout.read())
        shown += line
    assert f"client_id={APP['JOBREQS_UPWORK_CLIENT_ID']}" in match.group(0)
    assert httpx.get(match.group(0), follow_redirects=True, timeout=30).status_code == 200  # the user's browser
    out, err = command.communicate(timeout=60)
    assert command.returncode == 0, err
    token, refresh = _cached(warehouse, "oauth")
    assert "refresh token is stored" in err and refresh
    for secret in (token, refresh, APP["JOBREQS_UPWORK_CLIENT_SECRET"]):
        assert secret not in out + err + shown


def test_wrong_credentials_are_a_clear_error_without_the_secret(upwork_sandbox, warehouse):
    upwork_sandbox(mode="oauth", credentials={"client_id": "jobreqs", "client_secret": "right-one", "refresh_token": "r1"},
                   env={"JOBREQS_UPWORK_CLIENT_ID": "jobreqs", "JOBREQS_UPWORK_CLIENT_SECRET": "wrong-one",
                        "JOBREQS_UPWORK_REFRESH_TOKEN": "r1"})
    with pytest.raises(UpworkTokenError, match="HTTP 401") as info:
        upwork_token()
    assert "wrong-one" not in str(info.value)


def test_reader_role_cannot_read_the_token_cache(upwork_sandbox, warehouse):
    upwork_sandbox()
    upwork_token()
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("SET ROLE jobreqs_reader")
        conn.execute("SELECT count(*) FROM jobreqs.upwork_jobs, jobreqs.upwork_clients")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT access_token FROM jobreqs_private.upwork_tokens")


def test_settings_from_the_upwork_api_connection(upwork_sandbox, warehouse, monkeypatch):
    import json

    from scrapers.upwork.settings import load_settings

    url = upwork_sandbox()
    urls = upwork_sandbox.urls
    for key in ("JOBREQS_UPWORK_BASE_URL", "JOBREQS_UPWORK_PROXY_KEY", "JOBREQS_UPWORK_TOKEN_API_URL"):
        monkeypatch.delenv(key)
    conn = {"conn_type": "http", "host": url, "password": urls.zyte_key,
            "extra": {"mode": "visitor", "token_margin_seconds": 60, "page_size": 40, "token_api_url": urls.zyte}}
    monkeypatch.setenv("AIRFLOW_CONN_UPWORK_API", json.dumps(conn))
    settings = load_settings()
    assert (settings.mode, settings.root, settings.page_size, settings.token_margin_seconds) == ("visitor", url, 40, 60)
    assert settings.api_root == "https://api.upwork.com"  # the official API's own host by default
    assert urls.zyte_key not in repr(settings)
    assert upwork_token()["reused"] is False
    monkeypatch.setenv("AIRFLOW_CONN_UPWORK_API", json.dumps(conn | {"password": "wrong"}))
    with psycopg.connect(warehouse, autocommit=True) as c:
        c.execute("DELETE FROM jobreqs_private.upwork_tokens")
    with pytest.raises(UpworkTokenError, match="HTTP 401"):
        upwork_token()
