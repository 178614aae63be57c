"""Build ``models/taxonomy/taxonomy.json`` from O*NET, GitHub Linguist and the curated data.

    python -m models.taxonomy.build_taxonomy            # reads the project's data/ folder

Reproducible: the same inputs give the same file (sorted, no timestamps). Sources, in priority
order (the first to claim an alias keeps it):
1. ``curated/technologies.yml``: hand-kept canonical names, categories and aliases, then
   ``curated/families.yml``: products grouped under a parent (Azure Key Vault -> Azure), then
   ``promoted.yml`` (written by ``jobreqs promote-term``);
2. AWS's service catalogue (``data/aws/services.tsv``, from botocore, Apache-2.0): every "Amazon ..."
   or "AWS ..." service not curated yet becomes a product with parent ``aws``;
3. GitHub Linguist ``languages.yml`` (MIT): programming and markup languages with their aliases;
4. O*NET "Technology Skills" (CC BY 4.0): named software products, with the vendor name stripped
   into an extra alias for well-known vendors.
A technology's ``parent`` (absent for most) is what it rolls up to; the build checks that every
parent is a technology and that no chain of parents loops.
Aliases from 2 and 3 go to the local matcher only when they are distinctive (contain a word that
is rare in English, by ``wordfreq``, a build-time dependency only), so "Pure" or "Client System"
never match ordinary prose; they still map terms an LLM returns. Entries that a removal rule
covers (e.g. O*NET's "NoSQL", "AJAX", "Web browser software") are left out.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from jobreqs.config import SOURCE_DATA_DIR
from transforms.taxonomy import TAXONOMY_DIR, normalise_term

CURATED_DIR = TAXONOMY_DIR / "curated"

#: O*NET commodity titles -> the taxonomy's categories (default: application).
ONET_CATEGORIES = {
    "Operating system software": "operating system",
    "Data base management system software": "database",
    "Object oriented data base management software": "database",
    "Development environment software": "tool",
    "Program testing software": "tool",
    "Configuration management software": "tool",
    "File versioning software": "tool",
    "Compiler and decompiler software": "tool",
    "Network monitoring software": "tool",
    "Object or component oriented development software": "framework or library",
    "Web platform development software": "framework or library",
    "Graphical user interface development software": "framework or library",
    "Cloud-based data access and sharing software": "cloud platform or service",
    "Cloud-based management software": "cloud platform or service",
    "Cloud-based protocol and security software": "cloud platform or service",
    "Platform interconnectivity software": "tool",
    "Enterprise application integration software": "tool",
    "Application server software": "application",
}
#: Vendor prefixes stripped from O*NET names to make an extra alias ("Autodesk Maya" -> "maya").
VENDORS = [
    "microsoft", "adobe", "autodesk", "ibm", "oracle", "sap", "google", "apple", "atlassian", "amazon",
    "apache", "the mathworks", "mathworks", "corel", "intuit", "salesforce", "cisco", "red hat", "vmware",
    "hashicorp", "jetbrains", "sas institute", "esri", "dassault systemes", "bentley systems", "bentley",
    "siemens", "hp", "hewlett packard", "hewlett-packard", "dell", "citrix", "symantec", "mcafee",
    "trimble", "ptc", "ansys", "national instruments", "ni", "tableau", "qlik", "sage", "epic systems",
    "meta", "facebook", "mozilla", "the apache software foundation", "elastic", "mongodb", "docker",
    "micro focus", "broadcom", "ca", "infor", "kronos", "workday", "servicenow", "splunk", "unity technologies",
]
RARE_ZIPF = 2.6   # a word rarer than this in English is distinctive enough to match on its own


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency  # build-time only

    return zipf_frequency(word, "en")


def distinctive(alias: str) -> bool:
    """True when the alias carries a word that is rare in English (so matching it in prose is safe)."""
    words = [w for w in alias.split() if re.search(r"[a-z]", w)]
    if not words or len(alias) < 3:
        return False
    return any(len(w) >= 3 and _zipf(w) < RARE_ZIPF for w in words)


def is_generic_onet(name: str) -> bool:
    """O*NET lists generic kinds ("Cost estimating software") beside products: a multi-word name
    whose words after the first are all lowercase, with no inner capitals or digits, is generic."""
    words = name.split()
    if len(words) < 2:
        return False
    plain_rest = all(w == w.lower() for w in words[1:])
    first_plain = not any(c.isupper() or c.isdigit() for c in words[0][1:])
    return plain_rest and first_plain


class Builder:
    """Accumulates technologies; the first source to claim an alias keeps it."""

    def __init__(self, removal_terms: set[str], removal_patterns: list[re.Pattern[str]]) -> None:
        self.techs: dict[str, dict] = {}
        self.alias_owner: dict[str, str] = {}
        self.removal_terms = removal_terms
        self.removal_patterns = removal_patterns
        self.skipped: Counter[str] = Counter()

    def removed(self, key: str) -> bool:
        return key in self.removal_terms or any(p.fullmatch(key) for p in self.removal_patterns)

    def owner(self, alias: str) -> str | None:
        return self.alias_owner.get(normalise_term(alias))

    def add(self, name: str, category: str, source: str, parent: str | None = None) -> dict:
        tech = self.techs.setdefault(name, {"name": name, "category": category, "sources": [], "aliases": [], "match": []})
        if source not in tech["sources"]:
            tech["sources"].append(source)
        if parent:
            tech["parent"] = parent
        self.add_alias(name, name, match=None)
        return tech

    def add_alias(self, name: str, alias: str, match: bool | None) -> None:
        """Give ``alias`` to ``name`` unless another technology has it; ``match``: also let the
        local matcher look for it (None: only if it is the technology's own name and curated)."""
        key = normalise_term(alias)
        if not key:
            return
        owner = self.alias_owner.setdefault(key, name)
        if owner != name:
            self.skipped["alias claimed by another technology"] += 1
            return
        tech = self.techs[name]
        if key != normalise_term(name) and key not in (normalise_term(a) for a in tech["aliases"]):
            tech["aliases"].append(alias.lower())
        if match and key not in tech["match"]:
            tech["match"].append(key)


def variants(alias: str) -> list[str]:
    """Spelling variants of a curated alias: "x.js" also as "xjs" and "x js"."""
    out = [alias]
    if alias.endswith(".js"):
        out += [alias[:-3] + "js", alias[:-3] + " js"]
    return out


#: Marks a family product's bare name ("~key vault"): matched only near the family's parent.
BARE = "~"


def _add_rows(builder: Builder, rows: list, source: str, no_match: set[str], parent: str | None = None,
              bare_cues: dict[str, str] | None = None) -> None:
    """Curated rows ``[name, category, alias, ...]``; a ``~alias`` goes to ``bare_cues`` (alias -> parent)."""
    for row in rows:
        name, category, *aliases = [str(x) for x in row]
        builder.add(name, category, source, parent)
        for alias in [name, *aliases]:
            if alias.startswith(BARE):
                alias = alias[len(BARE):]
                if bare_cues is not None and parent:
                    bare_cues[normalise_term(alias)] = parent
            for v in variants(alias):
                builder.add_alias(name, v, match=normalise_term(v) not in no_match)


def load_curated(builder: Builder, rules: dict) -> dict[str, str]:
    """Load the curated files; return the bare family names (normalised alias -> parent) that need
    their parent named nearby to match."""
    bare: dict[str, str] = {}
    data = yaml.safe_load((CURATED_DIR / "technologies.yml").read_text(encoding="utf-8")) or {}
    _add_rows(builder, data.get("technologies") or [], "curated",
              {normalise_term(str(a)) for a in data.get("not_matched") or []})
    families = yaml.safe_load((CURATED_DIR / "families.yml").read_text(encoding="utf-8")) or {}
    for family in families.get("families") or []:
        _add_rows(builder, family["products"], "curated", set(), family.get("parent"), bare)
    promoted = CURATED_DIR / "promoted.yml"
    if promoted.exists():
        data = yaml.safe_load(promoted.read_text(encoding="utf-8")) or {}
        no_match = {normalise_term(str(a)) for a in data.get("not_matched") or []}
        _add_rows(builder, data.get("technologies") or [], "promoted", no_match)
        for alias, name in data.get("aliases") or []:  # promoted aliases of existing technologies
            builder.add_alias(str(name), str(alias), match=normalise_term(str(alias)) not in no_match)
    return bare


_AWS_PREFIX = re.compile(r"^(Amazon|AWS) \S")
_TRAILING_VERSION = re.compile(r"\s+(?:v\d+|\d)$", re.I)  # "Macie 2", "SES V2"; not "Route 53"


def aws_service_names(row: dict[str, str]) -> list[str]:
    """The product names of one botocore service, preferred first: the abbreviation when it is a
    name ("Amazon S3"), then the full name ("Amazon Simple Storage Service"), without a trailing
    parenthesis or version ("... (SSM)", "... V2"); "... Service" also without that word."""
    names: list[str] = []
    for raw in (row["abbreviation"], row["full_name"]):
        name = _TRAILING_VERSION.sub("", re.sub(r"\s*\(.*?\)\s*$", "", raw.strip()))
        if _AWS_PREFIX.match(name) and name not in names:
            names.append(name)
    for name in list(names):
        if name.endswith(" Service") and len(name.split()) > 2:
            names.append(name[: -len(" Service")])
    return names


def load_aws_catalogue(builder: Builder, path: Path) -> dict[str, dict]:
    """Every AWS service of the catalogue: an alias of the curated product when one of its names is
    taken already, else a new product (parent ``aws``) under its preferred name. The names carry
    the "Amazon"/"AWS" prefix, so the local matcher looks for all of them; a name whose other words
    are all ordinary English ("AWS Account", "AWS Support") only as AWS writes it. Returns those
    context rules (normalised alias -> rule)."""
    rules: dict[str, dict] = {}
    if not path.exists():
        builder.skipped["aws catalogue: file missing"] += 1
        return rules
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))
    for row in rows:
        names = aws_service_names(row)
        if not names:
            builder.skipped["aws catalogue: no Amazon/AWS name"] += 1
            continue
        owner = next((builder.owner(n) for n in names if builder.owner(n)), None)
        new = owner is None
        if new:
            owner = names[0].lower()
            builder.add(owner, "cloud platform or service", "aws-catalogue", parent="aws")
        elif "aws-catalogue" not in builder.techs[owner]["sources"]:
            builder.techs[owner]["sources"].append("aws-catalogue")
        for name in names:
            builder.add_alias(owner, name, match=True)
            key = normalise_term(name)
            if new and builder.owner(name) == owner and not distinctive(key.split(" ", 1)[1]):
                rules[key] = {"exact_case": [name], "tech_near": False}
    return rules


