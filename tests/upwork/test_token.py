"""The Upwork token: cached and reused, renewed near expiry, refreshed once on a 401, never shown."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest

from scrapers.upwork.enrich import upwork_enrich
from scrapers.upwork.fetch import upwork_fetch
from scrapers.upwork.token import UpworkTokenError, upwork_token
from tests.upwork.conftest import DAY, revoke, truth


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
    assert truth(url)["counts"]["render"] == 1
    time.sleep(1.7)  # now inside the margin before expiry: a new token is obtained
    third = upwork_token()
    assert third["reused"] is False and third["expires_at"] > first["expires_at"]
    assert truth(url)["counts"]["render"] == 2
    assert set(first) == {"mode", "reused", "expires_at"}  # never the token itself


def test_refresh_once_on_401_in_fetch_and_enrich(upwork_sandbox, lake_root, warehouse):
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
    # eight concurrent requests saw the 401; one refresh served them all
    assert enriched["token_refreshes"] == 1 and enriched["enriched"] == 120
    assert truth(url)["counts"]["status_401"] >= 2


def test_oauth_client_credentials_then_refresh_token_grant(upwork_sandbox, lake_root, warehouse, caplog):
    secret = "s3cret-client-value"
    url = upwork_sandbox(mode="oauth", token_ttl=2.0, credentials={"client_id": "jobreqs", "client_secret": secret},
                         jobs=100, arrivals=5, late_arrivals=2, before=10, malformed_rate=0,
                         env={"JOBREQS_UPWORK_CLIENT_ID": "jobreqs", "JOBREQS_UPWORK_CLIENT_SECRET": secret,
                              "JOBREQS_UPWORK_TOKEN_MARGIN_SECONDS": "1"})
    caplog.set_level(logging.DEBUG)
    assert upwork_token()["reused"] is False
    token, refresh = _cached(warehouse, "oauth")
    assert refresh
    time.sleep(1.1)
    assert upwork_token()["reused"] is False  # renewed with the (rotated) refresh token
    token2, refresh2 = _cached(warehouse, "oauth")
    assert token2 != token and refresh2 != refresh
    # the official API's search shape, through the adapter, gives the same day
    result = upwork_fetch(lake_root, DAY)
    assert result["fetched"] == len(truth(url)["window_ids"])
    logged = caplog.text + repr(result)
    for value in (secret, token, token2, refresh, refresh2):
        assert value not in logged


def test_wrong_credentials_are_a_clear_error_without_the_secret(upwork_sandbox, warehouse):
    upwork_sandbox(mode="oauth", credentials={"client_id": "jobreqs", "client_secret": "right-one"},
                   env={"JOBREQS_UPWORK_CLIENT_ID": "jobreqs", "JOBREQS_UPWORK_CLIENT_SECRET": "wrong-one"})
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

    url = upwork_sandbox(credentials={"proxy_key": "proxy-key-123"})
    monkeypatch.delenv("JOBREQS_UPWORK_BASE_URL")
    conn = {"conn_type": "http", "host": url, "password": "proxy-key-123",
            "extra": {"mode": "visitor", "token_margin_seconds": 60, "page_size": 40}}
    monkeypatch.setenv("AIRFLOW_CONN_UPWORK_API", json.dumps(conn))
    settings = load_settings()
    assert (settings.mode, settings.root, settings.page_size, settings.token_margin_seconds) == ("visitor", url, 40, 60)
    assert "proxy-key-123" not in repr(settings)
    assert upwork_token()["reused"] is False
    monkeypatch.setenv("AIRFLOW_CONN_UPWORK_API", json.dumps(conn | {"password": "wrong"}))
    with psycopg.connect(warehouse, autocommit=True) as c:
        c.execute("DELETE FROM jobreqs_private.upwork_tokens")
    with pytest.raises(UpworkTokenError, match="HTTP 401"):
        upwork_token()
