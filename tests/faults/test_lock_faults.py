"""Case 6 of issue 11: the read-only role must not be able to stall the pipeline."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from jobreqs.warehouse import _MIGRATION_LOCK_KEY, migrate
from scrapers.upwork.enrich import LEASE_LOCK_SPACE
from scrapers.upwork.token import _TOKEN_LOCK_KEY
from tests.faults.conftest import figures

ATTEMPTS = [
    ("pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_advisory_lock(%s)", (_TOKEN_LOCK_KEY,)),
    ("pg_try_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_advisory_lock_shared(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_try_advisory_lock_shared(%s)", (_TOKEN_LOCK_KEY,)),
    ("pg_advisory_xact_lock(%s)", (_TOKEN_LOCK_KEY,)),
    ("pg_try_advisory_xact_lock(%s)", (_TOKEN_LOCK_KEY,)),
    ("pg_advisory_xact_lock_shared(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_try_advisory_xact_lock_shared(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_advisory_lock(%s, %s)", (LEASE_LOCK_SPACE, 12345)),
    ("pg_try_advisory_lock(%s, %s)", (LEASE_LOCK_SPACE, 12345)),
    ("pg_advisory_xact_lock(%s, %s)", (LEASE_LOCK_SPACE, 1)),
    ("pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,)),
    ("pg_advisory_unlock_all()", ()),
]


def _reader(conninfo: str) -> str:
    return make_conninfo(conninfo, user="jobreqs_reader", password="")


def test_case6_the_reader_can_take_no_pipeline_lock_and_migrate_never_waits_forever(warehouse):
    refused = 0
    with psycopg.connect(_reader(warehouse), autocommit=True) as conn:
        for call, args in ATTEMPTS:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT {call}", args)
            refused += 1
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('statement_timeout', 'idle_in_transaction_session_timeout', 'lock_timeout')").fetchall())
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    assert settings == {"statement_timeout": "120000", "idle_in_transaction_session_timeout": "300000",
                        "lock_timeout": "30000"} and limit == 20
    started = time.monotonic()
    assert migrate(warehouse) == []  # nothing a reader did stands in its way
    # Were the functions still open to someone (a non-superuser install), migrate gives up
    # after its lock timeout with a clear error instead of waiting for ever.
    with psycopg.connect(warehouse, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        with pytest.raises(RuntimeError, match="migration lock is held"):
            migrate(warehouse, lock_timeout="1s")
    figures("case6-locks", reader_lock_attempts=len(ATTEMPTS), refused=refused, reader_settings=settings,
            connection_limit=limit, migrate_seconds=round(time.monotonic() - started, 1))


def test_case6_the_trends_page_reader_has_the_same_timeouts(warehouse):
    from transforms.marts import reader_connection

    with reader_connection(warehouse) as conn:
        timeout = conn.execute("SHOW statement_timeout").fetchone()["statement_timeout"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
    assert timeout == "2min"
