"""``jobreqs run``: one full run of ``jobreqs_daily`` for a date, then a short summary.

On a fresh clone it runs on the embedded defaults: Airflow metadata in SQLite under
``.state/airflow``, the warehouse in an embedded Postgres (``.state/pg``), the lake in
``.state/lake``, and the sandbox Indeed and Upwork servers standing in for the real sites (unless
``--live`` is given and the real connections are configured). The DAG runs through ``dag.test()``,
Airflow's own way to run every task of one DAG run in a single process.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator

from jobreqs import airflow_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None,
                        help="logical date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--live", action="store_true",
                        help="use the real sites and services configured as Airflow connections "
                             "instead of the local sandboxes")
    parser.add_argument("--backend", choices=["local", "openai"], default=None,
                        help="extraction backend (default: the DAG's param, local)")


#: Jobs in the sandbox Upwork day of ``jobreqs run`` (the sandbox's realistic day is ~6,000).
SANDBOX_UPWORK_JOBS = 1_500


@contextlib.contextmanager
def sandboxes(day: dt.date, upwork_jobs: int = SANDBOX_UPWORK_JOBS) -> Iterator[list[str]]:
    """Start the sandbox Indeed and Upwork servers for ``day``, point the pipeline at them through
    the environment, and yield lines for the summary."""
    from scrapers.indeed.sandbox import sandbox_server as indeed_sandbox
    from scrapers.upwork.sandbox import sandbox_server as upwork_sandbox

    with contextlib.ExitStack() as stack:
        indeed_url = stack.enter_context(indeed_sandbox())
        upwork_url = stack.enter_context(upwork_sandbox(day=day, jobs=upwork_jobs))
        overrides = {"JOBREQS_INDEED_BASE_URL": indeed_url, "JOBREQS_UPWORK_BASE_URL": upwork_url}
        for key, value in overrides.items():
            stack.callback(_restore, key, os.environ.get(key))
            os.environ[key] = value
        # A configured upwork_api connection would win over the sandbox: hide it for this run.
        stack.callback(_restore, "AIRFLOW_CONN_UPWORK_API", os.environ.pop("AIRFLOW_CONN_UPWORK_API", None))
        yield [f"Indeed: the local sandbox at {indeed_url} (saved-structure pages), not the real site",
               f"Upwork: the local sandbox at {upwork_url} ({upwork_jobs} synthetic jobs), not the real site"]


def _restore(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def run(args: argparse.Namespace) -> int:
    # Task logs stay in Airflow's log folder; the terminal shows warnings and the summary.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG" if args.verbose else "WARNING")
    airflow_env.apply()
    airflow_env.ensure_metadata_db()
    from airflow.dag_processing.dagbag import DagBag

    from jobreqs import summary

    airflow_env.guard_secret_logging()  # -v: DEBUG logs, never a secret in them

    day = args.date or dt.datetime.now(dt.timezone.utc).date()
    conf = {"extraction_backend": args.backend} if args.backend else {}
    live = contextlib.nullcontext(["sources: the real sites, through the configured connections"])
    with live if args.live else sandboxes(day) as notes:
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        dag = bag.get_dag("jobreqs_daily")
        started = time.monotonic()
        dag_run = dag.test(logical_date=dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc),
                           run_conf=conf or None)
        elapsed = time.monotonic() - started
    print(summary.render(dag_run, day, elapsed, notes))
    return 0 if str(dag_run.state) == "success" else 1
