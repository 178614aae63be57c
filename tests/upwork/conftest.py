"""Fixtures for the Upwork tests: a sandbox Upwork (its www and api hosts and a Zyte API in front),
configured as the API through the environment."""

from __future__ import annotations

import contextlib
import datetime as dt

import httpx
import pytest

from scrapers.upwork.sandbox import sandbox_servers

# Yesterday (UTC): the day a daily run fetches. Relative, so that the re-run tests stay on the
# "fetch again" side of upwork_fetch's backfill rule.
DAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
SMALL_DAY = {"day": DAY, "jobs": 300, "arrivals": 12, "late_arrivals": 6, "before": 40}


@pytest.fixture
def upwork_sandbox(monkeypatch, warehouse):
    """Factory: start a sandbox day (options of ``DayOptions``) and point the pipeline at it
    through the environment (mode ``visitor`` unless told). Returns the www URL (``urls`` below
    has the others)."""
    stack = contextlib.ExitStack()

    def start(mode: str = "visitor", env: dict | None = None, **options) -> str:
        urls = stack.enter_context(sandbox_servers(**(SMALL_DAY | options)))
        start.urls = urls
        for key in ("AIRFLOW_CONN_UPWORK_API", "AIRFLOW_CONN_UPWORK_OAUTH", "JOBREQS_UPWORK_CLIENT_ID",
                    "JOBREQS_UPWORK_CLIENT_SECRET", "JOBREQS_UPWORK_REFRESH_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        for key, value in (urls.environment(mode) | (env or {})).items():
            monkeypatch.setenv(key, value)
        return urls.www

    with stack:
        yield start


def truth(url: str) -> dict:
    return httpx.get(url + "/__sandbox__/truth").json()


def revoke(url: str) -> None:
    httpx.post(url + "/__sandbox__/revoke")


def set_clock(url: str, moment: dt.datetime) -> int:
    """Move the sandbox's clock (``clock`` mode): the jobs published up to ``moment`` appear."""
    return httpx.post(url + "/__sandbox__/clock", json={"now": moment.isoformat()}).json()["released"]


APP = {"JOBREQS_UPWORK_CLIENT_ID": "jobreqs-app", "JOBREQS_UPWORK_CLIENT_SECRET": "app-s3cret-value"}


def authorize_app(monkeypatch) -> None:
    """Run the authorization-code flow against the sandbox in this process, as `jobreqs
    upwork-authorize` does (the sandbox approves at once): the OAuth token lands in the cache."""
    import io
    import re
    import threading
    import time

    from scrapers.upwork.authorize import authorize
    from scrapers.upwork.settings import load_oauth_settings
    from tests.conftest import free_port

    for key, value in APP.items():
        monkeypatch.setenv(key, value)
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    out = io.StringIO()
    failure: list[BaseException] = []

    def flow() -> None:
        try:
            authorize(load_oauth_settings(), redirect, out=out, timeout=30)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=flow)
    thread.start()
    deadline = time.monotonic() + 30
    while not (match := re.search(r"http\S+oauth2/authorize\S+", out.getvalue())):
        assert time.monotonic() < deadline and thread.is_alive(), (out.getvalue(), failure)
        time.sleep(0.05)
    httpx.get(match.group(0), follow_redirects=True, timeout=30)  # the user's browser
    thread.join(30)
    assert not failure, failure