def load_linguist(builder: Builder, path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for lang, info in sorted(data.items()):
        if info.get("type") not in {"programming", "markup"}:
            continue
        names = [lang, *info.get("aliases", [])]
        owner = next((builder.owner(n) for n in names if builder.owner(n)), None)
        name = owner or lang.lower()
        if builder.removed(normalise_term(name)):
            builder.skipped["linguist: removal rule"] += 1
            continue
        if owner is None:
            builder.add(name, "language", "linguist")
        else:
            builder.techs[owner]["sources"].append("linguist") if "linguist" not in builder.techs[owner]["sources"] else None
        for n in names:
            builder.add_alias(name, n, match=owner is None and distinctive(normalise_term(n)))


def strip_vendor(name: str) -> str | None:
    low = name.lower()
    for vendor in sorted(VENDORS, key=len, reverse=True):
        if low.startswith(vendor + " ") and len(low) > len(vendor) + 1:
            return name[len(vendor) + 1:]
    return None


def load_onet(builder: Builder, path: Path) -> None:
    commodity: dict[str, Counter] = defaultdict(Counter)
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            commodity[row["Example"].strip()][row["Commodity Title"].strip()] += 1
    for example in sorted(commodity):
        if is_generic_onet(example):
            builder.skipped["onet: generic kind of software"] += 1
            continue
        stripped = strip_vendor(example)
        forms = [example] + ([stripped] if stripped else [])
        owner = next((builder.owner(f) for f in forms if builder.owner(f)), None)
        if owner is not None:  # a curated/linguist technology: O*NET only adds its spelling
            builder.add_alias(owner, example, match=distinctive(normalise_term(example)) and len(example.split()) > 1)
            if "onet" not in builder.techs[owner]["sources"]:
                builder.techs[owner]["sources"].append("onet")
            continue
        words = normalise_term(example).split()
        if len(words) > 1 and all(builder.owner(w) for w in words):
            builder.skipped["onet: compound of known technologies"] += 1  # "React Redux": two entries
            continue
        if any(builder.removed(normalise_term(f)) for f in forms):
            builder.skipped["onet: removal rule"] += 1
            continue
        name = example.lower()
        category = ONET_CATEGORIES.get(commodity[example].most_common(1)[0][0], "application")
        builder.add(name, category, "onet")
        builder.add_alias(name, example, match=distinctive(normalise_term(example)))
        if stripped and not builder.removed(normalise_term(stripped)):
            builder.add_alias(name, stripped, match=distinctive(normalise_term(stripped)))


def check_parents(techs: dict[str, dict]) -> None:
    """Every parent must be a technology, and no chain of parents may loop."""
    for name, tech in techs.items():
        seen = [name]
        parent = tech.get("parent")
        while parent:
            if parent not in techs:
                raise ValueError(f"technology {name!r}: parent {parent!r} is not a technology")
            if parent in seen:
                raise ValueError(f"parents loop: {' -> '.join([*seen, parent])}")
            seen.append(parent)
            parent = techs[parent].get("parent")


def build(shared: Path) -> dict:
    """The taxonomy document (plain data) built from ``shared`` and the curated files."""
    removal = yaml.safe_load((CURATED_DIR / "removal_rules.yml").read_text(encoding="utf-8"))
    context = yaml.safe_load((CURATED_DIR / "context_rules.yml").read_text(encoding="utf-8"))
    builder = Builder({normalise_term(t) for t in removal["terms"]}, [re.compile(p) for p in removal["patterns"]])
    bare = load_curated(builder, context)
    aws_rules = load_aws_catalogue(builder, shared / "aws" / "services.tsv")
    load_linguist(builder, shared / "linguist" / "languages.yml")
    load_onet(builder, shared / "onet" / "technology_skills.txt")
    check_parents(builder.techs)

    # Context rules: every curated ambiguous alias gets its own rule or the default one; any other
    # very short curated alias (one or two letters: "js", "ts") is ambiguous by default too.
    ambiguous: dict[str, dict] = {}
    default = context["default"]
    for alias, rule in (context.get("rules") or {}).items():
        ambiguous[normalise_term(str(alias))] = dict(rule or default)
    for tech in builder.techs.values():
        for key in tech["match"]:
            if len(key) <= 2 and key.isalpha() and key not in ambiguous:
                ambiguous[key] = dict(default)
    for key, rule in aws_rules.items():
        ambiguous.setdefault(key, rule)
    # A family's bare product name ("Service Bus") needs a capital and its parent named nearby.
    for key, parent in bare.items():
        if key not in ambiguous:
            cues = [parent, *(a for a in builder.techs[parent]["aliases"] if len(a) > 2)]
            ambiguous[key] = {"cased": True, "cues": sorted({normalise_term(c) for c in cues}), "tech_near": False}
    # A rule of {cased: false} and nothing else is "always accept": no need to keep it.
    ambiguous = {k: v for k, v in ambiguous.items() if v != {"cased": False}}

    techs = sorted(builder.techs.values(), key=lambda t: t["name"])
    for t in techs:
        t["aliases"] = sorted(set(t["aliases"]))
        t["match"] = sorted(set(t["match"]))
        t["sources"] = sorted(set(t["sources"]))
    doc = {
        "version": "",
        "attribution": (TAXONOMY_DIR / "ATTRIBUTION.md").name,
        "window": int(context.get("window", 120)),
        "technologies": techs,
        "ambiguous": dict(sorted(ambiguous.items())),
        "removal": {"terms": sorted(set(removal["terms"])), "patterns": removal["patterns"]},
        "build_notes": {k: v for k, v in sorted(builder.skipped.items())},
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]
    doc["version"] = f"tax-{digest}"
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None, help="source data folder (default: the project's data/)")
    parser.add_argument("--out", type=Path, default=TAXONOMY_DIR / "taxonomy.json")
    args = parser.parse_args(argv)
    doc = build(args.shared or SOURCE_DATA_DIR)
    args.out.write_text(json.dumps(doc, indent=0, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    cats = Counter(t["category"] for t in doc["technologies"])
    print(f"{len(doc['technologies'])} technologies ({dict(cats)}), "
          f"{sum(len(t['aliases']) for t in doc['technologies'])} aliases, "
          f"{sum(len(t['match']) for t in doc['technologies'])} matchable, "
          f"{len(doc['ambiguous'])} context rules; version {doc['version']} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
