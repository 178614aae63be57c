"""Stages ``upwork_fetch`` and ``upwork_sweep``: every job of a day, once, despite the offset cap.

Upwork's search serves nothing past an offset of 5,000 (50 a page), and a busy day has ~6,000
jobs, so one pass a day cannot reach the oldest jobs of the day. Two stages share the work:

``upwork_sweep`` (the small DAG ``jobreqs_upwork_sweep``, hourly by default)
    pages the newest-first search from the top until it meets jobs already collected (or the
    cap), and writes the new ones, deduplicated by id, to the raw partition of their publish
    date (``raw/upwork/dt=D/sweep-<time>.jsonl.gz``, one file per sweep) and to
    ``jobreqs.upwork_jobs``. It records the stretch of publish times it read without a gap in
    ``jobreqs.upwork_sweeps``.
``upwork_fetch`` (the daily DAG, for date D: the window [D 00:00 UTC, D+1 00:00 UTC))
    1. the first pass pages from the top, skips jobs newer than the window, and stops on the page
       that reaches a job older than it, or at the cap. New jobs published meanwhile push
       everything down, so a page may repeat jobs of the page before: they are recognised by id
       and skipped (pages overlap by a few results, so that a job that disappears cannot hide
       another one);
    2. catch-up passes start again from the top and stop at the first job already seen, taking
       the jobs that arrived during the previous pass, until a pass finds nothing new. When jobs
       still arrive after ``MAX_CATCH_UP_PASSES`` passes, the fetch is not complete
       (``complete`` false: a job published during the last pass may be missing) and never says
       otherwise: what was fetched lands, then, if the window has closed, the stage fails so
       that Airflow retries it; while the window is still open, the result says so in its
       ``message``;
    3. what the sweeps collected for D joins it: ``raw/upwork/dt=D/part-0000.jsonl.gz`` becomes
       the union of this run's jobs and what the partition held (sweeps, an earlier run),
       deduplicated by id and kept to the window, so a re-run never loses a swept job;
    4. the result says how much of D's 24 hours the passes and sweeps read without a gap
       (``coverage``, with the ``gaps``): the daily DAG records it in ``pipeline_runs``.

Results go, as they arrive, to local spool files (valid records, quarantined ones, client rows) in
the stage's working folder (:func:`jobreqs.temporaries.work_dir`, swept of a killed run's folder),
so memory stays flat; the raw file lands atomically, the rejects in
``quarantine/upwork/dt=D/fetch.jsonl.gz`` (a sweep's in ``sweep-<time>.jsonl.gz``) with their
reason, and the jobs are upserted in bulk: COPY into a temporary table, then one INSERT ... ON
CONFLICT (id). In official mode each node carries its client's statistics: they land in
``jobreqs.upwork_clients`` at once (``enrich_path = 'search'``), so enrichment rides on the search.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobreqs import lake, temporaries
from jobreqs.schemas import UpworkRawJob
from jobreqs.warehouse import connect
from scrapers.upwork.adapter import (CLIENT_COLUMNS, ShapeError, official_client_to_row, official_node_to_raw,
                                     validate_raw, visitor_result_to_raw)
from scrapers.upwork.api import UpworkApi
from scrapers.upwork.settings import UpworkSettings, load_settings
from scrapers.upwork.token import WarehouseTokenSource
from transforms.text import storable

log = logging.getLogger(__name__)

QUARANTINE_FILE = "fetch.jsonl.gz"
RAW_FILE = "part-0000.jsonl.gz"
SWEEP_PREFIX = "sweep-"
MAX_PAGES = 20_000
MAX_CATCH_UP_PASSES = 8
# Pages overlap by this many results (more requests, but a job removed between two page reads
# cannot make the next page skip one).
PAGE_OVERLAP = 2
#: A sweep compares what it reads with the jobs collected in this many last days.
KNOWN_DAYS = 3
DAY_SECONDS = 86_400

JOB_COLUMNS = ("id", "ciphertext", "url", "title", "description", "skills", "published_at", "job_type",
               "hourly_min", "hourly_max", "fixed_budget", "currency", "experience_level", "duration",
               "category", "client_country", "first_seen_date", "fetched_at")


def window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[D 00:00 UTC, D+1 00:00 UTC)."""
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


