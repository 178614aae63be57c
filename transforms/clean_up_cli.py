"""``jobreqs promote-term``: promote a reviewed unmapped term into the taxonomy.

    jobreqs promote-term "fastify" --new --category "framework or library"
    jobreqs promote-term "pg" --to postgresql --no-match
    jobreqs promote-term "fastify" --new --category "framework or library" --sync

The term is written to ``models/taxonomy/curated/promoted.yml`` (kept by every rebuild of the
taxonomy) and into the committed ``models/taxonomy/taxonomy.json`` at once (no rebuild, no shared
data needed); commit both. ``--match`` (default) lets the local extractor look for the term in
text too; ``--no-match`` only maps it when a backend returns it (use that for common words).
``--sync`` also updates the warehouse's technology tables and removes the term from the review
queue (``jobreqs.unmapped_terms``); postings already loaded get it when their date is re-run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import yaml

from transforms.taxonomy import TAXONOMY_DIR, normalise_term, taxonomy_path

CATEGORIES = ["language", "framework or library", "database", "cloud platform or service", "tool",
              "operating system", "protocol or format", "hardware architecture", "application"]
PROMOTED = TAXONOMY_DIR / "curated" / "promoted.yml"


def promote(term: str, to: str | None = None, category: str | None = None, match: bool = True,
            taxonomy_file: Path | None = None, promoted_file: Path | None = None) -> dict[str, str]:
    """Add ``term`` as an alias of the technology ``to``, or (``to`` None) as a new technology of
    ``category``. Raises ValueError if the term is empty, already mapped, or the target unknown."""
    taxonomy_file = taxonomy_file or taxonomy_path()
    promoted_file = promoted_file or PROMOTED
    key = normalise_term(term)
    if not key:
        raise ValueError("the term is empty after normalisation")
    doc = json.loads(taxonomy_file.read_text(encoding="utf-8"))
    techs = {t["name"]: t for t in doc["technologies"]}
    owners = {normalise_term(a): t["name"] for t in doc["technologies"] for a in [t["name"], *t["aliases"]]}
    if key in owners:
        raise ValueError(f"{term!r} already maps to {owners[key]!r}")
    promoted = yaml.safe_load(promoted_file.read_text(encoding="utf-8")) if promoted_file.exists() else None
    promoted = promoted or {}
    if to is not None:
        target = owners.get(normalise_term(to))
        if target is None:
            raise ValueError(f"no technology {to!r} in the taxonomy")
        tech = techs[target]
        tech["aliases"] = sorted({*tech["aliases"], term.lower()})
        promoted.setdefault("aliases", []).append([term.lower(), target])
        result = {"term": term, "action": "alias", "technology": target}
    else:
        if category not in CATEGORIES:
            raise ValueError(f"a new technology needs --category, one of {CATEGORIES}")
        name = term.strip().lower()
        tech = {"name": name, "category": category, "sources": ["promoted"], "aliases": [], "match": []}
        doc["technologies"].append(tech)
        doc["technologies"].sort(key=lambda t: t["name"])
        promoted.setdefault("technologies", []).append([name, category])
        result = {"term": term, "action": "new", "technology": name, "category": category}
    if match:
        tech["match"] = sorted({*tech["match"], key})
    else:
        promoted.setdefault("not_matched", []).append(key)
    doc["version"] = ""
    doc["version"] = "tax-" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]
    _write_atomic(promoted_file, "# Terms promoted from review by `jobreqs promote-term`.\n"
                  + yaml.safe_dump(promoted, sort_keys=False, allow_unicode=True))
    _write_atomic(taxonomy_file, json.dumps(doc, indent=0, ensure_ascii=False) + "\n")
    result["taxonomy_version"] = doc["version"]
    return result


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("term", help="the reviewed term, as it appears in unmapped_terms")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="TECHNOLOGY", help="add the term as an alias of this technology")
    target.add_argument("--new", action="store_true", help="add the term as a new technology")
    parser.add_argument("--category", choices=CATEGORIES, help="category of a new technology")
    parser.add_argument("--no-match", dest="match", action="store_false",
                        help="do not let the local extractor look for the term in text (common words)")
    parser.add_argument("--sync", action="store_true", help="also update the warehouse and its review queue")


def run(args: argparse.Namespace) -> int:
    try:
        result = promote(args.term, to=args.to, category=args.category, match=args.match)
    except ValueError as exc:
        print(f"jobreqs promote-term: {exc}", file=sys.stderr)
        return 2
    if args.sync:
        from jobreqs.warehouse import connect
        from transforms.taxonomy_sync import sync_taxonomy

        result["sync"] = sync_taxonomy()
        with connect() as conn:
            cur = conn.execute("DELETE FROM jobreqs.unmapped_terms WHERE term = %s", (normalise_term(args.term),))
            result["review_rows_cleared"] = cur.rowcount
    print(json.dumps(result))
    return 0
