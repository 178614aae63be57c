"""The glue between Airflow's task context and the stages.

Each ``run_*`` function is what one task of ``jobreqs_daily`` does: it resolves the lake, the
warehouse and the date, calls the stage (a plain function in ``transforms/`` or ``scrapers/``),
records the stage's statistics in ``pipeline_runs`` and returns them (small dicts, for XCom).
Stages hand data to each other as lake partitions: a task returns the path it wrote and the next
task reads it, so a retried task starts again from the previous stage's output.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jobreqs import lake, warehouse
from jobreqs.runs import record_stage

log = logging.getLogger(__name__)

DAG_ID = "jobreqs_daily"
#: The sources a run collects when its params name none (the DAG's ``sources`` default).
DEFAULT_SOURCES = ("indeed", "upwork")
#: Sources whose past dates stay online (HN's threads), so a backfill collects them again.
PAST_COLLECTABLE = frozenset({"hn"})


@dataclass(frozen=True)
class RunContext:
    """What a stage needs to know about the run it is part of."""

    run_id: str
    day: dt.date
    params: dict[str, Any] = field(default_factory=dict)
    dag_id: str = DAG_ID

    @classmethod
    def from_airflow(cls, context) -> RunContext:
        """Build from a task's context. The processed date is the run's logical date; a manual run
        without one (Airflow 3 allows that) processes the day it runs on."""
        moment = context.get("logical_date") or context["dag_run"].run_after
        return cls(run_id=context["run_id"], day=moment.astimezone(dt.timezone.utc).date(),
                   params=dict(context.get("params") or {}), dag_id=context["dag"].dag_id)

    def record(self, stage: str, stats: dict, status: str = "success", message: str | None = None) -> dict:
        with warehouse.connect() as conn:
            record_stage(conn, run_id=self.run_id, dag_id=self.dag_id, day=self.day, stage=stage,
                         stats=stats, status=status, message=message)
        return stats

    def record_coverage(self, source: str, row: dict) -> None:
        """This run's coverage of ``source`` on its date (``jobreqs.coverage``)."""
        from jobreqs import coverage

        with warehouse.connect() as conn:
            coverage.record(conn, source, self.day, self.run_id, row)


def record_failure(context, will_retry: bool) -> None:
    """A task's ``on_failure_callback`` / ``on_retry_callback``: record the failed attempt in
    ``pipeline_runs`` (stage, error class, message without secrets, try number), so the summary
    and the trends page say where and why. A later successful attempt replaces the row. Never
    raises: a warehouse that cannot be reached is only logged."""
    from jobreqs.redact import redact

    try:
        ctx = RunContext.from_airflow(context)
        ti = context.get("ti") or context.get("task_instance")
        exc = context.get("exception")
        error_class = type(exc).__name__ if exc is not None else "unknown"
        message = redact(f"{error_class}: {exc}" if exc is not None else "the task failed")[:1000]
        if will_retry:
            message = f"attempt {getattr(ti, 'try_number', '?')} failed, will retry: {message}"
        ctx.record(ti.task_id, {"error_class": error_class, "try_number": getattr(ti, "try_number", None),
                                "will_retry": will_retry}, status="failed", message=message)
    except Exception as exc:  # noqa: BLE001 - a callback must not hide the task's own error
        log.warning("could not record the failure in pipeline_runs: %s: %s", type(exc).__name__, redact(str(exc)))


def map_partition(source_dir: str, target_zone: str, ctx: RunContext,
                  transform: Callable[[Iterable[dict]], Iterator[dict]]) -> tuple[str, int]:
    """Stream the records of a staging partition through ``transform`` into the next one."""
    root = lake.lake_root()
    target = lake.partition(root, "staging", target_zone, ctx.day)
    count = lake.replace_partition(target, transform(lake.read_partition(lake.lake_root(source_dir))))
    return str(target), count


def collects_from_sandbox(source: str, day: dt.date) -> bool:
    """Whether ``source`` collects from a local sandbox that serves ``day`` (``jobreqs.sandboxes``)."""
    from jobreqs import sandboxes

    return sandboxes.serves(source, day)


def sandbox_url(source: str) -> str | None:
    """The local sandbox ``source`` collects from, if it collects from one."""
    from jobreqs import sandboxes

    url = sandboxes.source_url(source)
    return url if sandboxes.is_loopback(url) else None


