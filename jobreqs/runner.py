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

from jobreqs import airflow_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None,
                        help="logical date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--live", action="store_true",
                        help="use the real sites and services configured as Airflow connections "
                             "instead of the local sandboxes")
    parser.add_argument("--backend", choices=["local", "openai"], default=None,
                        help="extraction backend (default: the DAG's param, local)")


def sandboxes(day: dt.date, upwork_jobs: int | None = None):
    """Start the sandboxes for ``day`` (``jobreqs.sandboxes``), point the pipeline at them through
    the environment, and yield lines for the summary (a context manager)."""
    from jobreqs import sandboxes as registry

    return registry.serving(day, options={"upwork": {"jobs": upwork_jobs}} if upwork_jobs else None)


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
    if not args.live:  # every sandbox served is collected from (the DAG's default names fewer sources)
        from jobreqs import sandboxes as registry

        conf["sources"] = registry.registered()
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
