"""Clean-up: every raw term through the taxonomy, one canonical name per technology per posting.

For each raw term, in order:
1. an alias (or canonical name) of the taxonomy -> its canonical name;
2. a removal rule (generic skill, practice or concept) -> dropped and counted, never published;
3. a compound ("c#/.net", "react-redux", "python, java and go") -> split, each part through 1-2;
4. otherwise -> ``unmapped_terms``: kept for review with the posting, never published as canonical.
Versions and decorations are tried off before giving up ("python 3.11", "java se v.8+", "kubernetes )").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from transforms.taxonomy import Taxonomy, load_taxonomy, normalise_term

_SPLIT = re.compile(r"\s*(?:/|,|;|\||&| and | or | \+ |\s-\s)\s*")
_VERSION_TAIL = re.compile(r"(?:\s+(?:version\s+|v\.?\s*)?\d[\d.x+]*)+$")
_DECORATION = re.compile(
    r"\s+(?:framework|library|libraries|programming|language|development|developer|technologies|technology|"
    r"platform|stack|environment|ecosystem|certification|engineer|server|services|database|db|ide|api|sdk|os)$"
)
_PREFIX = re.compile(r"^(?:apache|the|core|modern|advanced|basic)\s+")


class TermMapper:
    """Maps raw terms to canonical names with the taxonomy's aliases and rules (memoised)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._memo: dict[str, tuple[tuple[str, ...], str]] = {}

    def map(self, term: str) -> tuple[tuple[str, ...], str]:
        """(canonical names, outcome) for one raw term; outcome is "mapped", "removed" or "unmapped"."""
        hit = self._memo.get(term)
        if hit is None:
            hit = self._map(term)
            if len(self._memo) < 200_000:
                self._memo[term] = hit
        return hit

    def _single(self, key: str) -> tuple[str | None, bool]:
        """(canonical, removed) for one normalised key, trying versions/decorations off."""
        aliases = self.taxonomy.aliases
        seen = set()
        candidates = [key]
        while candidates:
            k = candidates.pop(0)
            if not k or k in seen:
                continue
            seen.add(k)
            if k in aliases:
                return aliases[k], False
            for pattern in (_VERSION_TAIL, _DECORATION, _PREFIX):
                stripped = pattern.sub("", k).strip()
                if stripped != k:
                    candidates.append(stripped)
        return None, self.taxonomy.is_removed(key)

    def _map(self, term: str) -> tuple[tuple[str, ...], str]:
        key = normalise_term(term)
        if not key:
            return (), "removed"
        canonical, removed = self._single(key)
        if canonical:
            return (canonical,), "mapped"
        if removed:
            return (), "removed"
        # Compounds: split on separators in the *raw* term (normalisation turned them into spaces).
        parts = [p for p in _SPLIT.split(term.strip().lower()) if p.strip()]
        if len(parts) == 1 and "-" in term:
            parts = [p for p in term.lower().split("-") if p.strip()]
        if len(parts) > 1:
            names: list[str] = []
            for part in parts:
                c, r = self._single(normalise_term(part))
                if c:
                    names.append(c)
                elif not r:
                    return (), "unmapped"  # one unknown part: review the whole term
            return (tuple(dict.fromkeys(names)), "mapped") if names else ((), "removed")
        return (), "unmapped"


_mapper_cache: dict[str, TermMapper] = {}


def term_mapper(taxonomy: Taxonomy | None = None) -> TermMapper:
    """The mapper for ``taxonomy`` (default: the committed one), one per taxonomy version."""
    tax = taxonomy or load_taxonomy()
    mapper = _mapper_cache.get(tax.version)
    if mapper is None or mapper.taxonomy is not tax:
        mapper = _mapper_cache[tax.version] = TermMapper(tax)
    return mapper


def clean_terms(raw_terms: Iterable[str], mapper: TermMapper | None = None) -> tuple[list[str], list[str], int]:
    """(sorted unique canonical names, sorted unique unmapped terms, number of removed terms)."""
    mapper = mapper or term_mapper()
    technologies: set[str] = set()
    unmapped: set[str] = set()
    removed = 0
    for term in raw_terms:
        if not isinstance(term, str):
            continue
        names, outcome = mapper.map(term)
        if outcome == "mapped":
            technologies.update(names)
        elif outcome == "removed":
            removed += 1
        else:
            unmapped.add(normalise_term(term))
    return sorted(technologies), sorted(unmapped), removed


def clean_up_postings(records: Iterable[dict[str, Any]], stats: Counter | None = None,
                      taxonomy: Taxonomy | None = None) -> Iterator[dict[str, Any]]:
    """Yield each record with "technologies" (sorted unique canonical names) and
    "unmapped_terms" (normalised raw terms the taxonomy does not know and no rule removes) added.

    Streams; ``stats`` (optional Counter) receives postings / technologies / removed / unmapped counts.
    A record whose extraction failed ("extraction_error") passes through without "technologies":
    it has no result to publish, and load keeps what the posting had (counted as
    ``extraction_errors``).
    """
    mapper = term_mapper(taxonomy)
    for record in records:
        if record.get("extraction_error"):
            if stats is not None:
                stats["postings"] += 1
                stats["extraction_errors"] += 1
            yield {k: v for k, v in record.items() if k not in ("technologies", "unmapped_terms")}
            continue
        raw = record.get("raw_terms")
        if raw is None:
            raise ValueError(f"record {record.get('source')}:{record.get('source_id')} has no raw_terms: run extract first")
        techs, unmapped, removed = clean_terms(raw, mapper)
        if stats is not None:
            stats["postings"] += 1
            stats["technologies"] += len(techs)
            stats["removed_terms"] += removed
            stats["unmapped_terms"] += len(unmapped)
        # the taxonomy version travels with the result: load records it on each technology row
        yield {**record, "technologies": techs, "unmapped_terms": unmapped,
               "taxonomy_version": mapper.taxonomy.version}