def skip_collection(ctx: RunContext, source: str, stage: str) -> None:
    """Skip a collection task (recorded, with its reason) when its source is switched off in the
    run's params, or when the date is too old to collect: the real sites cannot go back in time,
    so a backfill re-processes the raw snapshots that the lake already holds. A sandbox started
    for that date (``jobreqs sandbox-month``) is collected from, past or not."""
    from airflow.sdk.exceptions import AirflowSkipException

    sources = ctx.params.get("sources") or DEFAULT_SOURCES
    today = dt.datetime.now(dt.timezone.utc).date()
    reason = None
    if source not in sources:
        reason = f"{source} is switched off in this run's params"
    elif collects_from_sandbox(source, ctx.day):
        pass  # a sandbox serving this date (today's, or one started for a past date)
    elif sandbox_url(source) and source not in PAST_COLLECTABLE:
        reason = (f"the local sandbox {source} collects from serves other dates, not {ctx.day}; the run "
                  "re-processes the raw snapshot the lake holds for that date")
    elif ctx.day < today - dt.timedelta(days=1) and source not in PAST_COLLECTABLE:
        reason = (f"{ctx.day} is in the past: {source} cannot be collected again; the run "
                  "re-processes the raw snapshot the lake holds for that date")
    if reason:
        ctx.record(stage, {}, status="skipped", message=reason)
        raise AirflowSkipException(reason)


def log_source(source: str, url: str | None) -> None:
    """Say in the task's log where the source is collected from: a sandbox or the real site."""
    from jobreqs import sandboxes

    if sandboxes.is_loopback(url):
        log.info("%s: collecting from the local sandbox at %s, not the real site (no real %s source is "
                    "configured: `jobreqs run` and `jobreqs ui` start the sandboxes)", source, url, source)
    else:
        log.info("%s: collecting from %s", source, url or "the configured connection")


def run_scrape_indeed(ctx: RunContext) -> dict:
    skip_collection(ctx, "indeed", "scrape_indeed")
    from scrapers.indeed.run import default_base_url

    log_source("indeed", default_base_url())
    from jobreqs import coverage
    from scrapers.indeed.run import CrawlBlocked, scrape_indeed

    try:
        manifest = scrape_indeed(lake.lake_root(), ctx.day,
                                 keywords=list(ctx.params.get("keywords") or []),
                                 locations=list(ctx.params.get("locations") or ["remote"]))
    except CrawlBlocked as exc:
        # Blocked throughout: the date's coverage says so before the task fails.
        ctx.record_coverage("indeed", coverage.indeed_row(exc.manifest, failed=True))
        raise
    ctx.record_coverage("indeed", coverage.indeed_row(manifest))
    message = None
    if manifest.get("search_pages_degraded"):
        message = (f"degraded: {manifest['search_pages_degraded']} search pages stayed broken and were read from "
                   "their DOM cards (later cards may be missing; see the quarantine)")
    return ctx.record("scrape_indeed", manifest, message=message)


def run_collect_hn(ctx: RunContext) -> dict:
    skip_collection(ctx, "hn", "collect_hn")
    from jobreqs import coverage
    from scrapers.hn.collect import collect_hn

    try:
        stats = collect_hn(lake.lake_root(), ctx.day)
    except Exception as exc:
        # the date's coverage says it failed (with the counts so far) before the task fails
        ctx.record_coverage("hn", coverage.hn_row(getattr(exc, "stats", {}), error=exc))
        raise
    ctx.record_coverage("hn", coverage.hn_row(stats))
    message = None
    if stats["coverage"] < 1.0:
        message = (f"covered {stats['coverage']:.0%} of the date's {stats['listed']} comments: "
                   f"{stats['quarantined']} quarantined (see quarantine/hn/)")
    return ctx.record("collect_hn", stats, message=message)


def ats_boards(params: dict) -> dict:
    """The job boards to read: the run's ``ats_boards`` param, else the Airflow Variable
    ``jobreqs_ats_boards`` (JSON), else none. Read when the task runs, never at parse time."""
    boards = params.get("ats_boards")
    if boards:
        return boards
    from airflow.sdk import Variable

    from scrapers.ats.boards import BOARDS_VARIABLE

    return Variable.get(BOARDS_VARIABLE, default=None, deserialize_json=True) or {}


