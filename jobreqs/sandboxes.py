"""The local sandboxes that stand for the real sources, started from one place.

Each source that has a sandbox registers here a starter (a context manager that serves the
sandbox for a date and yields the environment that points the pipeline at it, plus one line for
the user) and a check that says whether the source's configuration points at a sandbox.
``serving(day)`` starts them all (or the ones named), sets that environment while the block runs
and restores it after; ``jobreqs run`` and ``jobreqs sandbox-month`` use it, so a new source's
sandbox appears in both once it calls ``register``.

The sandboxes can serve any date (new postings every day, a technology mix drifting over weeks),
so in sandbox mode a past date is collected too, when the sandbox running serves that date (a
sandbox started for today, by ``jobreqs ui`` say, serves today's postings only: a backfill there
re-processes the lake's snapshots, as with the real sites). ``jobreqs.pipeline.skip_collection``
asks ``serves(source, day)``; each sandbox answers ``GET /__sandbox__/days``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import ContextManager

#: A starter: ``starter(day, **options) -> context manager yielding (environment, line for the user)``.
Starter = Callable[..., ContextManager[tuple[dict[str, str], str]]]

#: Jobs per day in the sandbox Upwork of ``jobreqs run`` (the sandbox's realistic day: ~6,000).
SANDBOX_UPWORK_JOBS = 1_500

_STARTERS: dict[str, Starter] = {}
_URLS: dict[str, Callable[[], str | None]] = {}
#: Settings that would win over a source's sandbox environment: hidden while it serves. (A
#: configured Indeed proxy API stays: it is asked for the sandbox's pages.)
_HIDDEN = {"upwork": ("AIRFLOW_CONN_UPWORK_API", "AIRFLOW_CONN_UPWORK_OAUTH")}
#: What configures a real source: environment variables, or Airflow connections (defined in the
#: environment or in the metadata database, through the UI).
_REAL = {"indeed": (("JOBREQS_INDEED_BASE_URL",), ("indeed_proxy",)),
         "upwork": (("JOBREQS_UPWORK_BASE_URL",), ("upwork_api",)),
         "hn": (("JOBREQS_HN_BASE_URL",), ()),
         **{ats: ((f"JOBREQS_{ats.upper()}_BASE_URL", "AIRFLOW_VAR_JOBREQS_ATS_BOARDS"), ())
            for ats in ("greenhouse", "lever", "ashby")}}


def register(source: str, starter: Starter, configured_url: Callable[[], str | None]) -> None:
    """Make ``source``'s sandbox part of every ``serving()``; ``configured_url()`` gives the URL
    the source's current configuration collects from (None when it is not configured)."""
    _STARTERS[source] = starter
    _URLS[source] = configured_url


def registered() -> list[str]:
    return list(_STARTERS)


def _connection_defined(conn_id: str) -> bool:
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return True
    try:  # the metadata database and any secrets backend, as a task would see them
        from airflow.models.connection import Connection

        Connection.get_connection_from_secrets(conn_id)
        return True
    except Exception:  # noqa: BLE001 - AirflowNotFoundException, or no metadata database yet
        return False


def configured(source: str) -> bool:
    """Whether a real ``source`` is configured (its environment variable or Airflow connection)."""
    variables, connections = _REAL.get(source, ((), ()))
    return any(os.environ.get(v) for v in variables) or any(_connection_defined(c) for c in connections)


def unconfigured() -> list[str]:
    """The registered sources with no real configuration: the ones ``jobreqs ui`` serves sandboxes for."""
    return [source for source in registered() if not configured(source)]


def source_url(source: str) -> str | None:
    """The URL ``source`` collects from under the current configuration (None: not configured)."""
    return _URLS[source]() if source in _URLS else None


def is_loopback(url: str | None) -> bool:
    """A server on this machine: the sandboxes listen on 127.0.0.1."""
    from urllib.parse import urlparse

    return (urlparse(url or "").hostname or "") in ("127.0.0.1", "localhost", "::1")


def serves(source: str, day: dt.date) -> bool:
    """Whether ``source`` collects from a local sandbox that serves ``day`` (False for a real
    site, a source not configured, or a sandbox serving other dates)."""
    import httpx

    url = source_url(source)
    if not is_loopback(url):
        return False
    try:
        days = httpx.get(url.rstrip("/") + "/__sandbox__/days", timeout=10).json().get("days") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return day.isoformat() in days