@dataclass
class FetchStats:
    day: str
    fetched: int = 0
    quarantined: int = 0
    pages: int = 0
    passes: int = 0
    duplicates_skipped: int = 0
    newer_than_window: int = 0
    chars_removed: int = 0
    covered: bool = False
    complete: bool = True
    last_pass_new: int = 0
    capped: bool = False
    inserted: int = 0
    updated: int = 0
    swept: int = 0
    clients: int = 0
    extra: dict = field(default_factory=dict)
    # the stretch of publish times the first pass read without a gap
    oldest_read: dt.datetime | None = None
    newest_read: dt.datetime | None = None

    def saw(self, published: dt.datetime) -> None:
        self.oldest_read = published if self.oldest_read is None else min(self.oldest_read, published)
        self.newest_read = published if self.newest_read is None else max(self.newest_read, published)


def _published(value: Any) -> dt.datetime | None:
    """A publish time, leniently (None if missing or unreadable: the record is checked later)."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _key(item: Any) -> str:
    """Identity of a search result: its job id, else a hash of the whole result."""
    if isinstance(item, dict):
        job_id = item.get("id") or ((item.get("jobTile") or {}).get("job") or {}).get("id")
        if job_id:
            return str(job_id)
    return "sha1:" + hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


class _Spool:
    """Where one run's results go while paging: valid records, rejects and (official mode)
    client rows, one JSON per line."""

    def __init__(self, folder: Path):
        self.raw_path, self.bad_path = folder / "raw.jsonl", folder / "quarantine.jsonl"
        self.clients_path = folder / "clients.jsonl"
        self.raw, self.bad = self.raw_path.open("w", encoding="utf-8"), self.bad_path.open("w", encoding="utf-8")
        self.clients = self.clients_path.open("w", encoding="utf-8")

    def close(self) -> None:
        self.raw.close()
        self.bad.close()
        self.clients.close()

    @staticmethod
    def read(path: Path) -> Iterator[dict]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


class _Reader:
    """Turns a search result into a record (or a reject), the same way in every stage."""

    def __init__(self, settings: UpworkSettings):
        self.official = settings.mode == "oauth"
        self.to_raw = official_node_to_raw if self.official else visitor_result_to_raw

    def published(self, item: Any, fetched_at: dt.datetime) -> tuple[dict | None, dt.datetime | None]:
        try:
            raw = self.to_raw(item, fetched_at)
        except ShapeError:
            return None, None
        return raw, _published(raw["published_at"])

    def keep(self, item: Any, raw: dict | None, fetched_at: dt.datetime, spool: _Spool, stats: FetchStats,
             where: dict) -> None:
        """Validate ``item`` into the spool's raw file (and its client row), or reject it."""
        try:
            if raw is None:
                raw = self.to_raw(item, fetched_at)
            raw, removed = storable(raw)  # a NUL would stop the COPY into the warehouse
            stats.chars_removed += removed
            record = validate_raw(raw).model_dump(mode="json")
        except ShapeError as exc:
            stats.quarantined += 1
            spool.bad.write(lake.dumps({"reason": str(exc), "stage": where.pop("stage"), **where,
                                        "quarantined_at": fetched_at, "raw": item}) + "\n")
            return
        stats.fetched += 1
        spool.raw.write(lake.dumps(record) + "\n")
        if self.official:
            try:
                client = official_client_to_row(item)
            except ShapeError as exc:  # the job is kept; enrichment will try its client
                log.warning("upwork job %s: client block unusable (%s)", record["id"], exc)
            else:
                stats.clients += 1
                spool.clients.write(lake.dumps({"job_id": record["id"], **client}) + "\n")


