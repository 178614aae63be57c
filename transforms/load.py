"""load: stream the day's finished posting records into the warehouse at COPY speed.

The records stream through in batches (``BATCH_RECORDS``). For each batch one indexed query asks
which of its postings the warehouse already holds; then:

- postings that are **new** (the common case: a day's first load) are COPYed straight into
  ``postings``, ``posting_keywords``, ``posting_technologies`` and ``unmapped_terms``: no staging
  table, no sort, nothing written twice;
- postings that **conflict** (already stored, or met earlier in this load) are COPYed into a
  temporary staging table and merged set-wise at the end, changing only what differs.

The rules are those of an upsert on the natural keys:

- ``postings`` on (source, source_id): several records of one posting in a load are merged, the
  last one's values winning; ``posting_date`` keeps the first date a posting was found on and
  ``posted_at`` the earliest value seen (a re-scrape does not move them);
- ``posting_keywords``: every (keyword, location) that found the posting, added, never duplicated;
- ``posting_technologies`` and ``unmapped_terms``: replaced for the postings of this load that
  carry a *successful* extraction (by the union of their records' results), so a re-run leaves
  exactly the same rows; only the rows that differ are deleted or inserted. A posting whose
  extraction failed ("extraction_error") keeps the technologies and extraction backend it had
  (counted as ``kept_previous_technologies``);
- a stored posting whose values are all unchanged is not rewritten: ``loaded_at`` is when its row
  last changed;
- ``posting_sightings``: the date of each record, once per posting and date (first/last seen:
  ``posting_spans``);
- the posting dates the load touched are marked in ``mart_pending_dates``: publish recomputes
  their marts (``transforms.marts.update_marts``).

Everything happens in one transaction: a failed load leaves the warehouse as it was, and a re-run
of a half-finished load simply starts again. Loads take a lock that only other loads wait for
(readers never do), so that a key found new stays new until this load commits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import psycopg

log = logging.getLogger(__name__)

#: Records per batch: one existence query and one COPY per table each; memory holds one batch.
BATCH_RECORDS = 5000

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
_ARRAYS = {n for n, t in _POSTING_COLUMNS if t == "text[]"}  # empty, never NULL
# Columns a later record simply replaces; the other three are merged (see the module's rules).
_REPLACED = [n for n in _NAMES if n not in ("source", "source_id", "posting_date", "posted_at", "extraction_backend")]
_MERGED = {
    # A posting new in this load takes its last record's values; a stored one merges with them.
    "posting_date": "CASE WHEN s.new_in_load THEN s.posting_date ELSE LEAST(p.posting_date, s.posting_date) END",
    "posted_at": "CASE WHEN s.new_in_load THEN s.posted_at ELSE LEAST(p.posted_at, s.posted_at) END",
    "extraction_backend": "CASE WHEN s.new_in_load THEN s.extraction_backend "
                          "ELSE COALESCE(s.extraction_backend, p.extraction_backend) END",
}
_NEW_VALUES = {**{n: f"s.{n}" for n in _REPLACED}, **_MERGED}

_EXTRA_COLUMNS = [
    ("keywords", "text[]"), ("search_location", "text"),
    ("technologies", "text[]"), ("unmapped_terms", "text[]"), ("taxonomy_version", "text"),
]
_STAGE_NAMES = [n for n, _ in _POSTING_COLUMNS + _EXTRA_COLUMNS]


@dataclass
class _Load:
    keys: set = field(default_factory=set)             # every posting of this load
    new: set = field(default_factory=set)              # ... that the warehouse did not hold before it
    without_extraction: set = field(default_factory=set)
    staged_last: dict = field(default_factory=dict)    # staged posting -> ord of its last record
    superseded: list = field(default_factory=list)     # ords of staged records a later one replaces
    dates: set = field(default_factory=set)            # posting dates of the postings COPYed in
    ord: int = 0
    records: int = 0
    keywords: int = 0
    technologies: int = 0
    unmapped: int = 0
    sightings: int = 0


def _batches(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def _posting_row(record: dict, extracted: bool) -> list:
    row = [record.get(n) for n in _NAMES]
    for i, n in enumerate(_NAMES):
        if n in _ARRAYS and row[i] is None:
            row[i] = []
    if not extracted:
        row[-1] = None  # extraction_backend: a failed extraction keeps the stored one
    return row


def _extracted(record: dict) -> bool:
    return "technologies" in record and not record.get("extraction_error")


def _load_batch(cur: psycopg.Cursor, batch: list[dict], state: _Load) -> None:
    keys = [(r.get("source"), r.get("source_id")) for r in batch]
    unknown = {k for k in keys if k not in state.keys}
    stored: set = set()
    if unknown:
        sources, ids = zip(*unknown)
        stored = set(cur.execute(
            """SELECT p.source, p.source_id FROM jobreqs.postings p
               JOIN unnest(%s::text[], %s::text[]) AS k (source, source_id)
                 ON p.source = k.source AND p.source_id = k.source_id""",
            (list(sources), list(ids)),
        ).fetchall())
    direct, staged = [], []
    for record, key in zip(batch, keys):
        state.ord += 1
        extracted = _extracted(record)
        if not extracted:
            state.without_extraction.add(key)
        if key in state.keys or key in stored:
            if key in state.staged_last:
                state.superseded.append(state.staged_last[key])
            state.staged_last[key] = state.ord
            staged.append((state.ord, extracted, key in state.new, record))
        else:
            direct.append((extracted, record))
            state.new.add(key)
            state.dates.add(str(record.get("posting_date")))
        state.keys.add(key)
    state.records += len(batch)

    if direct:
        with cur.copy(f"COPY jobreqs.postings ({', '.join(_NAMES)}) FROM STDIN") as copy:
            for extracted, r in direct:
                copy.write_row(_posting_row(r, extracted))
        with cur.copy("COPY jobreqs.posting_keywords (source, source_id, keyword, search_location) FROM STDIN") as copy:
            for _, r in direct:
                for keyword in sorted(set(r.get("keywords") or ())):
                    copy.write_row((r["source"], r["source_id"], keyword, r.get("search_location") or ""))
                    state.keywords += 1
        # Each technology row with the taxonomy and classifier versions that produced it.
        with cur.copy("COPY jobreqs.posting_technologies (source, source_id, technology, taxonomy_version, "
                      "classifier_version) FROM STDIN") as copy:
            for _, r in direct:
                for technology in sorted(set(r.get("technologies") or ())):
                    copy.write_row((r["source"], r["source_id"], technology, r.get("taxonomy_version"),
                                    r.get("classifier_version")))
                    state.technologies += 1
        # Each date a posting was collected on, once (a job board lists a job every day it is open).
        with cur.copy("COPY jobreqs.posting_sightings (source, source_id, seen_on) FROM STDIN") as copy:
            for _, r in direct:
                copy.write_row((r["source"], r["source_id"], r.get("posting_date")))
                state.sightings += 1
        with cur.copy("COPY jobreqs.unmapped_terms (term, source, source_id, first_seen) FROM STDIN") as copy:
            for _, r in direct:
                for term in sorted(set(r.get("unmapped_terms") or ())):
                    copy.write_row((term, r["source"], r["source_id"], r.get("posting_date")))
                    state.unmapped += 1
    if staged:
        with cur.copy(f"COPY stage_postings (ord, has_extraction, new_in_load, {', '.join(_STAGE_NAMES)}) FROM STDIN") as copy:
            for ord_, extracted, new_in_load, r in staged:
                extras = [r.get(n) for n, _ in _EXTRA_COLUMNS]
                copy.write_row((ord_, extracted, new_in_load, *_posting_row(r, extracted), *extras))


_MARK_PENDING = """INSERT INTO jobreqs.mart_pending_dates (posting_date) {dates}
    ON CONFLICT (posting_date) DO UPDATE SET version = nextval('jobreqs.mart_pending_version'), marked_at = now()"""


def _merge(cur: psycopg.Cursor, state: _Load) -> None:
    """Merge the staged (conflicting) records into the tables, touching only rows that differ."""
    cur.execute("ANALYZE stage_postings")
    # The marts of the dates these postings count on, before and after the merge, are redone.
    cur.execute(_MARK_PENDING.format(dates="""
        SELECT p.posting_date FROM jobreqs.postings p
        JOIN (SELECT DISTINCT source, source_id FROM stage_postings) s
          ON p.source = s.source AND p.source_id = s.source_id
        UNION SELECT posting_date FROM stage_postings WHERE posting_date IS NOT NULL"""))
    # The last record of each staged posting carries its values (DISTINCT ON without a sort).
    latest = "s.ord <> ALL(%(superseded)s::bigint[])"
    params = {"superseded": state.superseded}
    current = ", ".join(f"p.{n}" for n in _REPLACED + list(_MERGED))
    new = ", ".join(_NEW_VALUES[n] for n in _REPLACED + list(_MERGED))
    cur.execute(
        f"""UPDATE jobreqs.postings p SET {', '.join(f'{n} = {_NEW_VALUES[n]}' for n in _REPLACED + list(_MERGED))},
                   loaded_at = now()
            FROM stage_postings s
            WHERE p.source = s.source AND p.source_id = s.source_id AND {latest}
              AND ({current}) IS DISTINCT FROM ({new})""",
        params,
    )
    cur.execute(
        """INSERT INTO jobreqs.posting_keywords (source, source_id, keyword, search_location)
           SELECT DISTINCT source, source_id, keyword, coalesce(search_location, '')
           FROM stage_postings, unnest(keywords) AS keyword
           ON CONFLICT DO NOTHING"""
    )
    state.keywords += cur.rowcount
    cur.execute(
        """INSERT INTO jobreqs.posting_sightings (source, source_id, seen_on)
           SELECT DISTINCT source, source_id, posting_date FROM stage_postings
           ON CONFLICT DO NOTHING"""
    )
    state.sightings += cur.rowcount
    # Postings stored before this load whose extraction succeeded now: their technologies and
    # unmapped terms become exactly the union of this load's records' (new postings' rows were
    # COPYed with their first record and only gain the later records' ones).
    cur.execute(
        """CREATE TEMP TABLE stage_replaced ON COMMIT DROP AS
           SELECT DISTINCT source, source_id FROM stage_postings WHERE has_extraction AND NOT new_in_load"""
    )
    cur.execute(
        """CREATE TEMP TABLE stage_technologies ON COMMIT DROP AS
           SELECT DISTINCT ON (source, source_id, technology) source, source_id, technology,
                  taxonomy_version, classifier_version
           FROM stage_postings, unnest(technologies) AS technology
           ORDER BY source, source_id, technology, ord DESC"""
    )
    cur.execute(
        """CREATE TEMP TABLE stage_unmapped ON COMMIT DROP AS
           SELECT DISTINCT source, source_id, term FROM stage_postings, unnest(unmapped_terms) AS term"""
    )
    cur.execute("ANALYZE stage_replaced; ANALYZE stage_technologies; ANALYZE stage_unmapped")
    cur.execute(
        """DELETE FROM jobreqs.posting_technologies t USING stage_replaced r
           WHERE t.source = r.source AND t.source_id = r.source_id
             AND NOT EXISTS (SELECT 1 FROM stage_technologies d WHERE d.source = t.source
                             AND d.source_id = t.source_id AND d.technology = t.technology
                             AND d.taxonomy_version IS NOT DISTINCT FROM t.taxonomy_version
                             AND d.classifier_version IS NOT DISTINCT FROM t.classifier_version)"""
    )
    cur.execute(
        """INSERT INTO jobreqs.posting_technologies (source, source_id, technology, taxonomy_version, classifier_version)
           SELECT d.source, d.source_id, d.technology, d.taxonomy_version, d.classifier_version FROM stage_technologies d
           WHERE NOT EXISTS (SELECT 1 FROM jobreqs.posting_technologies t WHERE t.source = d.source
                             AND t.source_id = d.source_id AND t.technology = d.technology)
           ON CONFLICT DO NOTHING"""
    )
    state.technologies += cur.rowcount
    # An unmapped term's first_seen is its posting's (possibly merged) date.
    cur.execute(
        """DELETE FROM jobreqs.unmapped_terms u USING stage_replaced r, jobreqs.postings p
           WHERE u.source = r.source AND u.source_id = r.source_id
             AND p.source = r.source AND p.source_id = r.source_id
             AND (u.first_seen <> p.posting_date
                  OR NOT EXISTS (SELECT 1 FROM stage_unmapped d WHERE d.source = u.source
                                 AND d.source_id = u.source_id AND d.term = u.term))"""
    )
    cur.execute(
        """UPDATE jobreqs.unmapped_terms u SET first_seen = p.posting_date
           FROM (SELECT DISTINCT source, source_id FROM stage_postings WHERE new_in_load) n, jobreqs.postings p
           WHERE u.source = n.source AND u.source_id = n.source_id
             AND p.source = n.source AND p.source_id = n.source_id AND u.first_seen <> p.posting_date"""
    )
    cur.execute(
        """INSERT INTO jobreqs.unmapped_terms (term, source, source_id, first_seen)
           SELECT d.term, d.source, d.source_id, p.posting_date
           FROM stage_unmapped d JOIN jobreqs.postings p ON p.source = d.source AND p.source_id = d.source_id
           WHERE NOT EXISTS (SELECT 1 FROM jobreqs.unmapped_terms u WHERE u.term = d.term
                             AND u.source = d.source AND u.source_id = d.source_id)
           ON CONFLICT DO NOTHING"""
    )
    state.unmapped += cur.rowcount


def load_postings(conn: psycopg.Connection, records: Iterable[dict], batch_records: int = BATCH_RECORDS) -> dict:
    """Upsert ``records`` (finished posting dicts) into the warehouse; return row counts:
    ``records`` read, ``postings_upserted`` (distinct postings), ``keywords_added``,
    ``posting_technologies`` and ``unmapped_terms`` (rows inserted), ``postings_staged`` (those
    merged rather than COPYed straight in) and ``kept_previous_technologies``."""
    state = _Load()
    with conn.transaction(), conn.cursor() as cur:
        # SHARE ROW EXCLUSIVE conflicts with itself and with writers, not with readers.
        cur.execute("LOCK TABLE jobreqs.postings IN SHARE ROW EXCLUSIVE MODE")
        # Left by an earlier load in the same (still open) transaction of the caller's.
        cur.execute("DROP TABLE IF EXISTS pg_temp.stage_postings, pg_temp.stage_replaced, "
                    "pg_temp.stage_technologies, pg_temp.stage_unmapped")
        cur.execute(
            "CREATE TEMP TABLE stage_postings (ord bigint, has_extraction boolean, new_in_load boolean, "
            + ", ".join(f"{n} {t}" for n, t in _POSTING_COLUMNS + _EXTRA_COLUMNS)
            + ") ON COMMIT DROP"
        )
        for batch in _batches(records, batch_records):
            _load_batch(cur, batch, state)
        if state.dates:
            # Publish redoes the marts of these dates (transforms.marts.update_marts).
            cur.execute(_MARK_PENDING.format(dates="SELECT DISTINCT unnest(%s::text[])::date"), (sorted(state.dates),))
        if state.staged_last:
            _merge(cur, state)
    stats = {"records": state.records, "postings_upserted": len(state.keys), "keywords_added": state.keywords,
             "posting_technologies": state.technologies, "unmapped_terms": state.unmapped,
             "postings_staged": len(state.staged_last),
             "kept_previous_technologies": len(state.without_extraction), "sightings_added": state.sightings}
    log.info("loaded %s", json.dumps(stats))
    return stats
