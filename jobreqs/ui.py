"""``jobreqs ui``: the Airflow UI on http://127.0.0.1:8080 with the project's DAGs and plugins.

Runs ``airflow standalone`` (api-server, scheduler, dag-processor and triggerer in one command)
with the project's Airflow home in ``.state/airflow``, as a child of this process:

- **Sources.** A source with no real configuration (its environment variable or Airflow
  connection, ``jobreqs.sandboxes.configured``) is served by its local sandbox for today, started
  here from the same registry ``jobreqs run`` uses, so a run triggered from the UI works on a
  fresh machine. The sandboxes' URLs reach the scheduler and its task processes through the
  environment; a task's log says which source it collected from. ``--live`` starts none.
- **Access.** The UI listens on 127.0.0.1 only (``--host`` opens it up). The simple auth manager
  lets every visitor in as admin, which is safe on a loopback address only: with another
  ``--host``, set ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False`` and list users in
  ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS`` (README, "The Airflow UI").
- **Stopping.** Ctrl-C, SIGTERM or SIGHUP stop the whole process group of ``airflow standalone``
  (its components, their workers and task processes), then the sandboxes: nothing it started
  is left running.
- **One at a time.** It holds the Airflow home (``jobreqs.runlock``): a ``jobreqs run`` meanwhile
  says the UI is up instead of sharing its scheduler and SQLite database.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from jobreqs import airflow_env

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="port of the web UI (default 8080)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; another one "
                             "needs a login, see the README)")
    parser.add_argument("--live", action="store_true",
                        help="start no sandbox: the runs use the real sources (configured as connections)")


def _refuse_open_admin(host: str) -> None:
    if host not in LOOPBACK and os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"].lower() == "true":
        raise SystemExit(f"--host {host} would let anyone who reaches it in as admin: set "
                         "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False and list users in "
                         "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS (see the README, 'The Airflow UI')")


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in process group ``pgid`` (from /proc: a
    zombie whose parent has not reaped it yet still counts for ``killpg``)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            return True
    return False


def stop_group(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the child's process group (its components, their workers and task processes),
    SIGKILL to whatever of the group is left after ``grace`` seconds."""
    import time

    pgid = process.pid  # start_new_session: the child leads its own group
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()  # reap the leader
            if not _group_alive(pgid):
                process.wait()
                return
            time.sleep(0.3)
    process.wait()


def run(args: argparse.Namespace) -> int:
    from jobreqs import runlock, sandboxes

    airflow_env.apply()
    os.environ.setdefault("AIRFLOW__API__PORT", str(args.port))
    os.environ.setdefault("AIRFLOW__API__HOST", args.host)
    _refuse_open_admin(os.environ["AIRFLOW__API__HOST"])
    # The LocalExecutor starts a worker process per parallelism slot (32 by default): a laptop's
    # UI needs a few (the daily DAG runs at most four tasks at once).
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    # The api-server on SQLite answers tasks slowly when the machine is busy: Airflow's 5 s
    # timeout then kills healthy tasks (SIGKILL after failed execution-API calls).
    os.environ.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60")
    # Task processes reach the api-server's execution API here (Airflow's default says
    # localhost:8080, which misses another --port, and may resolve to ::1 where nothing listens).
    reach = os.environ["AIRFLOW__API__HOST"]
    reach = "127.0.0.1" if reach in LOOPBACK or reach in ("0.0.0.0", "::", "") else reach
    os.environ.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                          f"http://{reach}:{os.environ['AIRFLOW__API__PORT']}/execution/")
    airflow = str(Path(sys.executable).with_name("airflow"))
    # standalone starts its components as `airflow ...` found on PATH: make it this virtualenv's.
    os.environ["PATH"] = os.pathsep.join([str(Path(airflow).parent), os.environ.get("PATH", "")])
    with runlock.exclusive("ui"):
        airflow_env.ensure_metadata_db()
        day = dt.datetime.now(dt.timezone.utc).date()
        served = [] if args.live else sandboxes.unconfigured()
        with sandboxes.serving(day, served) as lines:
            for line in lines:
                print(f"  {line} (runs triggered here collect {day} from it)", flush=True)
            for source in sorted(set(sandboxes.registered()) - set(served)):
                print(f"  {source}: the real source, as configured", flush=True)
            host = os.environ["AIRFLOW__API__HOST"]
            shown = "localhost" if host in LOOPBACK else host
            print(f"Airflow UI: http://{shown}:{os.environ['AIRFLOW__API__PORT']}  (Ctrl-C stops it)", flush=True)
            process = subprocess.Popen([airflow, "standalone"], start_new_session=True)

            def stop(signum, frame):  # noqa: ARG001
                raise KeyboardInterrupt

            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, stop)
            try:
                code = process.wait()
            except KeyboardInterrupt:
                code = 0
            finally:
                stop_group(process)
    return code
