"""Stage ``upwork_fetch``: every job published in the logical date's window, once.

The window of date D is [D 00:00 UTC, D+1 00:00 UTC). The search is newest first, so:
1. the first pass pages from the top, skips jobs newer than the window, and stops on the page
   that reaches a job older than it. New jobs published meanwhile push everything down, so a
   page may repeat jobs of the page before: they are recognised by id and skipped (visitor-mode
   pages also overlap by a few results, so that a job that disappears cannot hide another one);
2. catch-up passes start again from the top and stop at the first job already seen, taking the
   jobs that arrived during the previous pass, until a pass finds nothing new. When jobs still
   arrive after ``MAX_CATCH_UP_PASSES`` passes, the fetch is not complete (``complete`` false:
   a job published during the last pass may be missing) and never says otherwise: what was
   fetched lands, then, if the window has closed, the stage fails so that Airflow retries it
   (the retry fetches the window again); while the window is still open (a run for today), the
   result says so in its ``message``.

Results go, as they arrive, to two local spool files (valid records, quarantined ones) in the
stage's working folder (:func:`jobreqs.temporaries.work_dir`, swept of a killed run's folder),
so memory stays flat; then the raw file lands atomically in ``raw/upwork/dt=D/`` (replacing the
previous run's), the rejects in ``quarantine/upwork/dt=D/fetch.jsonl.gz`` with their reason, and
the jobs are upserted in bulk: COPY into a temporary table, then one INSERT ... ON CONFLICT (id).
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

from jobreqs import lake, temporaries
from jobreqs.warehouse import connect
from scrapers.upwork.adapter import ShapeError, official_node_to_raw, validate_raw, visitor_result_to_raw
from scrapers.upwork.api import UpworkApi
from scrapers.upwork.settings import UpworkSettings, load_settings
from scrapers.upwork.token import WarehouseTokenSource
from transforms.text import storable

log = logging.getLogger(__name__)

QUARANTINE_FILE = "fetch.jsonl.gz"
RAW_FILE = "part-0000.jsonl.gz"
MAX_PAGES = 20_000
MAX_CATCH_UP_PASSES = 8
# Visitor pages overlap by this many results (more requests, but a job removed between two page
# reads cannot make the next page skip one).
PAGE_OVERLAP = 2

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
    inserted: int = 0
    updated: int = 0
    extra: dict = field(default_factory=dict)


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
    """Where one run's results go while paging: valid records and rejects, one JSON per line."""

    def __init__(self, folder: Path):
        self.raw_path, self.bad_path = folder / "raw.jsonl", folder / "quarantine.jsonl"
        self.raw, self.bad = self.raw_path.open("w", encoding="utf-8"), self.bad_path.open("w", encoding="utf-8")

    def close(self) -> None:
        self.raw.close()
        self.bad.close()

    @staticmethod
    def read(path: Path) -> Iterator[dict]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def page_window(api: UpworkApi, day: dt.date, spool: _Spool, stats: FetchStats) -> None:
    """Page the search over ``day``'s window into ``spool`` (see the module docstring)."""
    start, end = window(day)
    seen: set[str] = set()  # ids only: a day's ids are a few hundred kB
    to_raw = visitor_result_to_raw if api.settings.mode == "visitor" else official_node_to_raw

    def one_pass(catch_up: bool) -> int:
        new = 0
        cursor: Any = None
        taken = 0  # results read so far in this pass
        for _ in range(MAX_PAGES):
            items, next_cursor, total = api.search_page(cursor)
            stats.pages += 1
            taken = (int(cursor or 0) if api.settings.mode == "visitor" else taken) + len(items)
            fetched_at = dt.datetime.now(dt.timezone.utc)
            reached_start = hit_seen = False
            for position, item in enumerate(items):
                raw = None
                try:
                    raw = to_raw(item, fetched_at)
                    published = _published(raw["published_at"])
                except ShapeError:
                    published = None
                if published is not None and published < start:
                    reached_start = True
                    continue
                if published is not None and published >= end:
                    stats.newer_than_window += 1
                    continue
                key = _key(item)
                if key in seen:
                    stats.duplicates_skipped += 1
                    hit_seen = True
                    continue
                seen.add(key)
                new += 1
                try:
                    if raw is None:
                        raw = to_raw(item, fetched_at)
                    raw, removed = storable(raw)  # a NUL would stop the COPY below
                    stats.chars_removed += removed
                    record = validate_raw(raw).model_dump(mode="json")
                except ShapeError as exc:
                    stats.quarantined += 1
                    spool.bad.write(lake.dumps({"reason": str(exc), "stage": "upwork_fetch", "page_cursor": cursor,
                                                "position": position, "quarantined_at": fetched_at, "raw": item}) + "\n")
                    continue
                stats.fetched += 1
                spool.raw.write(lake.dumps(record) + "\n")
            if reached_start:
                stats.covered = True
                return new
            if next_cursor is None or not items or (catch_up and hit_seen):
                if next_cursor is None and not catch_up:
                    # The search has nothing older: the window is covered, unless the API stopped
                    # short of the total it announced (a cap on paging).
                    stats.covered = not isinstance(total, int) or taken >= total
                    if not stats.covered:
                        log.warning("upwork search stopped after %d of %d results, before the start of %s's window",
                                    taken, total, day)
                return new
            if api.settings.mode == "visitor":
                next_cursor = max(int(cursor or 0) + 1, int(next_cursor) - PAGE_OVERLAP)
            cursor = next_cursor
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


def _row(record: dict, day: dt.date) -> tuple:
    return tuple(day if c == "first_seen_date" else record.get(c) for c in JOB_COLUMNS)


def upsert_jobs(records: Iterator[dict], day: dt.date) -> tuple[int, int]:
    """Bulk upsert: COPY into a temporary table, then INSERT ... ON CONFLICT (id) DO UPDATE.
    Enrichment columns are left alone; ``first_seen_date`` keeps the earliest date. Returns
    ``(inserted, updated)``."""
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
    inserted = sum(1 for (new,) in rows if new)
    return inserted, len(rows) - inserted


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
        lake.replace_partition(raw_dir, _Spool.read(spool.raw_path), name=RAW_FILE)
        if stats.quarantined:
            lake.write_jsonl_gz(bad_target, _Spool.read(spool.bad_path))
            log.warning("upwork fetch %s: %d malformed results quarantined in %s", day, stats.quarantined, bad_target)
        elif bad_target.exists():
            bad_target.unlink()  # a re-run without rejects clears the old ones
        lake_done = time.monotonic()
        stats.inserted, stats.updated = upsert_jobs(_Spool.read(spool.raw_path), day)
    done = time.monotonic()
    stats.extra |= {"seconds_paging": round(paged - began, 3), "seconds_lake": round(lake_done - paged, 3),
                    "seconds_load": round(done - lake_done, 3), "seconds": round(done - began, 3)}
    return stats


class UpworkFetchIncomplete(RuntimeError):
    """Jobs of a closed window were still arriving when the catch-up passes ran out (what was
    fetched has landed; a retry fetches the window again)."""


def upwork_fetch(lake_root, day: dt.date, refetch_after_days: float = 2.0) -> dict:
    """Stage ``upwork_fetch``: fetch every job published on ``day`` (UTC) into
    ``raw/upwork/dt=day/`` and ``jobreqs.upwork_jobs``; return counts (no secret).

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
    result = {"skipped": False} | {k: v for k, v in stats.__dict__.items() if k != "extra"} | stats.extra
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
