"""Collect the open jobs of the configured Greenhouse, Lever or Ashby boards for one date.

One request per board (the APIs answer a board's every open job at once), spaced by
``MIN_INTERVAL`` seconds, with retries on 429/5xx honouring ``Retry-After``
(``scrapers.open_http``). Every job open that day is written to ``raw/<ats>/dt=D/``, so a job is
recorded once per date it stays open; the load keeps its first date as ``posting_date`` and every
date in ``posting_sightings`` (first and last seen: ``posting_spans``). A board that does not
exist (404), answers something else than its documented shape, or fails for good is quarantined
with its reason, the other boards still land; coverage says how many boards and jobs were read.

The boards only show what is open now: a past date cannot be collected again (a backfill
re-processes the lake's snapshots), except from a sandbox serving that date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from jobreqs import lake
from scrapers.ats.boards import Board, base_url, jobs_of, raw_jobs, url_for
from scrapers.open_http import CollectionFailed, PoliteClient, SourceError

log = logging.getLogger(__name__)

#: Seconds between two board requests: a handful of boards a day needs no speed.
MIN_INTERVAL = 1.0
QUARANTINE_FILE = "collect.jsonl.gz"


def collect_ats(root, day: dt.date, ats: str, boards: list[Board], *, base: str | None = None,
                min_interval: float = MIN_INTERVAL) -> dict:
    """Collect the open jobs of ``boards`` into ``raw/<ats>/dt=day/``; return stats."""
    base = base or base_url(ats)
    stats = {"boards": len(boards), "boards_collected": 0, "boards_missing": 0, "boards_failed": 0,
             "jobs_listed": 0, "jobs_collected": 0, "jobs_unlisted": 0, "per_board": {}}
    rejects = lake.Spool()
    fetched_at = dt.datetime.now(dt.timezone.utc)
    with PoliteClient(min_interval) as client:

        def records() -> Iterator[dict]:
            for board in boards:
                url, params = url_for(ats, base, board.token)
                reason = None
                try:
                    answer = client.get_json(url, params, missing_ok=True)
                    if answer is None:
                        stats["boards_missing"] += 1
                        rejects.add({"reason": f"no such {ats} board (HTTP 404)", "board": board.token, "url": url})
                        continue
                    jobs, total = jobs_of(ats, answer)
                except SourceError as exc:
                    reason = f"board not read: {exc}"
                except ValueError as exc:
                    reason = f"unexpected answer: {exc}"
                if reason:
                    stats["boards_failed"] += 1
                    rejects.add({"reason": reason, "board": board.token, "url": url})
                    continue
                stats["boards_collected"] += 1
                stats["jobs_listed"] += total if total is not None else len(jobs)
                collected = 0
                for record, job in raw_jobs(ats, jobs, board, fetched_at):
                    if record is None:
                        stats["jobs_unlisted"] += 1
                        continue
                    collected += 1
                    yield record
                stats["jobs_collected"] += collected
                stats["per_board"][board.token] = collected

        lake.replace_partition(lake.partition(root, "raw", ats, day), records(), name=f"{ats}.jsonl.gz")
        lake.replace_quarantine(lake.partition(root, "quarantine", ats, day) / QUARANTINE_FILE, rejects)
        stats |= {"requests": client.requests, "retries": client.retries}
    if boards and stats["boards_failed"] == len(boards):
        raise CollectionFailed(f"{ats}: none of the {len(boards)} boards could be read (see quarantine/{ats}/)", stats)
    stats["coverage"] = round(stats["boards_collected"] / len(boards), 4) if boards else 1.0
    stats["sandbox"] = base.startswith(("http://127.0.0.1", "http://localhost"))
    log.info("%s %s: %d of %d boards, %d jobs", ats, day, stats["boards_collected"], len(boards),
             stats["jobs_collected"])
    return stats
