"""
### jobreqs_rederive

When the taxonomy (a promoted term, a new alias) or the paragraph classifier changes, the trends
of past dates should follow. This DAG finds the dates whose technology rows came from other
versions than the current ones (`jobreqs.posting_technologies.taxonomy_version` /
`classifier_version`), derives each of them again from the lake's `staging/postings/dt=D`
(classify, extract, clean up, load: nothing is collected again), one mapped task per date, and
then publishes those dates only (the marts are refreshed once; the curated files of the other
dates are not touched).

**Triggers**: every publish of `jobreqs_daily` emits an event of the Asset
`jobreqs://warehouse/posting_technologies`, which runs this DAG after it (a run with nothing to
derive ends at once); or trigger it by hand, with `first`/`last` to bound the dates.

Each date's stages record their statistics in `jobreqs.pipeline_runs` (`dag_id` jobreqs_rederive).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, Param, dag, get_current_context, task

POSTING_TECHNOLOGIES = Asset("jobreqs://warehouse/posting_technologies")


def _record_failure(context, will_retry: bool = False) -> None:
    from jobreqs.pipeline import record_failure

    record_failure(context, will_retry=will_retry)


default_args = {
    "owner": "jobreqs",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "on_failure_callback": _record_failure,
    "on_retry_callback": lambda context: _record_failure(context, will_retry=True),
}


@dag(
    dag_id="jobreqs_rederive",
    schedule=[POSTING_TECHNOLOGIES],
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["jobreqs", "etl"],
    doc_md=__doc__,
    params={
        "first": Param(None, type=["null", "string"], format="date", description="earliest date (default: any)"),
        "last": Param(None, type=["null", "string"], format="date", description="latest date (default: any)"),
        "max_dates": Param(60, type="integer", minimum=1, maximum=366, description="most dates a run derives"),
    },
)
def jobreqs_rederive():
    @task
    def find_dates() -> list[str]:
        """The dates whose technology rows came from other taxonomy or classifier versions."""
        from jobreqs import warehouse
        from jobreqs.rederive import affected_dates, current_versions

        params = get_current_context()["params"]
        first, last = (dt.date.fromisoformat(params[k]) if params.get(k) else None for k in ("first", "last"))
        taxonomy, classifier = current_versions()
        with warehouse.connect() as conn:
            days = affected_dates(conn, taxonomy, classifier, first, last, int(params.get("max_dates") or 60))
        return [d.isoformat() for d in days]

    @task(max_active_tis_per_dag=2, map_index_template="{{ day }}")
    def rederive(day: str) -> dict:
        """Classify, extract, clean up and load one date again from the lake."""
        from jobreqs.rederive import rederive_day

        context = get_current_context()
        return rederive_day(dt.date.fromisoformat(day), f"{context['run_id']}/{day}", dict(context["params"]))

    @task(trigger_rule="none_failed")
    def publish(results: list[dict]) -> dict:
        """Refresh the marts once and rewrite the curated files of the dates derived again only."""
        from jobreqs.rederive import publish_dates

        days = [dt.date.fromisoformat(r["day"]) for r in results or [] if r.get("changed")]
        return publish_dates(days) if days else {"dates": []}

    publish(rederive.expand(day=find_dates()))


jobreqs_rederive()
