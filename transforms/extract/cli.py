"""``jobreqs extract``: JSON Lines ``{"id", "text"}`` on stdin -> ``{"id", "technologies"}`` on stdout.

    echo '{"id": "1", "text": "Python and PostgreSQL on AWS"}' | jobreqs extract
    jobreqs extract --backend openai --mode live < postings.jsonl

Technologies are canonical names (extract + clean-up). A line that is not a JSON object with a
string "text" is reported on stderr with its line number and skipped; the exit code is then 1.
A posting whose extraction failed prints ``"technologies": null`` with its "extraction_error"
and "extraction_error_kind" (exit code 1 too). The openai backend stops sending at
``--max-usd`` / ``--max-tokens`` (the daily DAG's defaults).
The openai backend reads the ``openai_default`` connection and caches in the warehouse
(``--no-warehouse-cache`` keeps the cache in memory for this run only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from transforms.clean_up import clean_up_postings
from transforms.extract.stage import extract_postings, last_run_stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["local", "openai"], default="local")
    parser.add_argument("--mode", choices=["live", "batch"], default="live", help="openai: live calls or the Batch API")
    parser.add_argument("--model", default=None, help="openai model (default: the prompt's)")
    parser.add_argument("--prompt-version", default=None, help="openai prompt version (default: extract-v1)")
    parser.add_argument("--batch-key", default=None, help="openai batch mode: key that lets a re-run resume its batch")
    parser.add_argument("--no-warehouse-cache", action="store_true", help="openai: cache in memory only")
    parser.add_argument("--max-usd", type=float, default=None, help="openai: most dollars to spend (default 5)")
    parser.add_argument("--max-tokens", type=int, default=None, help="openai: most tokens to use (default 10M)")
    parser.add_argument("--details", action="store_true", help="also print raw_terms and unmapped_terms")
    parser.add_argument("--stats", action="store_true", help="print the run's token/cost statistics on stderr")


def read_requests(stream: TextIO, errors: list[str]) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError('expected an object with a string "text"')
        except ValueError as exc:
            errors.append(f"line {n}: {exc}")
            print(f"jobreqs extract: line {n} skipped: {exc}", file=sys.stderr)
            continue
        yield {"source": "stdin", "source_id": row.get("id", n), "kept_text": row["text"]}


def reserve_stdout() -> TextIO:
    """A private handle on the real stdout for the JSON Lines, with fd 1 and ``sys.stdout`` then
    pointed at stderr: Airflow's logging (set up when a connection is read) writes to stdout and
    must not mix log lines into the output."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def run(args: argparse.Namespace) -> int:
    stdout = reserve_stdout()
    options: dict[str, Any] = {}
    if args.backend == "openai":
        options["mode"] = args.mode
        if args.model:
            options["model"] = args.model
        if args.prompt_version:
            options["prompt_version"] = args.prompt_version
        if args.batch_key:
            options["batch_key"] = args.batch_key
        from jobreqs.pipeline import extraction_limits

        options["limits"] = extraction_limits({"openai_max_usd_per_run": args.max_usd,
                                               "openai_max_tokens_per_run": args.max_tokens})
        if args.no_warehouse_cache:
            from transforms.extract.openai_backend import MemoryCache

            options["cache"] = MemoryCache()
    errors: list[str] = []
    records = clean_up_postings(extract_postings(read_requests(sys.stdin, errors), backend=args.backend, **options))
    failed = 0
    for r in records:
        out = {"id": r["source_id"], "technologies": r.get("technologies")}
        if r.get("extraction_error"):
            failed += 1
            out.update(extraction_error=r["extraction_error"], extraction_error_kind=r.get("extraction_error_kind"))
        if args.details:
            out.update(raw_terms=r["raw_terms"], unmapped_terms=r.get("unmapped_terms"))
            if "rejected_terms" in r:
                out["rejected_terms"] = r["rejected_terms"]
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()
    if args.stats:
        print(json.dumps(last_run_stats()), file=sys.stderr)
    return 1 if errors or failed else 0