def run_collect_ats(ctx: RunContext, ats: str) -> dict:
    """A job board system's task: every open job of the configured boards, once for the date."""
    stage = f"collect_{ats}"
    skip_collection(ctx, ats, stage)
    from airflow.sdk.exceptions import AirflowSkipException

    from scrapers.ats.boards import boards_for
    from scrapers.ats.collect import MIN_INTERVAL, collect_ats

    boards = boards_for(ats, ats_boards(ctx.params))
    if not boards:
        reason = f"no {ats} boards configured (the ats_boards param or the Airflow Variable jobreqs_ats_boards)"
        ctx.record(stage, {}, status="skipped", message=reason)
        raise AirflowSkipException(reason)
    from jobreqs import coverage

    interval = float(ctx.params.get("ats_min_interval", MIN_INTERVAL) or 0)
    try:
        stats = collect_ats(lake.lake_root(), ctx.day, ats, boards, min_interval=interval)
    except Exception as exc:
        # every board failed (its counts on the exception), or the collector broke: a failed date
        ctx.record_coverage(ats, coverage.ats_row(getattr(exc, "stats", {"boards": len(boards)}), error=exc))
        raise
    ctx.record_coverage(ats, coverage.ats_row(stats))
    message = None
    if stats["boards_collected"] < stats["boards"]:
        message = (f"read {stats['boards_collected']} of {stats['boards']} boards ({stats['boards_missing']} not found, "
                   f"{stats['boards_failed']} failed; see quarantine/{ats}/)")
    return ctx.record(stage, stats, message=message)


def run_upwork_token(ctx: RunContext) -> dict:
    skip_collection(ctx, "upwork", "upwork_token")
    from scrapers.upwork.token import upwork_token

    return ctx.record("upwork_token", upwork_token())


def run_upwork_fetch(ctx: RunContext) -> dict:
    skip_collection(ctx, "upwork", "upwork_fetch")
    from jobreqs import sandboxes

    log_source("upwork", sandboxes.source_url("upwork"))
    from scrapers.upwork.fetch import upwork_fetch

    stats = upwork_fetch(lake.lake_root(), ctx.day)
    if not stats.get("skipped"):
        from jobreqs import coverage

        ctx.record_coverage("upwork", coverage.upwork_row(stats))
    messages = [stats["message"]] if stats.get("message") else []
    if not stats.get("skipped") and stats.get("coverage", 1.0) < 1.0:
        gaps = ", ".join(f"{a[11:16]}-{b[11:16]}" for a, b in stats.get("gaps", []))
        messages.insert(0, f"covered {stats['coverage']:.0%} of the day's publish times (not read: {gaps} UTC); "
                           "Upwork serves nothing past offset 5,000: unpause jobreqs_upwork_sweep or sweep more often")
    return ctx.record("upwork_fetch", stats, message="; ".join(messages) or None)


def run_upwork_sweep(ctx: RunContext) -> dict:
    """The frequent DAG's task: the newest Upwork jobs into their days' raw partitions."""
    from airflow.sdk.exceptions import AirflowSkipException

    from scrapers.upwork.fetch import upwork_sweep
    from scrapers.upwork.settings import load_settings

    try:
        load_settings()
    except RuntimeError as exc:  # not configured: nothing to sweep, and nothing failed
        ctx.record("upwork_sweep", {}, status="skipped", message=str(exc))
        raise AirflowSkipException(str(exc)) from None
    return ctx.record("upwork_sweep", upwork_sweep(lake.lake_root(), ctx.params.get("max_pages")))


def run_upwork_enrich(ctx: RunContext) -> dict:
    skip_collection(ctx, "upwork", "upwork_enrich")
    from scrapers.upwork.enrich import upwork_enrich

    limit = ctx.params.get("upwork_enrich_limit")
    return ctx.record("upwork_enrich", upwork_enrich(limit=10_000 if limit is None else int(limit), run_key=ctx.run_id))


def run_normalise(ctx: RunContext) -> dict:
    from transforms.normalise import normalise_day

    sources = tuple(ctx.params.get("sources") or DEFAULT_SOURCES)
    stats = normalise_day(lake.lake_root(), ctx.day, sources)
    stats["path"] = str(lake.partition(lake.lake_root(), "staging", "postings", ctx.day))
    if stats.get("quarantined"):
        from jobreqs import coverage

        with warehouse.connect() as conn:
            coverage.record_normalise(conn, ctx.day, stats["quarantined"])
    if stats["message"]:  # no raw snapshot: nothing downstream has anything to do
        from airflow.sdk.exceptions import AirflowSkipException

        ctx.record("normalise", stats, status="skipped", message=stats["message"])
        raise AirflowSkipException(stats["message"])
    return ctx.record("normalise", stats)


