"""
### jobreqs_upwork_sweep

Upwork's job search serves nothing past offset 5,000 (50 jobs a page), and a busy day has about
6,000 jobs: one pass a day cannot reach the start of the day. This small DAG sweeps the newest
jobs often (hourly by default): each run pages from the top until it meets jobs collected before,
and writes the new ones, deduplicated by id, to the raw partition of their publish date
(`raw/upwork/dt=D/sweep-*.jsonl.gz`) and to `jobreqs.upwork_jobs`. The daily DAG
(`jobreqs_daily`) then processes what the day collected, and records in `jobreqs.pipeline_runs`
(stage `upwork_fetch`: `coverage`, `gaps`, `sweeps`) how much of the day was read.

**Schedule**: the environment variable `JOBREQS_UPWORK_SWEEP_SCHEDULE` (a cron expression or a
preset such as `@hourly`, the default; `*/30 * * * *` for a busier market), read when the file is
parsed: a schedule is fixed at parse time, where Airflow advises against reading Variables.

**Params**: `max_pages`, the most pages a sweep reads (100 x 50 = the offset cap).

The DAG starts paused: unpause it once Upwork is configured (connection `upwork_api`); without a
configuration its runs are skipped with that message.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Param, dag, get_current_context, task

def _record_failure(context, will_retry: bool = False) -> None:
    from jobreqs.pipeline import record_failure

    record_failure(context, will_retry=will_retry)


default_args = {
    "owner": "jobreqs",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    # A failed sweep says where and why in jobreqs.pipeline_runs, as the daily DAG's tasks do.
    "on_failure_callback": _record_failure,
    "on_retry_callback": lambda context: _record_failure(context, will_retry=True),
}


def _ctx():
    from jobreqs.pipeline import RunContext

    return RunContext.from_airflow(get_current_context())


@dag(
    dag_id="jobreqs_upwork_sweep",
    schedule=os.environ.get("JOBREQS_UPWORK_SWEEP_SCHEDULE", "@hourly"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    default_args=default_args,
    tags=["jobreqs", "upwork"],
    doc_md=__doc__,
    params={"max_pages": Param(100, type="integer", minimum=1, maximum=100,
                               description="most search pages a sweep reads (50 jobs each)")},
)
def jobreqs_upwork_sweep():
    @task
    def migrate_warehouse() -> dict:
        """Applies pending warehouse migrations (idempotent): the sweep's tables exist."""
        from jobreqs.pipeline import run_migrate

        return run_migrate()

    @task(execution_timeout=dt.timedelta(minutes=50))
    def upwork_sweep() -> dict:
        """The newest jobs since the last sweep, into their days' raw partitions, once each."""
        from jobreqs.pipeline import run_upwork_sweep

        return run_upwork_sweep(_ctx())

    migrate_warehouse() >> upwork_sweep()


jobreqs_upwork_sweep()
