"""normalise: the raw snapshots of one date, from every source, into ``Posting`` records.

Reads ``raw/<source>/dt=D/*.jsonl.gz`` line by line, validates each line against its source's
raw schema, converts it to the common ``Posting`` schema and streams the result to
``staging/postings/dt=D/``. A line that is not JSON (or nests too deep to read) or does not
validate goes, whole and with its reason, to ``quarantine/<source>/dt=D/normalise.jsonl.gz``;
the rest of the day still lands. Characters Postgres cannot store (NUL, lone surrogates) are
removed here, before validation, and counted (``chars_removed``): one NUL never stops a load.

A posting that several raw files hold (a re-scrape, two keywords) may appear more than once here;
the load merges duplicates (their keywords included), which keeps this stage's memory flat.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from jobreqs import lake
from jobreqs.schemas import AtsRawJob, HNRawComment, IndeedRawPosting, Posting, UpworkRawJob
from transforms.text import content_hash, html_to_text, normalise_whitespace, storable

log = logging.getLogger(__name__)

SOURCES = ("indeed", "upwork")


@dataclass
class NormaliseStats:
    raw_files: dict[str, int] = field(default_factory=dict)
    postings: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    chars_removed: dict[str, int] = field(default_factory=dict)
    message: str | None = None

    def as_dict(self) -> dict:
        return {
            "raw_files": self.raw_files,
            "postings": self.postings,
            "quarantined": self.quarantined,
            "chars_removed": self.chars_removed,
            "postings_total": sum(self.postings.values()),
            "message": self.message,
        }


def _posting(source: str, source_id: str, day: dt.date, title: str, text: str, **fields) -> Posting:
    return Posting(
        source=source,
        source_id=source_id,
        title=title,
        posting_date=day,
        description_text=text,
        content_hash=content_hash(title, text),
        **fields,
    )


def indeed_posting(raw: IndeedRawPosting, day: dt.date) -> Posting:
    text = normalise_whitespace(raw.description_text) or html_to_text(raw.description_html or "")
    return _posting(
        "indeed", raw.job_key, day, raw.title, text,
        url=raw.url,
        company=raw.company,
        location=raw.location,
        is_remote=raw.is_remote,
        posted_at=raw.posted_at,
        salary_min=raw.salary_min,
        salary_max=raw.salary_max,
        salary_period=raw.salary_period,
        salary_currency=raw.salary_currency,
        salary_is_estimate=raw.salary_is_estimate if raw.salary_period else None,
        job_types=raw.job_types,
        keywords=sorted(set(raw.keywords)),
        search_location=raw.search_location,
    )


def upwork_posting(raw: UpworkRawJob, day: dt.date) -> Posting:
    if raw.job_type == "fixed" and raw.fixed_budget is not None:
        salary = {"salary_min": raw.fixed_budget, "salary_max": raw.fixed_budget, "salary_period": "project"}
    elif raw.hourly_min is not None or raw.hourly_max is not None:
        salary = {"salary_min": raw.hourly_min, "salary_max": raw.hourly_max, "salary_period": "hour"}
    else:
        salary = {}
    if salary:
        salary |= {"salary_currency": raw.currency, "salary_is_estimate": False}
    return _posting(
        "upwork", raw.id, day, raw.title, normalise_whitespace(raw.description),
        url=raw.url or (f"https://www.upwork.com/jobs/{raw.ciphertext}" if raw.ciphertext else None),
        location=raw.client_country,
        is_remote=True,  # every Upwork job is done remotely
        posted_at=raw.published_at,
        job_types=[raw.job_type] if raw.job_type else [],
        skills=raw.skills,
        **salary,
    )


def hn_posting(raw: HNRawComment, day: dt.date) -> Posting:
    # The title is the parsed role, else the first line itself (the comment has no other title).
    title = raw.role or raw.first_line[:200] or raw.text.split("\n", 1)[0][:200]
    salary = {}
    if raw.salary_min is not None:
        salary = {"salary_min": raw.salary_min, "salary_max": raw.salary_max, "salary_period": raw.salary_period,
                  "salary_currency": raw.salary_currency, "salary_is_estimate": False}
    return _posting(
        "hn", raw.id, day, title, normalise_whitespace(raw.text) or html_to_text(raw.text_html),
        url=f"https://news.ycombinator.com/item?id={raw.id}",
        company=raw.company,
        location=raw.location,
        is_remote=raw.is_remote,
        posted_at=raw.posted_at,
        **salary,
    )


def ats_posting(raw: AtsRawJob, day: dt.date) -> Posting:
    salary = {}
    if raw.salary_min is not None:
        salary = {"salary_min": raw.salary_min, "salary_max": raw.salary_max, "salary_period": raw.salary_period,
                  "salary_currency": raw.salary_currency, "salary_is_estimate": False}
    # ids are unique per board, not across boards: the board is part of the posting's id
    return _posting(
        raw.ats, f"{raw.board}:{raw.id}", day, raw.title, normalise_whitespace(raw.description_text),
        url=raw.url,
        company=raw.company,
        location=raw.location,
        is_remote=raw.is_remote,
        posted_at=raw.published_at,
        job_types=[raw.employment_type] if raw.employment_type else [],
        **salary,
    )


_CONVERTERS = {
    "indeed": (IndeedRawPosting, indeed_posting),
    "upwork": (UpworkRawJob, upwork_posting),
    "hn": (HNRawComment, hn_posting),
    "greenhouse": (AtsRawJob, ats_posting),
    "lever": (AtsRawJob, ats_posting),
    "ashby": (AtsRawJob, ats_posting),
}


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in errors[:5])


def normalise_source(root, source: str, day: dt.date, stats: NormaliseStats,
                     quarantine: lake.Spool) -> Iterator[dict]:
    """Yield the postings of one source's raw partition; add rejects to ``quarantine``."""
    schema, convert = _CONVERTERS[source]
    files = lake.list_files(lake.partition(root, "raw", source, day))
    stats.raw_files[source] = len(files)
    stats.postings[source] = 0
    stats.quarantined[source] = 0
    stats.chars_removed[source] = 0
    for path in files:
        for line_number, line in lake.read_jsonl_gz(path):
            reason = None
            try:
                raw, removed = storable(json.loads(line))
                stats.chars_removed[source] += removed
                posting = convert(schema.model_validate(raw), day)
            except json.JSONDecodeError as exc:
                reason = f"not valid JSON: {exc}"
            except RecursionError:
                reason = "not readable: JSON nested too deeply"
            except ValidationError as exc:
                reason = f"invalid {source} record: {_first_error(exc)}"
            if reason:
                stats.quarantined[source] += 1
                quarantine.add({"reason": reason, "file": path.name, "line": line_number, "raw": line})
                continue
            stats.postings[source] += 1
            yield posting.model_dump(mode="json")


def normalise_day(root, day: dt.date, sources: tuple[str, ...] = SOURCES) -> dict:
    """Normalise every raw snapshot of ``day`` into ``staging/postings/dt=day``; return stats."""
    stats = NormaliseStats()
    rejects = {source: lake.Spool() for source in sources}

    def all_postings() -> Iterator[dict]:
        for source in sources:
            yield from normalise_source(root, source, day, stats, rejects[source])

    lake.replace_partition(lake.partition(root, "staging", "postings", day), all_postings())
    for source, spool in rejects.items():
        target = lake.partition(root, "quarantine", source, day) / "normalise.jsonl.gz"
        if spool.count:
            lake.write_jsonl_gz(target, spool.rows())
            log.warning("%s: %d raw %s records quarantined in %s", day, spool.count, source, target)
        elif target.exists():
            target.unlink()  # a re-run that no longer rejects anything clears the old rejects
        spool.close()
    if not any(stats.raw_files.values()):
        stats.message = (
            f"no raw snapshot for {day} in {root}/raw/: nothing to process for this date "
            "(a backfill re-processes only what the lake already holds)"
        )
        log.warning(stats.message)
    return stats.as_dict()
