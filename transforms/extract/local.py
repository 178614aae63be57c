"""The ``local`` extractor: an Aho-Corasick scan for every matchable alias of the taxonomy, with
context rules for names that are also ordinary words ("Go", "R", "Spark", "Excel").

Free, offline and deterministic. The text is lowercased and its separators turned into spaces
*without changing its length* (:func:`transforms.taxonomy.normalise_text`), and every alias is
stored as `` alias `` with a space on each side, so a key can only match whole tokens and a
match's offsets are offsets in the original text.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Any

import ahocorasick

from transforms.taxonomy import Taxonomy, load_taxonomy, normalise_term, normalise_text


@dataclass(frozen=True, slots=True)
class Match:
    """One technology found in a text: its canonical name, the surface as written, and its span."""

    technology: str
    surface: str
    start: int
    end: int


@dataclass
class _Rule:
    cased: bool
    lower_near_tech: bool
    exact_case: frozenset[str]
    reject_before: re.Pattern[str] | None
    reject_after: re.Pattern[str] | None
    cues: tuple[str, ...]
    tech_near: bool

    @property
    def independent(self) -> bool:
        """True when the rule decides from the match alone (case, neighbours), not from context."""
        return not (self.tech_near or self.cues or self.lower_near_tech)


def _compile_rule(rule: dict[str, Any]) -> _Rule:
    return _Rule(
        cased=bool(rule.get("cased", False)),
        lower_near_tech=bool(rule.get("lower_near_tech", False)),
        exact_case=frozenset(rule.get("exact_case") or ()),
        reject_before=re.compile(rule["reject_before"], re.I) if rule.get("reject_before") else None,
        reject_after=re.compile(rule["reject_after"], re.I) if rule.get("reject_after") else None,
        cues=tuple(f" {normalise_term(str(c))} " for c in rule.get("cues") or ()),
        tech_near=bool(rule.get("tech_near", False)),
    )


class LocalExtractor:
    """Finds technologies in text with one pass of an Aho-Corasick automaton over the taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.window = taxonomy.window
        self._automaton = ahocorasick.Automaton()
        for alias, technology in taxonomy.local_aliases.items():
            self._automaton.add_word(f" {alias} ", (alias, technology))
        self._automaton.make_automaton()
        self._rules = {alias: _compile_rule(rule) for alias, rule in taxonomy.ambiguous.items()}

    def find(self, text: str) -> list[Match]:
        """Every technology mention in ``text``, in text order, longest match first where two
        overlap ("apache kafka" over "kafka", "spring boot" over "spring"); ambiguous names only
        where their context rule accepts them."""
        if not text:
            return []
        padded = f" {normalise_text(text)} "
        # (start, end) in text coordinates: the key's padding spaces sit at start-1 and end.
        candidates = []
        for end_index, (alias, technology) in self._automaton.iter(padded):
            # key " alias " ends at end_index in padded text, which is the text shifted by one
            start = end_index - len(alias) - 1
            candidates.append((start, start + len(alias), alias, technology))
        if not candidates:
            return []
        chosen = _longest_non_overlapping(candidates)
        # First the matches that need no context ("firm"), then those whose rule looks around them.
        rules = self._rules
        accepted = [True] * len(chosen)
        firm = []
        for i, (s, e, alias, _) in enumerate(chosen):
            rule = rules.get(alias)
            if rule is None or (rule.independent and self._accept(rule, text, padded, s, e, firm)):
                firm.append((s, e))
            elif rule.independent:
                accepted[i] = False
        out = []
        for i, (start, end, alias, technology) in enumerate(chosen):
            rule = rules.get(alias)
            if not accepted[i] or (rule is not None and not rule.independent
                                   and not self._accept(rule, text, padded, start, end, firm)):
                continue
            if start > 1 and text[start] == " " and text[start - 1] == ".":  # ". NET" artefact
                start -= 1
            out.append(Match(technology, text[start:end], start, end))
        return out

    def extract(self, text: str) -> list[str]:
        """The surfaces of :meth:`find`, in text order (the "raw terms" of the stage)."""
        return [m.surface for m in self.find(text)]

    def _accept(self, rule: _Rule, text: str, padded: str, start: int, end: int, firm) -> bool:
        surface = text[start:end]
        lo, hi = max(0, start - self.window), end + self.window
        near = _near(firm, start, end, lo, hi)
        lowercase = surface == surface.lower()
        if lowercase and rule.lower_near_tech:
            if not near:
                return False
        elif rule.exact_case and surface not in rule.exact_case:
            return False
        elif rule.cased and lowercase:
            return False
        if rule.reject_after and rule.reject_after.search(text[end:end + 40]):
            return False
        if rule.reject_before and rule.reject_before.search(text[max(0, start - 40):start]):
            return False
        if not rule.cues and not rule.tech_near:
            return True
        if rule.tech_near and near:
            return True
        if rule.cues:
            # padded is text shifted by one: the window [lo, hi) of text is padded[lo : hi + 2]
            around = padded[lo:start + 1] + " " + padded[end + 1:hi + 2]
            return any(cue in around for cue in rule.cues)
        return False


def _near(firm: list[tuple[int, int]], start: int, end: int, lo: int, hi: int) -> bool:
    """Whether a firm match other than (start, end) overlaps [lo, hi). ``firm`` is in text order
    and its spans do not overlap, so their ends rise with their starts: the last one starting
    before ``hi`` (the match itself skipped) decides, found by bisection (a long text has many)."""
    j = bisect.bisect_left(firm, (hi,)) - 1
    while j >= 0 and firm[j] == (start, end):
        j -= 1
    return j >= 0 and firm[j][1] > lo


def _longest_non_overlapping(candidates: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """Of overlapping matches keep the longest (ties: the earlier one), in text order. One sweep:
    a candidate that overlaps the last kept one replaces it only when longer."""
    if len(candidates) == 1:
        return candidates
    candidates.sort(key=lambda c: (c[0], c[0] - c[1]))
    taken: list[tuple[int, int, str, str]] = []
    for cand in candidates:
        if taken and cand[0] < taken[-1][1]:
            last = taken[-1]
            if cand[1] - cand[0] > last[1] - last[0]:
                taken[-1] = cand
            continue
        taken.append(cand)
    return taken


@functools.lru_cache(maxsize=2)
def _extractor_for(version: str, taxonomy_id: int) -> LocalExtractor:
    return LocalExtractor(load_taxonomy())


def local_extractor(taxonomy: Taxonomy | None = None) -> LocalExtractor:
    """The extractor for ``taxonomy`` (default: the committed one), built once per process."""
    if taxonomy is not None:
        return LocalExtractor(taxonomy)
    tax = load_taxonomy()
    return _extractor_for(tax.version, id(tax))
