"""``jobreqs indeed-parse FILE...``: what the parser extracts from saved Indeed pages.

Prints JSON Lines on stdout: one line per card of a search page, one line for the posting of a
job page, or one line with the quarantine reason of a page that cannot be used. Exit code 0 when
every file parsed, 1 when at least one was quarantined, 2 when a file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scrapers.indeed.parsing import (
    PageError,
    block_reason,
    decode_body,
    page_kind,
    parse_job_page,
    parse_search_page,
    view_job_url,
)
from scrapers.indeed.settings import INDEED_BASE_URL as DEFAULT_BASE_URL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="saved search or job page (HTML)")
    parser.add_argument("--kind", choices=["auto", "search", "job"], default="auto",
                        help="page kind (default: recognised from the page)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="site the page came from (for job URLs)")
    parser.add_argument("--url", help="the page's URL (for a job page: gives the job key)")
    parser.add_argument("--with-html", action="store_true", help="also print description_html (long)")


def parse_file(path: Path, kind: str = "auto", base_url: str = DEFAULT_BASE_URL, url: str | None = None,
               with_html: bool = False) -> list[dict]:
    """The records ``indeed-parse`` prints for one saved page."""
    body = path.read_bytes()
    try:
        text = decode_body(body)
        blocked = block_reason(text)
        if blocked:
            raise PageError(blocked)
        kind = page_kind(text) if kind == "auto" else kind
        if kind == "search":
            page = parse_search_page(text, base_url)
            records = [{"file": str(path), "kind": "card", "source": page.source, "total": page.total, **card}
                       for card in page.cards]
            records += [{"file": str(path), "kind": "skipped_card", "reason": reason} for reason in page.skipped]
            if not records:
                records = [{"file": str(path), "kind": "search", "source": page.source, "total": page.total, "cards": 0}]
            return records
        if kind == "job":
            posting = parse_job_page(text, url or "")
            if not url:  # a saved file: the URL follows from the job key the page embeds
                posting["url"] = view_job_url(base_url, posting["job_key"]) if posting.get("job_key") else None
            if not with_html:
                posting.pop("description_html", None)
            return [{"file": str(path), "kind": "posting", **posting}]
        raise PageError("neither a search page nor a job page (no card model, DOM cards, _initialData, JSON-LD or #jobDescriptionText)")
    except PageError as exc:
        return [{"file": str(path), "kind": "quarantine", "reason": exc.reason}]
    except (RecursionError, ValueError, TypeError) as exc:  # a page that breaks the parser itself
        return [{"file": str(path), "kind": "quarantine", "reason": f"parser error: {type(exc).__name__}: {str(exc)[:200]}"}]


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            records = parse_file(path, args.kind, args.base_url, args.url, args.with_html)
        except OSError as exc:
            print(f"indeed-parse: cannot read {path}: {exc}", file=sys.stderr)
            status = 2
            continue
        for record in records:
            if record["kind"] == "quarantine":
                status = max(status, 1)
            print(json.dumps(record, ensure_ascii=False, default=_json_default))
    return status
