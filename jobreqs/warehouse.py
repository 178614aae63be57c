"""The Postgres warehouse: where to connect, and its versioned migrations.

Connection: the Airflow connection ``jobreqs_warehouse`` when one is defined (in the metadata DB,
a secrets backend, or ``AIRFLOW_CONN_JOBREQS_WAREHOUSE``); otherwise the embedded Postgres in
``.state/pg``. Everything else in the project asks this module for a connection.

Migrations: plain SQL files in ``sql/migrations/NNNN_name.sql``, applied in order, each once, in its
own transaction, under an advisory lock so that two processes never apply the same file. A
``schema_migrations`` table records version and checksum; a file edited after it was applied is an
error, not a silent drift. ``sql/grants.sql`` is re-applied after every migrate (idempotent) so that
new tables are visible to the read-only role at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from jobreqs import embedded_pg
from jobreqs.config import PROJECT_ROOT, WAREHOUSE_CONN_ID

log = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
GRANTS_FILE = SQL_DIR / "grants.sql"
# Arbitrary constant: the key of the advisory lock that serialises migrations.
_MIGRATION_LOCK_KEY = 4_216_007
#: How long migrate waits for the migration lock before failing with a clear error (only a
#: second migrate, or a client allowed to take advisory locks, can hold it; see sql/grants.sql).
MIGRATION_LOCK_TIMEOUT = "5min"


def airflow_conninfo(conn_id: str) -> str | None:
    """Conninfo of an Airflow connection, or None when it is not defined anywhere."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    params = {k: v for k, v in extra.items() if k in {"sslmode", "sslrootcert", "options", "application_name"}}
    return make_conninfo(
        host=conn.host or None,
        port=conn.port or None,
        user=conn.login or None,
        password=conn.password or None,
        dbname=conn.schema or None,
        **params,
    )


def warehouse_conninfo() -> str:
    """The libpq conninfo of the warehouse (see the module docstring for the order)."""
    conninfo = airflow_conninfo(WAREHOUSE_CONN_ID)
    if conninfo is not None:
        return conninfo
    return embedded_pg.ensure_started()


def describe(conninfo: str) -> str:
    """A printable form of a conninfo, password removed."""
    parts = conninfo_to_dict(conninfo)
    parts.pop("password", None)
    return make_conninfo(**parts)


@contextmanager
def connect(conninfo: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection to the warehouse; commits on success, rolls back on error."""
    with psycopg.connect(conninfo or warehouse_conninfo(), **kwargs) as conn:
        yield conn


def _migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(conninfo: str | None = None, lock_timeout: str = MIGRATION_LOCK_TIMEOUT) -> list[str]:
    """Apply pending migrations and the grants; return the versions applied now (empty if none).
    Waits at most ``lock_timeout`` for another migrate to finish (then raises)."""
    applied_now: list[str] = []
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (lock_timeout,))
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        except psycopg.errors.LockNotAvailable:
            raise RuntimeError(f"the migration lock is held by another session for more than {lock_timeout}: "
                               "another migrate is running, or a client holds the lock") from None
        conn.execute("RESET lock_timeout")
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS jobreqs")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS jobreqs.schema_migrations (
                       version text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = dict(conn.execute("SELECT version, checksum FROM jobreqs.schema_migrations").fetchall())
            for path in _migration_files():
                version = path.stem
                text = path.read_text()
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise RuntimeError(
                            f"migration {version} was changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO jobreqs.schema_migrations (version, checksum) VALUES (%s, %s)",
                        (version, checksum),
                    )
                applied_now.append(version)
                log.info("applied migration %s", version)
            with conn.transaction():
                conn.execute(GRANTS_FILE.read_text())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
    return applied_now
