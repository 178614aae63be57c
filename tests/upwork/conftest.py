"""Fixtures for the Upwork tests: a sandbox Upwork on a free port, configured as the API."""

from __future__ import annotations

import contextlib
import datetime as dt

import httpx
import pytest

from scrapers.upwork.sandbox import sandbox_server

# Yesterday (UTC): the day a daily run fetches. Relative, so that the re-run tests stay on the
# "fetch again" side of upwork_fetch's backfill rule.
DAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
SMALL_DAY = {"day": DAY, "jobs": 300, "arrivals": 12, "late_arrivals": 6, "before": 40}


@pytest.fixture
def upwork_sandbox(monkeypatch, warehouse):
    """Factory: start a sandbox day (options of ``DayOptions``) and point the pipeline at it
    through the environment (mode ``visitor`` unless told). Yields the base URL."""
    stack = contextlib.ExitStack()

    def start(mode: str = "visitor", env: dict | None = None, **options) -> str:
        url = stack.enter_context(sandbox_server(**(SMALL_DAY | options)))
        monkeypatch.delenv("AIRFLOW_CONN_UPWORK_API", raising=False)
        monkeypatch.setenv("JOBREQS_UPWORK_BASE_URL", url)
        monkeypatch.setenv("JOBREQS_UPWORK_MODE", mode)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return url

    with stack:
        yield start


def truth(url: str) -> dict:
    return httpx.get(url + "/__sandbox__/truth").json()


def revoke(url: str) -> None:
    httpx.post(url + "/__sandbox__/revoke")