def page_window(api: UpworkApi, day: dt.date, spool: _Spool, stats: FetchStats) -> None:
    """Page the search over ``day``'s window into ``spool`` (see the module docstring)."""
    start, end = window(day)
    seen: set[str] = set()  # ids only: a day's ids are a few hundred kB
    reader = _Reader(api.settings)

    def one_pass(catch_up: bool) -> int:
        new = 0
        offset = 0
        for _ in range(MAX_PAGES):
            items, next_offset, total = api.search_page(offset)
            stats.pages += 1
            taken = offset + len(items)
            fetched_at = dt.datetime.now(dt.timezone.utc)
            reached_start = hit_seen = False
            for position, item in enumerate(items):
                raw, published = reader.published(item, fetched_at)
                if published is not None and published < start:
                    reached_start = True
                    continue
                if published is not None and published >= end:
                    stats.newer_than_window += 1
                    continue
                if published is not None and not catch_up:
                    stats.saw(published)
                key = _key(item)
                if key in seen:
                    stats.duplicates_skipped += 1
                    hit_seen = True
                    continue
                seen.add(key)
                new += 1
                reader.keep(item, raw, fetched_at, spool, stats,
                            {"stage": "upwork_fetch", "page_offset": offset, "position": position})
            if reached_start:
                if not catch_up:
                    stats.covered = True
                return new
            if next_offset is None or not items or (catch_up and hit_seen):
                if next_offset is None and not catch_up:
                    # The search has nothing older: the window is covered, unless the API stopped
                    # short of the total it announced (the offset cap).
                    stats.covered = total is None or taken >= total
                    if not stats.covered:
                        stats.capped = taken >= api.settings.offset_cap
                        log.warning("upwork search stopped after %d of %d results (offset cap %d), before the "
                                    "start of %s's window: sweep more often (DAG jobreqs_upwork_sweep)",
                                    taken, total, api.settings.offset_cap, day)
                return new
            offset = max(offset + 1, next_offset - PAGE_OVERLAP)
        raise RuntimeError(f"upwork search did not reach the start of {day}'s window in {MAX_PAGES} pages")

    one_pass(catch_up=False)
    stats.passes = 1
    for _ in range(MAX_CATCH_UP_PASSES):
        stats.passes += 1
        stats.last_pass_new = one_pass(catch_up=True)
        if stats.last_pass_new == 0:
            break
    else:
        stats.complete = False
        log.warning("upwork fetch %s: jobs still arriving after %d catch-up passes", day, MAX_CATCH_UP_PASSES)


def _row(record: dict, day: dt.date | None) -> tuple:
    first_seen = day or dt.date.fromisoformat(str(record["published_at"])[:10])
    return tuple(first_seen if c == "first_seen_date" else record.get(c) for c in JOB_COLUMNS)


