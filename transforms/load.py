"""load: stream the day's finished posting records into the warehouse with bulk upserts.

One pass over the records COPYs them into a temporary staging table (COPY, not row-by-row
INSERTs; keywords and technologies ride along as arrays), then set-based statements upsert them on their natural keys:

- ``postings`` on (source, source_id); duplicates within the batch are merged (``DISTINCT ON``),
  and ``posting_date`` keeps the first date a posting was found on;
- ``posting_keywords``: every (keyword, location) that found the posting, added, never duplicated;
- ``posting_technologies`` and ``unmapped_terms``: replaced for the postings of this batch that
  carry a *successful* extraction, so a re-run leaves exactly the same rows; a posting whose
  extraction failed ("extraction_error") keeps the technologies and extraction backend it had
  (counted as ``kept_previous_technologies``);
- ``posted_at`` keeps the earliest value seen (a re-scrape does not move it);
- ``posting_sightings``: the date of the batch, once per posting (first/last seen: ``posting_spans``).

Everything happens in one transaction: a failed load leaves the warehouse as it was, and a re-run
of a half-finished load simply starts again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import psycopg

log = logging.getLogger(__name__)

_POSTING_COLUMNS = [
    ("source", "text"), ("source_id", "text"), ("url", "text"), ("title", "text"),
    ("company", "text"), ("location", "text"), ("is_remote", "boolean"),
    ("posted_at", "timestamptz"), ("posting_date", "date"), ("salary_min", "numeric"),
    ("salary_max", "numeric"), ("salary_period", "text"), ("salary_currency", "text"),
    ("salary_is_estimate", "boolean"), ("job_types", "text[]"), ("skills", "text[]"),
    ("description_text", "text"), ("content_hash", "text"), ("kept_text", "text"),
    ("kept_ratio", "real"), ("tokens_before", "integer"), ("tokens_after", "integer"),
    ("classifier_version", "text"), ("extraction_backend", "text"),
]
_NAMES = [name for name, _ in _POSTING_COLUMNS]
# Array columns default to empty, not NULL.
_SELECT = [f"coalesce({n}, '{{}}')" if t == "text[]" else n for n, t in _POSTING_COLUMNS]
# Columns refreshed when a posting is loaded again; posting_date and posted_at keep their first
# value, extraction_backend changes only with a successful extraction.
_UPDATED = [n for n in _NAMES if n not in ("source", "source_id", "posting_date", "posted_at", "extraction_backend")]


_EXTRA_COLUMNS = [
    ("keywords", "text[]"), ("search_location", "text"),
    ("technologies", "text[]"), ("unmapped_terms", "text[]"),
]


def _copy(cur: psycopg.Cursor, records: Iterable[dict]) -> int:
    """COPY every record into one temporary staging table, streaming; return how many."""
    columns = _POSTING_COLUMNS + _EXTRA_COLUMNS
    cur.execute(
        "CREATE TEMP TABLE stage_postings (ord bigint, has_extraction boolean, "
        + ", ".join(f"{n} {t}" for n, t in columns)
        + ") ON COMMIT DROP"
    )
    names = [n for n, _ in columns]
    count = 0
    with cur.copy(f"COPY stage_postings (ord, has_extraction, {', '.join(names)}) FROM STDIN") as copy:
        for count, record in enumerate(records, start=1):
            extracted = "technologies" in record and not record.get("extraction_error")
            row = {**record, "extraction_backend": None} if not extracted else record
            copy.write_row((count, extracted, *(row.get(n) for n in names)))
    return count


def load_postings(conn: psycopg.Connection, records: Iterable[dict]) -> dict:
    """Upsert ``records`` (finished posting dicts) into the warehouse; return row counts."""
    with conn.transaction(), conn.cursor() as cur:
        copied = _copy(cur, records)
        cur.execute(
            f"""
            INSERT INTO jobreqs.postings ({', '.join(_NAMES)})
            SELECT DISTINCT ON (source, source_id) {', '.join(_SELECT)}
            FROM stage_postings ORDER BY source, source_id, ord DESC
            ON CONFLICT (source, source_id) DO UPDATE SET
                {', '.join(f'{n} = EXCLUDED.{n}' for n in _UPDATED)},
                posting_date = LEAST(jobreqs.postings.posting_date, EXCLUDED.posting_date),
                posted_at = LEAST(jobreqs.postings.posted_at, EXCLUDED.posted_at),
                extraction_backend = COALESCE(EXCLUDED.extraction_backend, jobreqs.postings.extraction_backend),
                loaded_at = now()
            """
        )
        postings = cur.rowcount
        # Each date a posting was collected on, once (a job board lists a job every day it is open).
        cur.execute(
            """INSERT INTO jobreqs.posting_sightings (source, source_id, seen_on)
               SELECT DISTINCT source, source_id, posting_date FROM stage_postings
               ON CONFLICT DO NOTHING"""
        )
        sightings = cur.rowcount
        cur.execute("SELECT count(DISTINCT (source, source_id)) FROM stage_postings WHERE NOT has_extraction")
        kept_previous = cur.fetchone()[0]
        cur.execute(
            """INSERT INTO jobreqs.posting_keywords (source, source_id, keyword, search_location)
               SELECT DISTINCT source, source_id, keyword, coalesce(search_location, '')
               FROM stage_postings, unnest(keywords) AS keyword
               ON CONFLICT DO NOTHING"""
        )
        keywords = cur.rowcount
        # Extraction results replace what an earlier run stored for the same postings.
        extracted = "SELECT DISTINCT source, source_id FROM stage_postings WHERE has_extraction"
        cur.execute(f"DELETE FROM jobreqs.posting_technologies WHERE (source, source_id) IN ({extracted})")
        cur.execute(f"DELETE FROM jobreqs.unmapped_terms WHERE (source, source_id) IN ({extracted})")
        cur.execute(
            """INSERT INTO jobreqs.posting_technologies (source, source_id, technology)
               SELECT DISTINCT source, source_id, technology
               FROM stage_postings, unnest(technologies) AS technology
               ON CONFLICT DO NOTHING"""
        )
        technologies = cur.rowcount
        cur.execute(
            """INSERT INTO jobreqs.unmapped_terms (term, source, source_id, first_seen)
               SELECT DISTINCT term, s.source, s.source_id, p.posting_date
               FROM stage_postings s, unnest(s.unmapped_terms) AS term,
                    jobreqs.postings p
               WHERE p.source = s.source AND p.source_id = s.source_id
               ON CONFLICT DO NOTHING"""
        )
        unmapped = cur.rowcount
    stats = {"records": copied, "postings_upserted": postings, "keywords_added": keywords,
             "posting_technologies": technologies, "unmapped_terms": unmapped,
             "kept_previous_technologies": kept_previous, "sightings_added": sightings}
    log.info("loaded %s", json.dumps(stats))
    return stats
