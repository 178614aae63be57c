"""Benchmark of the warehouse load (issue 14): ``transforms.load.load_postings`` against a plain
COPY of the same rows into the same tables, side by side in one run.

    python -m benchmarks.bench_load [--postings 50000] [--day 2026-11-20]

Records: ``--postings`` finished posting records shaped as the clean-up stage writes them to the
lake (JSON values: dates as ISO strings), their descriptions the real-length ones the Indeed
sandbox serves for ``--day`` (``scrapers.indeed.sandbox.load_day``, four end to end), each with
a unique id, 1-2
search keywords, 3-9 technologies and 0-2 unmapped terms. On a throw-away database (the Postgres
at ``JOBREQS_BENCH_PG``, else an embedded one) with the migrations applied (same indexes,
same foreign keys), it times:

1. plain COPY: the rows straight into postings, posting_keywords, posting_technologies and
   unmapped_terms (empty tables), the floor any load is held to;
2. load (first): ``load_postings`` into the emptied tables;
3. re-load: ``load_postings`` of the same records again (a re-run of the day);
4. plain COPY again (emptied tables), to see the noise; the baseline is the mean of 1 and 4.

Each step reads the records from the same JSON-lines file (written beforehand, untimed) and
commits; a CHECKPOINT runs before each so no
step pays for another's dirty pages. The load's rows are checked to equal the plain COPY's
(every column but ``loaded_at``). Goal: load and re-load each at >= 0.8x the plain COPY's rate.
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Iterator

import psycopg
from psycopg import sql

from benchmarks.bench_marts import throwaway_database
from benchmarks.figures import figure

GOAL = 0.8
TECHNOLOGIES = ["python", "sql", "spark", "kafka", "airflow", "dbt", "aws", "tableau", "go", "rust",
                "postgresql", "docker", "kubernetes", "terraform", "snowflake", "excel", "power bi",
                "java", "scala", "pandas", "azure", "gcp", "looker", "redshift", "databricks"]
KEYWORDS = ["data engineer", "data scientist", "analytics engineer", "machine learning engineer"]


def _texts(day: dt.date) -> list[tuple[str, str]]:
    """(title, description text) of the sandbox's postings for ``day``."""
    from scrapers.indeed.sandbox import load_day
    from transforms.text import html_to_text

    out = []
    for p in load_day(day)["postings"]:
        text = html_to_text(p.get("description_html") or "")
        if len(text) > 200:  # leave out the sandbox's deliberately broken ones
            out.append((p["title"], text))
    return out


def records(n: int, day: dt.date, seed: int = 7) -> Iterator[dict]:
    """``n`` finished posting records as the lake holds them (a generator: nothing is kept)."""
    rng = random.Random(seed)
    texts = _texts(day)
    for i in range(n):
        # Four of the sandbox's descriptions end to end: real-length text (2-3 KB), each different.
        title = texts[i % len(texts)][0]
        text = "\n\n".join(texts[(i + j * 7) % len(texts)][1] for j in range(4)) + f"\n\nReference {i}."
        kept = "\n\n".join(p for j, p in enumerate(text.split("\n\n")) if j % 3 == 0)
        source = "upwork" if i % 5 == 0 else "indeed"
        salary = {"salary_min": 90000.0, "salary_max": 120000.0 + i % 7 * 1000, "salary_period": "year",
                  "salary_currency": "USD", "salary_is_estimate": bool(i % 2)} if i % 3 == 0 else {}
        yield {
            "source": source, "source_id": f"{source[0]}{i:09d}", "url": f"https://example.com/job/{i}",
            "title": title, "company": f"Company {i % 997}", "location": "Remote", "is_remote": True,
            "posted_at": f"{day.isoformat()}T{i % 24:02d}:{i % 60:02d}:00+00:00", "posting_date": day.isoformat(),
            **salary, "job_types": ["Full-time"], "skills": [] if source == "indeed" else ["Python", "SQL"],
            "description_text": text, "content_hash": f"{i:064x}", "kept_text": kept,
            "kept_ratio": round(len(kept) / len(text), 4), "tokens_before": len(text) // 4,
            "tokens_after": len(kept) // 4, "classifier_version": "bench-1", "extraction_backend": "local",
            "keywords": rng.sample(KEYWORDS, rng.choice((1, 1, 2))), "search_location": "Remote",
            "technologies": sorted(rng.sample(TECHNOLOGIES, rng.randint(3, 9))),
            "unmapped_terms": [f"term{rng.randint(0, 400)}" for _ in range(rng.choice((0, 0, 1, 2)))],
        }


_POSTING_COLUMNS = ["source", "source_id", "url", "title", "company", "location", "is_remote", "posted_at",
                    "posting_date", "salary_min", "salary_max", "salary_period", "salary_currency",
                    "salary_is_estimate", "job_types", "skills", "description_text", "content_hash", "kept_text",
                    "kept_ratio", "tokens_before", "tokens_after", "classifier_version", "extraction_backend"]


