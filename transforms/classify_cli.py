"""``jobreqs classify``: keep the technology paragraphs of JSON Lines postings.

Reads ``{"id": ..., "text": ...}`` lines on standard input (``text`` is plain text or HTML) and
writes ``{"id", "kept_text", "kept_ratio", "model_version"}`` lines on standard output, in input
order, streaming in batches. A line that is not a JSON object with a string ``text`` is reported on
standard error with its line number and reason and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", default=None, help="classifier version (default: the current one)")
    parser.add_argument("--batch-size", type=int, default=256)


def _postings(lines: TextIO, errors: list[int]) -> Iterator[dict]:
    from transforms.paragraphs import to_text

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError('expected an object with a string "text"')
        except ValueError as exc:
            errors.append(number)
            print(json.dumps({"line": number, "error": str(exc)}), file=sys.stderr)
            continue
        yield {"id": record.get("id"), "description_text": to_text(record["text"])}


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from transforms.classify import classify_postings, load_model

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    model = load_model(args.version)
    errors: list[int] = []
    for result in classify_postings(_postings(stdin, errors), model=model, batch_size=args.batch_size):
        stdout.write(json.dumps({
            "id": result["id"],
            "kept_text": result["kept_text"],
            "kept_ratio": result["kept_ratio"],
            "model_version": result["classifier_version"],
        }, ensure_ascii=False) + "\n")
    if errors:
        log.error("%d input line(s) skipped: %s", len(errors), errors[:20])
        return 1
    return 0
