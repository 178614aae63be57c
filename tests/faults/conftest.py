"""The fault suite: each case of issue 11 reproduced against the real parts (Postgres, the lake,
the sandboxes, the local OpenAI-compatible server with its hostile knobs, real processes killed
with SIGKILL). Every test asserts nothing lost, nothing doubled, nothing published that a hostile
reply or text put there, no secret in any output, and that the figures were recorded; each prints
its figures (``pytest -s tests/faults`` shows them)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import psycopg
import pytest

from jobreqs import lake
from transforms.extract.fake_openai_server import FakeOpenAI

DAY = dt.date(2026, 11, 20)
#: The Upwork cases' day: yesterday (a fetch of it is a real fetch, not a backfill).
UPWORK_DAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
#: An API key that must never appear in any output.
OPENAI_KEY = "sk-fault-suite-0123456789abcdefSECRET"


@pytest.fixture
def hostile_openai(monkeypatch):
    """Factory: a local OpenAI-compatible server with the given hostile knobs, set as the
    ``openai_default`` connection (each call replaces the previous server)."""
    servers: list[FakeOpenAI] = []

    def start(**knobs) -> FakeOpenAI:
        fake = FakeOpenAI(api_key=OPENAI_KEY, **knobs)
        url = fake.serve()
        servers.append(fake)
        monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT",
                           json.dumps({"conn_type": "openai", "host": url, "password": OPENAI_KEY}))
        return fake

    yield start
    for fake in servers:
        fake.stop()


@pytest.fixture
def upwork_day(monkeypatch, warehouse):
    """Factory: a sandbox Upwork for ``UPWORK_DAY`` with the given options (its hosts and the Zyte
    API the visitor token comes through), set as the API the pipeline uses (visitor mode); returns
    its base URL."""
    from scrapers.upwork.sandbox import sandbox_servers

    stack = contextlib.ExitStack()

    def start(**options) -> str:
        urls = stack.enter_context(sandbox_servers(day=UPWORK_DAY, **options))
        monkeypatch.delenv("AIRFLOW_CONN_UPWORK_API", raising=False)
        for key, value in urls.environment("visitor").items():
            monkeypatch.setenv(key, value)
        return urls.www

    with stack:
        yield start


def figures(case: str, **values) -> None:
    """Print one line of figures for the report (visible with ``pytest -s``)."""
    print(f"\nFIGURES {case}: " + json.dumps(values, default=str, sort_keys=True))


def stage_rows(conninfo: str, stage: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT run_id, status, stats, message FROM jobreqs.pipeline_runs WHERE stage = %s "
                            "ORDER BY recorded_at", (stage,)).fetchall()


def technologies(conninfo: str) -> dict[str, list[str]]:
    """Every posting's stored technologies (postings without any map to [])."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """SELECT p.source || ':' || p.source_id, coalesce(array_agg(t.technology ORDER BY t.technology)
                      FILTER (WHERE t.technology IS NOT NULL), '{}')
               FROM jobreqs.postings p LEFT JOIN jobreqs.posting_technologies t USING (source, source_id)
               GROUP BY 1 ORDER BY 1""").fetchall()
    return dict(rows)


def write_classified(lake_root, records: list[dict], day: dt.date = DAY) -> str:
    """Stage ``records`` as the classify stage's output for ``day``; returns the partition path."""
    path = lake.partition(lake_root, "staging", "classified", day)
    lake.replace_partition(path, records)
    return str(path)


def posting(source_id: str, text: str, day: dt.date = DAY, source: str = "indeed") -> dict:
    """A classified posting record as the classify stage writes it."""
    from transforms.text import content_hash

    return {"source": source, "source_id": source_id, "title": f"Job {source_id}", "posting_date": day.isoformat(),
            "description_text": text, "content_hash": content_hash(text), "kept_text": text, "kept_ratio": 1.0,
            "tokens_before": len(text) // 4, "tokens_after": len(text) // 4, "classifier_version": "v1",
            "keep_reason": "short", "keywords": ["data engineer"], "search_location": "remote"}