def plain_copy(conn: psycopg.Connection, rows: Iterator[dict]) -> int:
    """The floor: each table's rows COPYed straight in, one COPY per table, nothing merged (a real
    load cannot: it does not know which keys are new). One pass over the records: postings stream
    into their COPY while the narrow rows of the three other tables wait in memory."""
    keywords, technologies, unmapped = [], [], []
    n = 0
    with conn.cursor() as cur:
        with cur.copy(f"COPY jobreqs.postings ({', '.join(_POSTING_COLUMNS)}) FROM STDIN") as copy:
            for n, r in enumerate(rows, start=1):
                copy.write_row([r.get(c) if c not in ("job_types", "skills") else (r.get(c) or []) for c in _POSTING_COLUMNS])
                key = (r["source"], r["source_id"])
                keywords += [(*key, k, r.get("search_location") or "") for k in sorted(set(r["keywords"]))]
                technologies += [(*key, t) for t in sorted(set(r["technologies"]))]
                unmapped += [(t, *key, r["posting_date"]) for t in sorted(set(r["unmapped_terms"]))]
        for table, columns, data in (
            ("posting_keywords", "source, source_id, keyword, search_location", keywords),
            ("posting_technologies", "source, source_id, technology", technologies),
            ("unmapped_terms", "term, source, source_id, first_seen", unmapped),
        ):
            with cur.copy(f"COPY jobreqs.{table} ({columns}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
    conn.commit()
    return n


TABLES = {
    "postings": "source, source_id",
    "posting_keywords": "source, source_id, keyword, search_location",
    "posting_technologies": "source, source_id, technology",
    "unmapped_terms": "source, source_id, term",
}


def fingerprint(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Rows and an md5 of every table's contents (all columns but loaded_at), in key order."""
    out = {}
    for table, key in TABLES.items():
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'jobreqs' AND table_name = %s "
            "AND column_name <> 'loaded_at' ORDER BY ordinal_position", (table,))]
        row = conn.execute(sql.SQL("SELECT count(*), md5(string_agg(row({cols})::text, '|' ORDER BY {key})) FROM {t}").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)), key=sql.SQL(key),
            t=sql.Identifier("jobreqs", table))).fetchone()
        out[table] = (row[0], row[1])
    conn.commit()
    return out


def _empty(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE jobreqs.postings CASCADE")
    conn.commit()


def _timed(conn: psycopg.Connection, step) -> float:
    conn.execute("CHECKPOINT")
    conn.commit()
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def run(conninfo: str, n: int, day: dt.date) -> dict:
    from transforms.load import load_postings

    # Both sides read the same JSON lines from a file (as the load reads the lake), untimed to write.
    handle = tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8")
    size = 0
    for r in records(n, day):
        line = json.dumps(r) + "\n"
        size += len(line.encode())
        handle.write(line)
    handle.flush()

    def rows() -> Iterator[dict]:
        with open(handle.name, encoding="utf-8") as lines:
            yield from map(json.loads, lines)

    figures: dict = {"postings": n, "record_kb": size / n / 1000}
    with handle, psycopg.connect(conninfo) as conn:
        figures["copy_1"] = _timed(conn, lambda: plain_copy(conn, rows()))
        expected = fingerprint(conn)
        _empty(conn)
        stats: dict = {}
        figures["load_first"] = _timed(conn, lambda: stats.update(first=load_postings(conn, rows())))
        figures["same_rows_first"] = fingerprint(conn) == expected
        figures["load_again"] = _timed(conn, lambda: stats.update(again=load_postings(conn, rows())))
        figures["same_rows_again"] = fingerprint(conn) == expected
        _empty(conn)
        figures["copy_2"] = _timed(conn, lambda: plain_copy(conn, rows()))
    figures["copy"] = (figures["copy_1"] + figures["copy_2"]) / 2
    figures["ratio_first"] = figures["copy"] / figures["load_first"]
    figures["ratio_again"] = figures["copy"] / figures["load_again"]
    figures["stats"] = stats
    figures["rows"] = expected
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_load")
    parser.add_argument("--postings", type=int, default=50_000)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 20))
    args = parser.parse_args(argv)

    with throwaway_database() as conninfo:
        f = run(conninfo, args.postings, args.day)
    n = f["postings"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (both sides share the machine alike)")
    print(f"{n} postings, {f['record_kb']:.1f} KB per record as JSON; rows per table: "
          + ", ".join(f"{t} {c}" for t, (c, _) in f["rows"].items()))
    print(f"plain COPY (4 tables)     {f['copy_1']:6.2f}s and {f['copy_2']:6.2f}s  -> {n / f['copy']:8.0f} postings/s (mean)")
    for key, label in (("first", "load (first)"), ("again", "re-load (same day)")):
        t = f[f"load_{key}"]
        print(f"{label:25s} {t:6.2f}s                -> {n / t:8.0f} postings/s = {f[f'ratio_{key}']:.2f}x plain COPY "
              f"(goal >= {GOAL}x: {'met' if f[f'ratio_{key}'] >= GOAL else 'NOT met'}); "
              f"rows identical to the COPY's: {f[f'same_rows_{key}']}")
    for key, label in (("first", "first load"), ("again", "re-load of the same day")):
        figure(f"warehouse load vs plain COPY, {label} ({n:,} postings)", round(f[f"ratio_{key}"], 2), "x",
               f">= {GOAL}x, same rows", f[f"ratio_{key}"] >= GOAL and f[f"same_rows_{key}"])
    print(f"load stats (first): {json.dumps(f['stats']['first'])}")
    print(f"load stats (again): {json.dumps(f['stats']['again'])}")
    return f


if __name__ == "__main__":
    main()
