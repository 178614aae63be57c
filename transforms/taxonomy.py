"""The technology taxonomy the extract and clean-up stages use at run time.

The data is committed in ``models/taxonomy/taxonomy.json`` (built by
``models/taxonomy/build_taxonomy.py`` from O*NET, GitHub Linguist, AWS's service catalogue and
curated additions), so a run never reads ``../shared``. :func:`load_taxonomy` reads it once per
process.

Technologies form a hierarchy: a product may have a ``parent`` (Azure Key Vault -> Azure, Excel ->
Microsoft Office). Extraction reports the most specific name the text supports;
:meth:`Taxonomy.roll_up` and :meth:`Taxonomy.top` give the parents for roll-up figures.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobreqs.config import PROJECT_ROOT

TAXONOMY_DIR = PROJECT_ROOT / "models" / "taxonomy"
TAXONOMY_FILE = TAXONOMY_DIR / "taxonomy.json"

# Characters that belong to a technology token: letters, digits, '+' (c++), '#' (c#) and '.'
# when a letter or digit follows it (.net, node.js, vue.js). Everything else separates tokens
# (one regex pass, replaced by a space each, so the length never changes).
_SEPARATOR = re.compile(r"[^\w+#.]|_|\.(?![0-9a-z])")
# Tokenisation artefacts and spellings that the separators would otherwise break up; each
# replacement keeps the length so that spans in the normalised text are spans in the original.
_SAME_LENGTH_FIXES = [
    (". net", re.compile(r"(?<![0-9a-z])\. (net)(?![0-9a-z])"), lambda m: " ." + m.group(1)),  # ". NET"
    ("*nix", re.compile(r"\*nix"), lambda m: "unix"),  # *nix reads as unix
]
_SPACES = re.compile(r"\s+")


def lower_same_length(text: str) -> str:
    """``text.lower()``, except characters whose lowercase has another length stay as they are."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _unicode_normalise(text: str) -> str:
    out = lower_same_length(text)
    for needle, pattern, repl in _SAME_LENGTH_FIXES:
        if needle in out:  # cheap test first: the fixes are rare
            out = pattern.sub(repl, out)
    return _SEPARATOR.sub(" ", out)


# The fast path of normalise_text: bytes.translate with a 256-entry table that lowercases ASCII
# letters and turns every other byte but digits, '+', '#', '.' into a space (10x a regex pass).
_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c in b"+#.") else 32)
    for c in range(256)
)
_BYTES_FIXES = [(b". net", re.compile(rb"(?<![0-9a-z])\. (net)(?![0-9a-z])"), rb" .\1"), (b"*nix", re.compile(rb"\*nix"), b"unix")]
_BYTES_DOT = re.compile(rb"\.(?![0-9a-z])")


def normalise_text(text: str) -> str:
    """Lowercase ``text`` and turn every separator into a space, keeping its length (so offsets
    in the result are offsets in ``text``). Used on whole postings, so it is the fast path:
    characters outside ASCII count as separators (technology names are ASCII; an alias with
    another character is still mapped by clean-up, but the local matcher does not look for it)."""
    data = text.encode("ascii", "replace").lower()  # one byte per code point: offsets unchanged
    for needle, pattern, repl in _BYTES_FIXES:
        if needle in data:
            data = pattern.sub(repl, data)
    data = data.translate(_TABLE)
    if b"." in data:
        data = _BYTES_DOT.sub(b" ", data)
    return data.decode("ascii")


def normalise_term(term: str) -> str:
    """The lookup key of a term or alias: NFKC, lowercase, separators as single spaces."""
    term = unicodedata.normalize("NFKC", term)
    return _SPACES.sub(" ", _unicode_normalise(term)).strip()


@dataclass(frozen=True)
class Taxonomy:
    """Canonical technologies, their aliases, and the rules around them (plain data)."""

    version: str
    categories: dict[str, str]                # canonical name -> category
    aliases: dict[str, str]                   # normalised alias -> canonical name (clean-up)
    local_aliases: dict[str, str]             # normalised alias -> canonical (local matcher)
    ambiguous: dict[str, dict[str, Any]]      # normalised alias -> context rule
    window: int
    removal_terms: frozenset[str]
    removal_patterns: tuple[re.Pattern[str], ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)  # canonical name -> its parent's

    def ancestors(self, name: str) -> list[str]:
        """The parent of ``name``, its parent, and so on (empty for a technology without one)."""
        chain = []
        parent = self.parents.get(name)
        while parent and parent not in chain:  # the build refuses loops; the guard keeps this finite
            chain.append(parent)
            parent = self.parents.get(parent)
        return chain

    def top(self, name: str) -> str:
        """The last ancestor of ``name`` (``name`` itself when it has no parent)."""
        chain = self.ancestors(name)
        return chain[-1] if chain else name

    def roll_up(self, names) -> set[str]:
        """``names`` with every ancestor added, each once: Azure Key Vault also counts for Azure."""
        return {n for name in names for n in (name, *self.ancestors(name))}

    def canonical(self, term: str) -> str | None:
        """The canonical name of ``term`` if the taxonomy knows it, else None."""
        return self.aliases.get(normalise_term(term))

    def is_removed(self, term: str) -> bool:
        """True when ``term`` is a generic non-technology (a removal rule matches it whole)."""
        key = normalise_term(term)
        if key in self.removal_terms:
            return True
        return any(p.fullmatch(key) for p in self.removal_patterns)


def taxonomy_path() -> Path:
    """Where the taxonomy is read from (``JOBREQS_TAXONOMY`` overrides, for tests)."""
    return Path(os.environ.get("JOBREQS_TAXONOMY") or TAXONOMY_FILE)


def taxonomy_from_data(data: dict[str, Any]) -> Taxonomy:
    """Build the lookup tables from the JSON document the build script writes."""
    categories: dict[str, str] = {}
    parents: dict[str, str] = {}
    aliases: dict[str, str] = {}
    local: dict[str, str] = {}
    for tech in data["technologies"]:
        name = tech["name"]
        categories[name] = tech["category"]
        if tech.get("parent"):
            parents[name] = tech["parent"]
        for alias in [name, *tech.get("aliases", [])]:
            aliases.setdefault(normalise_term(alias), name)
        # "match": the aliases distinctive enough for the local matcher to look for in text.
        for alias in tech.get("match", []):
            local.setdefault(normalise_term(alias), name)
    removal = data["removal"]
    rules = {normalise_term(k): v for k, v in data["ambiguous"].items()}
    return Taxonomy(
        version=data["version"],
        categories=categories,
        aliases=aliases,
        local_aliases=local,
        ambiguous=rules,
        window=int(data.get("window", 120)),
        removal_terms=frozenset(normalise_term(t) for t in removal["terms"]),
        removal_patterns=tuple(re.compile(p) for p in removal["patterns"]),
        raw=data,
        parents=parents,
    )


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Taxonomy:
    with open(path, encoding="utf-8") as f:
        return taxonomy_from_data(json.load(f))


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """The taxonomy, read once per process (re-read if the file changed, e.g. after promote-term)."""
    p = Path(path) if path else taxonomy_path()
    if not p.exists():
        raise FileNotFoundError(f"taxonomy data not found at {p}: run models/taxonomy/build_taxonomy.py")
    return _load(str(p), p.stat().st_mtime)