def run_classify(ctx: RunContext) -> dict:
    from transforms.classify import classify_day

    stats = classify_day(lake.lake_root(), ctx.day)
    stats["path"] = str(lake.partition(lake.lake_root(), "staging", "classified", ctx.day))
    return ctx.record("classify", stats)


def run_sync_taxonomy(ctx: RunContext) -> dict:
    from transforms.taxonomy_sync import sync_taxonomy

    return ctx.record("sync_taxonomy", sync_taxonomy())


def extraction_limits(params: dict):
    """The openai backend's per-run budget from the run's params (defaults: ``Limits``)."""
    from transforms.extract.openai_backend import Limits

    defaults = Limits()
    tokens, usd = params.get("openai_max_tokens_per_run"), params.get("openai_max_usd_per_run")
    return Limits(max_tokens_per_run=defaults.max_tokens_per_run if tokens is None else int(tokens),
                  max_usd_per_run=defaults.max_usd_per_run if usd is None else float(usd))


def extraction_options(params: dict, run_id: str | None = None) -> dict:
    """The extract stage's backend options from the run's params. The batch mode's waiting is done
    by its own deferrable task before ``extract``: by then every text it could afford is cached,
    so ``extract`` runs the live path, sends nothing again, and draws on the same budget (kept
    in the warehouse under the run's id)."""
    if params.get("extraction_backend", "local") != "openai":
        return {}
    from transforms.extract.openai_backend import Budget, WarehouseSpend

    limits = extraction_limits(params)
    options = {"mode": "live", "concurrency": int(params.get("openai_concurrency") or 8), "limits": limits,
               "budget": Budget.from_limits(limits, WarehouseSpend(run_id) if run_id else None)}
    if params.get("openai_model"):
        options["model"] = params["openai_model"]
    return options


def run_extract(ctx: RunContext, source_dir: str) -> dict:
    from transforms.extract import extract_postings
    from transforms.extract.stage import ExtractionRun

    backend = ctx.params.get("extraction_backend", "local")
    if backend == "openai":
        from transforms.extract.openai_backend import require_usable

        require_usable()  # no connection or a refused key: fail now, without retries
    rejects = lake.Spool()
    extraction = ExtractionRun(backend, quarantine=rejects)
    options = extraction_options(ctx.params, ctx.run_id)
    try:
        path, count = map_partition(source_dir, "extracted", ctx,
                                    lambda records: extract_postings(records, backend, run=extraction, **options))
    finally:
        if options.get("budget") is not None and options["budget"].store is not None:
            options["budget"].store.close()
    lake.replace_quarantine(lake.partition(lake.lake_root(), "quarantine", "extract", ctx.day) / "extract.jsonl.gz",
                            rejects)
    stats = extraction.stats() | {"path": path, "records": count}
    message = None
    if stats.get("stopped"):
        message = (f"{stats['stopped']}; {stats.get('not_sent', 0)} texts not sent keep their previous "
                   f"technologies (spent ${stats['cost_usd']:.4f}, {stats['tokens_in'] + stats['tokens_out']} tokens)")
    return ctx.record("extract", stats, message=message)


def run_clean_up(ctx: RunContext, source_dir: str) -> dict:
    from collections import Counter

    from transforms.clean_up import clean_up_postings

    counts: Counter = Counter()
    path, _ = map_partition(source_dir, "technologies", ctx, lambda records: clean_up_postings(records, counts))
    return ctx.record("clean_up", dict(counts) | {"path": path})


def run_load(ctx: RunContext, source_dir: str) -> dict:
    from transforms.load import load_postings

    with warehouse.connect() as conn:
        stats = load_postings(conn, lake.read_partition(lake.lake_root(source_dir)))
    return ctx.record("load", stats)


def run_publish(ctx: RunContext) -> dict:
    from transforms import marts
    from transforms.publish import publish_day

    with warehouse.connect() as conn:
        stats = publish_day(conn, lake.lake_root(), ctx.day)
    # The marts' refresh reads every table, Upwork client statistics included: it runs last.
    stats |= marts.publish(ctx.day, lake_root=lake.lake_root())
    return ctx.record("publish", stats)


def run_migrate() -> dict:
    return {"applied": warehouse.migrate()}
