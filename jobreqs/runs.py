"""Run statistics: every stage of every run records what it did in ``jobreqs.pipeline_runs``."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.types.json import Jsonb


def record_stage(conn: psycopg.Connection, *, run_id: str, dag_id: str, day: dt.date, stage: str,
                 stats: dict, status: str = "success", message: str | None = None) -> None:
    """Upsert one stage's statistics for a run (a retried task overwrites its earlier attempt).
    The message is stored without secrets, and neither it nor the statistics may stop the
    record with a character Postgres cannot store."""
    from jobreqs.redact import redact
    from transforms.text import storable

    stats, _ = storable(stats)
    message = storable(redact(message))[0] if message else message
    conn.execute(
        """INSERT INTO jobreqs.pipeline_runs (run_id, dag_id, logical_date, stage, status, stats, message)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (run_id, stage) DO UPDATE SET
               status = EXCLUDED.status, stats = EXCLUDED.stats, message = EXCLUDED.message,
               recorded_at = now()""",
        (run_id, dag_id, day, stage, status, Jsonb(stats), message),
    )
