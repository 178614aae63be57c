"""``jobreqs ui``: the Airflow UI on http://localhost:8080 with the project's DAGs and plugins.

Runs ``airflow standalone`` (api-server, scheduler, dag-processor and triggerer in one command)
with the project's Airflow home in ``.state/airflow``. Local use only: the simple auth manager
lets everyone in as admin (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS``); set it to False
and list users in ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS`` for a login.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jobreqs import airflow_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="port of the web UI (default 8080)")


def run(args: argparse.Namespace) -> int:
    airflow_env.apply()
    os.environ.setdefault("AIRFLOW__API__PORT", str(args.port))
    airflow_env.ensure_metadata_db()
    airflow = str(Path(sys.executable).with_name("airflow"))
    # standalone starts its components as `airflow ...` found on PATH: make it this virtualenv's.
    os.environ["PATH"] = os.pathsep.join([str(Path(airflow).parent), os.environ.get("PATH", "")])
    print(f"Airflow UI: http://localhost:{args.port}  (Ctrl-C stops it)", flush=True)
    os.execv(airflow, [airflow, "standalone"])
    return 0  # not reached: execv replaces this process
