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
import sys
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


class TaskLines:
    """While ``dag.test()`` runs: one line per task as it finishes, with its state and elapsed
    time. ``dag.test()`` runs each task through ``airflow.sdk.definitions.dag._run_task``; this
    wraps it for the duration (a module attribute: when a future Airflow renames it, the lines
    are simply missing and the summary still lists every task's state)."""

    def __init__(self, out=sys.stdout) -> None:
        self.out = out
        self._module = None
        self._original = None

    def __enter__(self):
        from airflow.sdk.definitions import dag as dag_module

        original = getattr(dag_module, "_run_task", None)
        if original is None:
            return self
        self._module, self._original = dag_module, original

        def timed(*, ti, task, **kwargs):
            began = time.monotonic()
            try:
                return original(ti=ti, task=task, **kwargs)
            finally:
                state = getattr(ti.state, "value", ti.state)
                print(f"  {ti.task_id:<22} {state or '?':<8} {time.monotonic() - began:6.1f} s", file=self.out, flush=True)

        dag_module._run_task = timed
        return self

    def __exit__(self, *exc) -> None:
        if self._module is not None:
            self._module._run_task = self._original


def quiet(verbose: bool) -> None:
    """The terminal gets the summary and one line per task; the rest only with ``-v`` (every
    task's own log stays in Airflow's log folder). ``dag.test()`` logs a "No tasks to run" warning
    each second it waits on a running task, and libraries warn about deprecations of theirs the
    user can do nothing about (scikit-learn, skops): neither means anything to the user."""
    import logging
    import warnings

    if verbose:
        return
    logging.getLogger("airflow").setLevel(logging.WARNING)  # "Reading the config from ..."
    for name in ("airflow.sdk.definitions.dag", "airflow.models.dagrun", "airflow.task"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    # Airflow's own ORM use (dag.test() reading the DAG's versions): nothing the user can act on
    warnings.filterwarnings("ignore", message="Multiple rows returned with uselist=False")


def test_run(dag, day: dt.date, conf: dict | None = None, out=sys.stdout):
    """``dag.test()`` for ``day`` with a line per finished task; the run's start recorded as the
    moment it started (``dag.test()`` records the logical date, midnight, which made the UI show
    runs of 21 hours)."""
    from airflow import settings
    from airflow.models.dagrun import DagRun

    started_at = dt.datetime.now(dt.timezone.utc)
    with TaskLines(out):
        dag_run = dag.test(logical_date=dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc),
                           run_conf=conf or None)
    session = settings.Session()
    try:
        session.query(DagRun).filter(DagRun.id == dag_run.id).update({"start_date": started_at})
        session.commit()
    finally:
        session.close()
    dag_run.start_date = started_at
    return dag_run


def check_backend(backend: str | None) -> None:
    """The openai backend's connection, key and server, checked in seconds before any work."""
    if backend != "openai":
        return
    from transforms.extract.openai_backend import NotUsable, preflight

    try:
        base_url = preflight()
    except NotUsable as exc:
        raise SystemExit(f"--backend openai: {exc}") from None
    print(f"  extraction: OpenAI at {base_url} (key accepted)", flush=True)


def run(args: argparse.Namespace) -> int:
    from jobreqs import runlock

    # Task logs stay in Airflow's log folder; the terminal shows the task lines and the summary.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG" if args.verbose else "WARNING")
    airflow_env.apply()
    quiet(args.verbose)
    with runlock.exclusive("run"):
        airflow_env.ensure_metadata_db()
        check_backend(args.backend)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from airflow.dag_processing.dagbag import DagBag

    from jobreqs import summary

    airflow_env.guard_secret_logging()  # -v: DEBUG logs, never a secret in them
    quiet(args.verbose)  # again: importing Airflow configured its loggers

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
        print(f"jobreqs_daily for {day}:", flush=True)
        started = time.monotonic()
        dag_run = test_run(dag, day, conf)
        elapsed = time.monotonic() - started
    print(summary.render(dag_run, day, elapsed, notes))
    return 0 if str(dag_run.state) == "success" else 1