def upsert_jobs(records: Iterator[dict], day: dt.date | None, clients: Iterator[dict] = iter(())) -> tuple[int, int]:
    """Bulk upsert: COPY into a temporary table, then INSERT ... ON CONFLICT (id) DO UPDATE.
    Enrichment columns are left alone; ``first_seen_date`` keeps the earliest date (``day``, or
    each job's publish date when None). ``clients`` (official mode: the search's client
    statistics) land in ``upwork_clients`` in the same transaction, their jobs marked enriched
    by the search. Returns ``(inserted, updated)``."""
    cols = ", ".join(JOB_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in JOB_COLUMNS if c not in ("id", "first_seen_date"))
    with connect() as conn, conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE upwork_jobs_in (LIKE jobreqs.upwork_jobs INCLUDING DEFAULTS) ON COMMIT DROP")
        with conn.cursor() as cur:
            with cur.copy(f"COPY upwork_jobs_in ({cols}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(_row(record, day))
            rows = cur.execute(
                f"""INSERT INTO jobreqs.upwork_jobs AS j ({cols})
                    SELECT DISTINCT ON (id) {cols} FROM upwork_jobs_in ORDER BY id, fetched_at DESC
                    ON CONFLICT (id) DO UPDATE SET {updates},
                        first_seen_date = LEAST(j.first_seen_date, EXCLUDED.first_seen_date)
                    RETURNING (xmax = 0)""").fetchall()
            _record_clients(cur, clients)
    inserted = sum(1 for (new,) in rows if new)
    return inserted, len(rows) - inserted


def _record_clients(cur, clients: Iterator[dict]) -> None:
    rows = [(c["job_id"], *(c.get(k) for k in CLIENT_COLUMNS)) for c in clients]
    if not rows:
        return
    cols = ", ".join(("job_id",) + CLIENT_COLUMNS)
    marks = ", ".join(["%s"] * (len(CLIENT_COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CLIENT_COLUMNS)
    cur.executemany(f"""INSERT INTO jobreqs.upwork_clients ({cols}, enriched_at) VALUES ({marks}, now())
                        ON CONFLICT (job_id) DO UPDATE SET {updates}, enriched_at = now()""", rows)
    cur.executemany("""UPDATE jobreqs.upwork_jobs SET enriched_at = now(), enrich_path = 'search',
                              enrich_last_error = NULL WHERE id = %s""", [(r[0],) for r in rows])


def record_read(kind: str, oldest: dt.datetime | None, newest: dt.datetime | None, reached_known: bool,
                capped: bool, pages: int, new_jobs: int) -> None:
    """Record a stretch of publish times read without a gap (a sweep or a daily pass)."""
    with connect() as conn:
        conn.execute(
            """INSERT INTO jobreqs.upwork_sweeps
                   (kind, oldest_published, newest_published, reached_known, capped, pages, new_jobs)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (kind, oldest, newest, reached_known, capped, pages, new_jobs))


def coverage(day: dt.date) -> dict:
    """How much of ``day``'s window the recorded passes and sweeps read without a gap: the
    share of its 24 hours, the number of sweeps that touched it, and the gaps (ISO pairs)."""
    start, end = window(day)
    with connect() as conn:
        rows = conn.execute(
            """SELECT kind, oldest_published, newest_published FROM jobreqs.upwork_sweeps
               WHERE oldest_published IS NOT NULL AND oldest_published < %s AND newest_published >= %s
               ORDER BY oldest_published""", (end, start)).fetchall()
    covered: list[list[dt.datetime]] = []
    for _kind, oldest, newest in rows:
        low, high = max(oldest, start), min(newest, end)
        if covered and low <= covered[-1][1]:
            covered[-1][1] = max(covered[-1][1], high)
        else:
            covered.append([low, high])
    seconds = sum((high - low).total_seconds() for low, high in covered)
    # a pass that read up to the window's end (or a sweep after it) covers the last moments too
    if covered and covered[-1][1] >= end - dt.timedelta(minutes=1):
        seconds += (end - covered[-1][1]).total_seconds()
        covered[-1][1] = end
    gaps, cursor = [], start
    for low, high in covered:
        if low > cursor:
            gaps.append([cursor.isoformat(), low.isoformat()])
        cursor = max(cursor, high)
    if cursor < end:
        gaps.append([cursor.isoformat(), end.isoformat()])
    return {"coverage": round(min(seconds, DAY_SECONDS) / DAY_SECONDS, 4),
            "sweeps": sum(1 for kind, *_ in rows if kind == "sweep"), "gaps": gaps}


def _merged(spool_path: Path, raw_dir, day: dt.date, folder: Path) -> tuple[Path, int]:
    """This run's records, then those the partition already held (sweeps, an earlier run) that
    this run did not see, kept to the window: a local file to land as the partition's only one."""
    start, end = window(day)
    seen: set[str] = set()
    merged = folder / "merged.jsonl"
    count = 0
    earlier = list(lake.list_files(raw_dir))  # listed before anything is written there
    with merged.open("w", encoding="utf-8") as out:
        for record in _Spool.read(spool_path):
            seen.add(record["id"])
            out.write(lake.dumps(record) + "\n")
            count += 1
        for path in earlier:
            for _, line in lake.read_jsonl_gz(path):
                try:
                    job = UpworkRawJob.model_validate_json(line)
                except ValidationError:
                    continue  # what does not validate was never a record of this partition
                if job.id in seen or not start <= job.published_at < end:
                    continue
                seen.add(job.id)
                out.write(lake.dumps(job.model_dump(mode="json")) + "\n")
                count += 1
    return merged, count


def fetch_day(settings: UpworkSettings, root, day: dt.date) -> FetchStats:
    """Fetch ``day``'s window into the lake and the warehouse; return what happened."""
    began = time.monotonic()
    stats = FetchStats(day=day.isoformat())
    raw_dir = lake.partition(root, "raw", "upwork", day)
    bad_target = lake.partition(root, "quarantine", "upwork", day) / QUARANTINE_FILE
    with temporaries.work_dir("upwork_fetch") as folder:
        spool = _Spool(folder)
        with UpworkApi(settings, WarehouseTokenSource(settings)) as api:
            try:
                page_window(api, day, spool, stats)
            finally:
                spool.close()
            stats.extra |= api.counters.as_dict()
        paged = time.monotonic()
        merged, total = _merged(spool.raw_path, raw_dir, day, folder)
        stats.swept = total - stats.fetched
        lake.replace_partition(raw_dir, _Spool.read(merged), name=RAW_FILE)
        if stats.quarantined:
            lake.write_jsonl_gz(bad_target, _Spool.read(spool.bad_path))
            log.warning("upwork fetch %s: %d malformed results quarantined in %s", day, stats.quarantined, bad_target)
        elif bad_target.exists():
            bad_target.unlink()  # a re-run without rejects clears the old ones
        lake_done = time.monotonic()
        stats.inserted, stats.updated = upsert_jobs(_Spool.read(merged), day, _Spool.read(spool.clients_path))
    start, end = window(day)
    # The pass read from the top of the list, so everything published up to the moment it ran
    # (or up to the window's end, when it ran after it).
    newest = min(dt.datetime.now(dt.timezone.utc), end)
    record_read("daily", start if stats.covered else stats.oldest_read, newest, stats.covered,
                stats.capped, stats.pages, stats.inserted)
    done = time.monotonic()
    stats.extra |= {"seconds_paging": round(paged - began, 3), "seconds_lake": round(lake_done - paged, 3),
                    "seconds_load": round(done - lake_done, 3), "seconds": round(done - began, 3)}
    return stats


class UpworkFetchIncomplete(RuntimeError):
    """Jobs of a closed window were still arriving when the catch-up passes ran out (what was
    fetched has landed; a retry fetches the window again)."""


def upwork_fetch(lake_root, day: dt.date, refetch_after_days: float = 2.0) -> dict:
    """Stage ``upwork_fetch``: fetch every job published on ``day`` (UTC) into
    ``raw/upwork/dt=day/`` and ``jobreqs.upwork_jobs``; return counts and coverage (no secret).

    The search cannot go back in time: when ``day``'s window closed more than
    ``refetch_after_days`` ago and the lake already holds its raw snapshot (a backfill), the
    snapshot is kept, nothing is fetched, and the result says so (``skipped``)."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    root = lake.lake_root(lake_root) if isinstance(lake_root, str) or lake_root is None else lake_root
    age = dt.datetime.now(dt.timezone.utc) - window(day)[1]
    if age > dt.timedelta(days=refetch_after_days) and lake.list_files(lake.partition(root, "raw", "upwork", day)):
        message = (f"{day} ended {age.days} days ago and raw/upwork/dt={day}/ exists: kept that snapshot "
                   "(the search cannot go back in time; normalise re-processes it)")
        log.warning(message)
        return {"day": day.isoformat(), "skipped": True, "message": message, "fetched": 0}
    stats = fetch_day(load_settings(), root, day)
    result = {"skipped": False} | {k: v for k, v in stats.__dict__.items()
                                   if k not in ("extra", "oldest_read", "newest_read")} | stats.extra
    result |= coverage(day)
    seconds = result.get("seconds") or 0
    result["jobs_per_second"] = round(stats.fetched / seconds, 1) if seconds else None
    log.info("upwork fetch %s: %s", day, result)
    if not stats.complete:
        message = (f"jobs were still arriving after {MAX_CATCH_UP_PASSES} catch-up passes ({stats.last_pass_new} "
                   f"in the last one): a job published during the last pass may be missing")
        if dt.datetime.now(dt.timezone.utc) >= window(day)[1]:
            raise UpworkFetchIncomplete(f"{message}; the {stats.fetched} jobs fetched have landed, a retry "
                                        "fetches the window again")
        result["message"] = f"{message} (the window is still open: a run after it closes collects them)"
    return result


# ---------------------------------------------------------------- sweeps


def _reject_day(item: Any) -> str:
    """The publish date of a rejected result when it has a readable one, else today's."""
    job = ((item.get("jobTile") or {}).get("job") or {}) if isinstance(item, dict) else {}
    moment = _published(job.get("publishTime") if isinstance(job, dict) else None) or \
        _published(item.get("publishedDateTime") if isinstance(item, dict) else None)
    return (moment or dt.datetime.now(dt.timezone.utc)).date().isoformat()


def _known_ids(since: dt.datetime) -> set[str]:
    with connect() as conn:
        return {r[0] for r in conn.execute("SELECT id FROM jobreqs.upwork_jobs WHERE published_at >= %s", (since,))}


def sweep(settings: UpworkSettings, root, max_pages: int | None = None) -> dict:
    """One sweep of the newest jobs (see the module docstring); returns its counts."""
    began = time.monotonic()
    known = _known_ids(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=KNOWN_DAYS))
    stats = FetchStats(day="sweep")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    reader = _Reader(settings)
    reached_known = False
    by_day: dict[str, list[dict]] = {}
    bad_by_day: dict[str, list[dict]] = {}
    with temporaries.work_dir("upwork_sweep") as folder:
        spool = _Spool(folder)
        with UpworkApi(settings, WarehouseTokenSource(settings)) as api:
            offset, seen = 0, set()
            try:
                for _ in range(max_pages or MAX_PAGES):
                    items, next_offset, total = api.search_page(offset)
                    stats.pages += 1
                    fetched_at = dt.datetime.now(dt.timezone.utc)
                    for position, item in enumerate(items):
                        raw, published = reader.published(item, fetched_at)
                        if published is not None:
                            stats.saw(published)
                        key = _key(item)
                        if key in known:
                            reached_known = True
                            continue
                        if key in seen:
                            stats.duplicates_skipped += 1
                            continue
                        seen.add(key)
                        reader.keep(item, raw, fetched_at, spool, stats,
                                    {"stage": "upwork_sweep", "page_offset": offset, "position": position})
                    if reached_known or next_offset is None or not items:
                        stats.capped = next_offset is None and bool(items) and offset + len(items) >= settings.offset_cap
                        break
                    offset = max(offset + 1, next_offset - PAGE_OVERLAP)
            finally:
                spool.close()
            stats.extra |= api.counters.as_dict()
        for record in _Spool.read(spool.raw_path):
            by_day.setdefault(str(record["published_at"])[:10], []).append(record)
        for reject in _Spool.read(spool.bad_path):
            bad_by_day.setdefault(_reject_day(reject.get("raw")), []).append(reject)
        for day, records in by_day.items():
            lake.write_jsonl_gz(lake.partition(root, "raw", "upwork", day) / f"{SWEEP_PREFIX}{stamp}.jsonl.gz", records)
        for day, rejects in bad_by_day.items():
            lake.write_jsonl_gz(lake.partition(root, "quarantine", "upwork", day) / f"{SWEEP_PREFIX}{stamp}.jsonl.gz", rejects)
        stats.inserted, stats.updated = upsert_jobs(_Spool.read(spool.raw_path), None, _Spool.read(spool.clients_path))
    record_read("sweep", stats.oldest_read, stats.newest_read, reached_known, stats.capped, stats.pages, stats.inserted)
    if not reached_known and stats.capped:
        log.warning("upwork sweep stopped at the offset cap before meeting a job collected earlier: a gap "
                    "(sweep more often)")
    return {"new_jobs": stats.fetched, "quarantined": stats.quarantined, "pages": stats.pages,
            "reached_known": reached_known, "capped": stats.capped, "days": sorted(by_day),
            "oldest_published": stats.oldest_read.isoformat() if stats.oldest_read else None,
            "newest_published": stats.newest_read.isoformat() if stats.newest_read else None,
            "seconds": round(time.monotonic() - began, 3)} | stats.extra


def upwork_sweep(lake_root, max_pages: int | None = None) -> dict:
    """Stage ``upwork_sweep``: the newest jobs since the last sweep, into their days' partitions."""
    root = lake.lake_root(lake_root) if isinstance(lake_root, str) or lake_root is None else lake_root
    result = sweep(load_settings(), root, max_pages)
    log.info("upwork sweep: %s", result)
    return result
