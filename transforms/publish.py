"""publish: the day's warehouse rows as curated Parquet in the lake.

``curated/postings/dt=D/postings.parquet`` and ``curated/posting_technologies/dt=D/...parquet``
hold the postings first found on D and their technologies. Rows stream from a server-side cursor
into the Parquet writer in row groups, so memory stays flat however large the day.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from jobreqs import lake

BATCH_ROWS = 10_000

POSTINGS_SCHEMA = pa.schema([
    ("source", pa.string()), ("source_id", pa.string()), ("url", pa.string()), ("title", pa.string()),
    ("company", pa.string()), ("location", pa.string()), ("is_remote", pa.bool_()),
    ("posted_at", pa.timestamp("us", tz="UTC")), ("posting_date", pa.date32()),
    ("salary_min", pa.float64()), ("salary_max", pa.float64()), ("salary_period", pa.string()),
    ("salary_currency", pa.string()), ("salary_is_estimate", pa.bool_()),
    ("job_types", pa.list_(pa.string())), ("skills", pa.list_(pa.string())),
    ("keywords", pa.list_(pa.string())), ("technologies", pa.list_(pa.string())),
    ("kept_ratio", pa.float32()), ("tokens_before", pa.int32()), ("tokens_after", pa.int32()),
    ("classifier_version", pa.string()), ("extraction_backend", pa.string()),
    ("content_hash", pa.string()), ("description_text", pa.string()),
])

TECHNOLOGIES_SCHEMA = pa.schema([
    ("source", pa.string()), ("source_id", pa.string()), ("posting_date", pa.date32()),
    ("technology", pa.string()), ("category", pa.string()),
])

_POSTINGS_SQL = """
SELECT p.source, p.source_id, p.url, p.title, p.company, p.location, p.is_remote, p.posted_at,
       p.posting_date, p.salary_min::float8, p.salary_max::float8, p.salary_period,
       p.salary_currency, p.salary_is_estimate, p.job_types, p.skills,
       ARRAY(SELECT DISTINCT k.keyword FROM jobreqs.posting_keywords k
             WHERE k.source = p.source AND k.source_id = p.source_id ORDER BY 1),
       ARRAY(SELECT t.technology FROM jobreqs.posting_technologies t
             WHERE t.source = p.source AND t.source_id = p.source_id ORDER BY 1),
       p.kept_ratio, p.tokens_before, p.tokens_after, p.classifier_version, p.extraction_backend,
       p.content_hash, p.description_text
FROM jobreqs.postings p WHERE p.posting_date = %s ORDER BY p.source, p.source_id
"""

_TECHNOLOGIES_SQL = """
SELECT t.source, t.source_id, p.posting_date, t.technology, coalesce(c.category, 'unknown')
FROM jobreqs.posting_technologies t
JOIN jobreqs.postings p USING (source, source_id)
LEFT JOIN jobreqs.technologies c ON c.name = t.technology
WHERE p.posting_date = %s ORDER BY 1, 2, 4
"""


def _write_query(conn: psycopg.Connection, query: str, day: dt.date, schema: pa.Schema, target) -> int:
    """Stream a query's rows into a Parquet file at ``target`` (atomically); return the row count."""
    rows = 0
    with (
        lake.atomic_writer(target) as handle,
        pq.ParquetWriter(handle, schema) as writer,
        conn.cursor(name=f"publish_{target.name.split('.')[0]}") as cur,
    ):
        cur.itersize = BATCH_ROWS
        cur.execute(query, (day,))
        while batch := cur.fetchmany(BATCH_ROWS):
            columns = list(zip(*batch))
            writer.write_table(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema)],
                                                    schema=schema))
            rows += len(batch)
    return rows


def publish_day(conn: psycopg.Connection, root, day: dt.date) -> dict:
    """Write the curated Parquet files of ``day``; return their paths and row counts."""
    postings_path = lake.partition(root, "curated", "postings", day) / "postings.parquet"
    techs_path = lake.partition(root, "curated", "posting_technologies", day) / "posting_technologies.parquet"
    with conn.transaction():
        postings = _write_query(conn, _POSTINGS_SQL, day, POSTINGS_SCHEMA, postings_path)
        techs = _write_query(conn, _TECHNOLOGIES_SQL, day, TECHNOLOGIES_SCHEMA, techs_path)
    return {
        "curated_postings": postings,
        "curated_posting_technologies": techs,
        "files": [str(postings_path), str(techs_path)],
    }