@contextlib.contextmanager
def _indeed(day: dt.date, blocked_share: float = 0.0) -> Iterator[tuple[dict[str, str], str]]:
    from scrapers.indeed.sandbox import sandbox_server

    with sandbox_server(day=day, blocked_share=blocked_share) as url:
        blocked = f", {blocked_share:.0%} of the search pages past the first blocked" if blocked_share else ""
        yield {"JOBREQS_INDEED_BASE_URL": url}, (f"Indeed: the local sandbox at {url} (real page structure{blocked}), "
                                                 "not the real site")


@contextlib.contextmanager
def _upwork(day: dt.date, jobs: int = SANDBOX_UPWORK_JOBS) -> Iterator[tuple[dict[str, str], str]]:
    from scrapers.upwork.sandbox import sandbox_servers

    # jobs arriving while the client pages, and the previous evening's tail, in proportion
    arrivals = max(2, jobs // 100)
    with sandbox_servers(day=day, jobs=jobs, arrivals=arrivals, late_arrivals=arrivals // 2,
                         before=max(5, jobs // 20)) as urls:
        yield urls.environment("visitor"), (f"Upwork: the local sandbox at {urls.www} ({jobs} synthetic jobs, "
                                            f"token through a sandbox Zyte API), not the real site")


@contextlib.contextmanager
def _hn(day: dt.date) -> Iterator[tuple[dict[str, str], str]]:
    from scrapers.hn.sandbox import sandbox_server

    with sandbox_server(day=day) as url:
        yield {"JOBREQS_HN_BASE_URL": url}, f"Hacker News: the local sandbox at {url} (the official API's shapes), not the real API"


def _hn_url() -> str:
    from scrapers.hn.collect import base_url

    return base_url()


def _boards(ats: str) -> Starter:
    @contextlib.contextmanager
    def start(day: dt.date) -> Iterator[tuple[dict[str, str], str]]:
        import json

        from scrapers.ats.sandbox import SANDBOX_BOARDS, sandbox_server

        with sandbox_server(ats, day=day) as url:
            # the boards list through its real channel: an Airflow Variable (set from the environment)
            yield ({f"JOBREQS_{ats.upper()}_BASE_URL": url, "AIRFLOW_VAR_JOBREQS_ATS_BOARDS": json.dumps(SANDBOX_BOARDS)},
                   f"{ats.title()}: the local sandbox job-board API at {url} (real shapes), not the real service")

    return start


def _boards_url(ats: str) -> Callable[[], str]:
    def url() -> str:
        from scrapers.ats.boards import base_url

        return base_url(ats)

    return url


def _indeed_url() -> str:
    from scrapers.indeed.run import default_base_url

    return default_base_url()


def _upwork_url() -> str | None:
    from scrapers.upwork.settings import load_settings

    try:
        return load_settings().root
    except RuntimeError:  # not configured at all: the task will say so
        return None


register("indeed", _indeed, _indeed_url)
register("upwork", _upwork, _upwork_url)
register("hn", _hn, _hn_url)
for _ats in ("greenhouse", "lever", "ashby"):
    register(_ats, _boards(_ats), _boards_url(_ats))


@contextlib.contextmanager
def serving(day: dt.date, sources: list[str] | None = None,
            options: dict[str, dict] | None = None) -> Iterator[list[str]]:
    """Serve the sandboxes of ``sources`` (default: every registered one) for ``day`` and point
    the pipeline at them through the environment; yield one line per sandbox for the user.
    ``options``: keyword arguments for a source's starter (``{"upwork": {"jobs": 300}}``)."""
    sources = registered() if sources is None else sources
    with contextlib.ExitStack() as stack:
        for source in sources:
            for key in _HIDDEN.get(source, ()):  # a configured connection would win over the sandbox
                stack.callback(_restore, key, os.environ.pop(key, None))
        lines = []
        for source in sources:
            environment, line = stack.enter_context(_STARTERS[source](day, **(options or {}).get(source, {})))
            for key, value in environment.items():
                stack.callback(_restore, key, os.environ.get(key))
                os.environ[key] = value
            lines.append(line)
        yield lines


def _restore(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
