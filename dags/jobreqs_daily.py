"""
### jobreqs_daily

Every day: collect the day's job postings (Indeed, Upwork; Hacker News's "Who is hiring?"
threads and public Greenhouse/Lever/Ashby job boards when switched on in `sources`), keep the paragraphs that talk about
technology, extract the technologies named there, map them to canonical names, and publish the
result to the warehouse (`jobreqs_warehouse`) and the lake.

**Params** (change them in the trigger form): search `keywords` and `locations` for Indeed,
which `sources` to collect, and the `extraction_backend` (`local`, free and offline, or `openai`).

**Backfills** (`airflow backfill create --dag-id jobreqs_daily --from-date ... --to-date ...`)
re-process the raw snapshots the lake already holds for each date: real sites cannot go back in
time, so for a past date they are skipped and a date without snapshots ends with a clear message.
A local sandbox started for a past date serves it, so that date is collected (`jobreqs
sandbox-month` builds a month that way). Hacker News's threads stay online: a backfill collects
their past dates again.

**A date with no data** (no raw snapshot in the lake) is visibly different: `normalise` and every
step after it end *skipped* (pink), with the reason in `normalise`'s log and in
`jobreqs.pipeline_runs`; `jobreqs dates --from D1 --to D2` lists the dates with and without data.

**Sources.** With no real source configured (no `JOBREQS_INDEED_BASE_URL` / `indeed_proxy`, no
`JOBREQS_UPWORK_BASE_URL` / `upwork_api`), `jobreqs ui` and `jobreqs run` start local sandboxes
for Indeed and Upwork and point the tasks at them: a run triggered from the UI then collects
today's sandbox postings, and `scrape_indeed` / `upwork_fetch` say so in their logs. Configured
sources are the real ones.

**Upwork** serves nothing past offset 5,000: `jobreqs_upwork_sweep` collects the newest jobs
often, and `upwork_fetch` records in `pipeline_runs` how much of the day was read (`coverage`).

**Data-quality checks** (`dq_*`, after load, the common-sql provider's check operators) record
their results in `jobreqs.quality_checks`: a `fail` check that misses fails the run before
publish, a `warn` check only records its miss. Each collection records the date's coverage
(reported, collected, blocked, quarantined, cap hit) in `jobreqs.source_coverage`.

Each task records its statistics in `jobreqs.pipeline_runs` (a failed attempt records its error
class and message, without secrets); every step is idempotent for its date.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, Param, dag, get_current_context, task

from jobreqs.quality import check_tasks
from transforms.extract.batch_operator import OpenAIExtractBatchOperator

DEFAULT_KEYWORDS = ["data scientist", "data analyst", "data engineer"]

def _record_failure(context) -> None:
    from jobreqs.pipeline import record_failure

    record_failure(context, will_retry=False)


def _record_retry(context) -> None:
    from jobreqs.pipeline import record_failure

    record_failure(context, will_retry=True)


default_args = {
    "owner": "jobreqs",
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    # Every failed attempt says where and why in jobreqs.pipeline_runs (summary, trends page).
    "on_failure_callback": _record_failure,
    "on_retry_callback": _record_retry,
}


def _ctx():
    # Imported inside tasks: parsing this file imports nothing but Airflow's SDK.
    from jobreqs.pipeline import RunContext

    return RunContext.from_airflow(get_current_context())


@dag(
    dag_id="jobreqs_daily",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=2,
    default_args=default_args,
    tags=["jobreqs", "etl"],
    doc_md=__doc__,
    params={
        "keywords": Param(DEFAULT_KEYWORDS, type="array", items={"type": "string"},
                          description="Indeed search keywords"),
        "locations": Param(["remote"], type="array", items={"type": "string"},
                           description="Indeed search locations"),
        "sources": Param(["indeed", "upwork"], type="array",
                         items={"type": "string", "enum": ["indeed", "upwork", "hn", "greenhouse", "lever", "ashby"]},
                         description="Sources to collect and process (hn: Hacker News \"Who is hiring?\"; "
                                     "greenhouse, lever, ashby: the public job boards in ats_boards)"),
        "ats_boards": Param(None, type=["null", "object"],
                            description="job boards to read per system: {\"greenhouse\": [\"token\", ...], \"lever\": "
                                        "[...], \"ashby\": [...]}, an entry a token or {\"board\", \"company\"}; "
                                        "empty: the Airflow Variable jobreqs_ats_boards (docs/sources.md has a "
                                        "starter list)"),
        "ats_min_interval": Param(1.0, type="number", minimum=0,
                                  description="seconds between two job-board requests"),
        "upwork_enrich_limit": Param(10_000, type="integer", minimum=0,
                                     description="most Upwork jobs to enrich per run (the rest wait)"),
        "extraction_backend": Param("local", type="string", enum=["local", "openai"],
                                    description="local: free offline matcher; openai: the OpenAI API"),
        "openai_mode": Param("live", type="string", enum=["live", "batch"],
                             description="openai backend: live async calls, or the Batch API (half the "
                                         "price; the wait is deferred and frees the worker)"),
        "openai_model": Param(None, type=["null", "string"],
                              description="openai backend: model (default: the prompt's model)"),
        "openai_max_usd_per_run": Param(5.0, type="number", minimum=0,
                                        description="openai backend: most dollars a run may spend (the project's "
                                                    "price table); the run then stops sending and completes"),
        "openai_max_tokens_per_run": Param(10_000_000, type="integer", minimum=0,
                                           description="openai backend: most tokens (in + out) a run may use"),
    },
)
def jobreqs_daily():
    @task
    def migrate_warehouse() -> dict:
        """Applies pending warehouse migrations (idempotent)."""
        from jobreqs.pipeline import run_migrate

        return run_migrate()

    @task(execution_timeout=dt.timedelta(hours=6))
    def scrape_indeed() -> dict:
        """Crawls Indeed's search results of the last day for every keyword x location and writes
        each posting once, with every keyword that found it, to raw/indeed/dt=D/."""
        from jobreqs.pipeline import run_scrape_indeed

        return run_scrape_indeed(_ctx())

    @task
    def collect_hn() -> dict:
        """Collects the date's top-level comments of Hacker News's "Who is hiring?" threads
        (official API) to raw/hn/dt=D/; a past date too (the threads stay online)."""
        from jobreqs.pipeline import run_collect_hn

        return run_collect_hn(_ctx())

    @task(task_id="collect_greenhouse")
    def collect_greenhouse() -> dict:
        """Collects every open job of the configured Greenhouse boards (Job Board API)."""
        from jobreqs.pipeline import run_collect_ats

        return run_collect_ats(_ctx(), "greenhouse")

    @task(task_id="collect_lever")
    def collect_lever() -> dict:
        """Collects every open job of the configured Lever boards (Postings API)."""
        from jobreqs.pipeline import run_collect_ats

        return run_collect_ats(_ctx(), "lever")

    @task(task_id="collect_ashby")
    def collect_ashby() -> dict:
        """Collects every open job of the configured Ashby boards (Posting API)."""
        from jobreqs.pipeline import run_collect_ats

        return run_collect_ats(_ctx(), "ashby")

    @task
    def upwork_token() -> dict:
        """Makes sure a valid Upwork bearer token is cached (reused until close to expiry)."""
        from jobreqs.pipeline import run_upwork_token

        return run_upwork_token(_ctx())

    @task
    def upwork_fetch() -> dict:
        """Fetches every Upwork job published on the date into the lake and the warehouse."""
        from jobreqs.pipeline import run_upwork_fetch

        return run_upwork_fetch(_ctx())

    @task
    def upwork_enrich() -> dict:
        """Adds client statistics to jobs that lack them; failures stay pending, with a try count."""
        from jobreqs.pipeline import run_upwork_enrich

        return run_upwork_enrich(_ctx())

    # none_failed: runs when a source was skipped (switched off, or a past date in a backfill).
    @task(trigger_rule="none_failed")
    def normalise() -> dict:
        """Validates the day's raw snapshots and writes one common-schema posting per record;
        records that fail validation are quarantined with their reason."""
        from jobreqs.pipeline import run_normalise

        return run_normalise(_ctx())

    @task
    def classify(postings: dict) -> dict:
        """Keeps the paragraphs that talk about technology (the whole text when unsure), so that
        extraction reads and pays for less; records kept ratio and token estimates."""
        from jobreqs.pipeline import run_classify

        return run_classify(_ctx())

    @task
    def sync_taxonomy() -> dict:
        """Makes the warehouse's technologies and aliases equal to the taxonomy data."""
        from jobreqs.pipeline import run_sync_taxonomy

        return run_sync_taxonomy(_ctx())

    # Only in openai batch mode: submits (or resumes) the day's batches, then waits deferred.
    extract_openai_batch = OpenAIExtractBatchOperator(
        task_id="extract_openai_batch",
        run_if="{{ params.extraction_backend == 'openai' and params.openai_mode == 'batch' }}",
        # a run triggered without a logical date (the UI's default) has none in its template context
        input_partition="staging/classified/dt={{ (logical_date if logical_date is defined and logical_date "
                        "else dag_run.run_after).strftime('%Y-%m-%d') }}",
        batch_key="{{ dag.dag_id }}/{{ (logical_date if logical_date is defined and logical_date "
                  "else dag_run.run_after).strftime('%Y-%m-%d') }}",
        model="{{ params.openai_model or '' }}",
    )

    # the batch step is skipped unless openai batch mode; a skipped classify (no data) skips this too
    @task(trigger_rule="none_failed_min_one_success")
    def extract(classified: dict) -> dict:
        """Extracts raw technology terms from each posting's kept text (local or openai backend);
        replies that cannot be trusted are recorded and dropped."""
        from jobreqs.pipeline import run_extract

        return run_extract(_ctx(), classified["path"])

    @task
    def clean_up(extracted: dict) -> dict:
        """Maps raw terms to canonical technologies; unknown terms are kept for review."""
        from jobreqs.pipeline import run_clean_up

        return run_clean_up(_ctx(), extracted["path"])

    @task
    def load(postings: dict) -> dict:
        """Upserts the day's postings, keywords and technologies into the warehouse in bulk."""
        from jobreqs.pipeline import run_load

        return run_load(_ctx(), postings["path"])

    # Runs when a source was skipped; skipped itself when there was nothing to load (a date with no
    # data). Its event runs jobreqs_rederive, which derives again the dates of other versions (if any).
    @task(trigger_rule="none_failed_min_one_success",
          outlets=[Asset("jobreqs://warehouse/posting_technologies")])
    def publish() -> dict:
        """Writes the day's curated Parquet files to the lake."""
        from jobreqs.pipeline import run_publish

        return run_publish(_ctx())

    migrated = migrate_warehouse()
    fetched = upwork_fetch()
    migrated >> upwork_token() >> fetched
    enriched = upwork_enrich()
    fetched >> enriched
    postings = normalise()
    scraped = scrape_indeed()
    migrated >> scraped  # it records its statistics: the warehouse must be migrated first
    open_sources = [collect_hn(), collect_greenhouse(), collect_lever(), collect_ashby()]
    migrated >> open_sources
    [migrated, fetched, scraped, *open_sources] >> postings
    classified = classify(postings)
    migrated >> sync_taxonomy() >> extract_openai_batch
    classified >> extract_openai_batch
    extracted = extract(classified)
    extract_openai_batch >> extracted
    loaded = load(clean_up(extracted))
    # Data-quality checks after load: a 'fail' check that misses keeps the date from publish;
    # a 'warn' check records its miss and succeeds (results in jobreqs.quality_checks).
    checks = check_tasks()
    loaded >> checks
    [*checks, enriched] >> publish()


jobreqs_daily()
