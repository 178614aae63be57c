"""The classifier's data recipe: rebuild the labelled paragraph set from shared, attributed sources.

Run ``python -m models.classifier.dataset`` (or let ``jobreqs train-classifier`` do it). The output,
``models/classifier/data/paragraphs.jsonl``, is deterministic: the same inputs give the same bytes
(its sha256 goes into the training metrics).

Recipe (see ``models/classifier/data/README.md`` for the figures):

1. **Paragraphs**: every sentence of the SkillSpan *train* split (``data/skillspan/json``)
   is one paragraph, as the sentences are the lines of the postings. The dev split is never read
   here: it holds the benchmark's gold, and the test split is not in the tree at all.
2. **Technology lexicon**: names from O*NET's Technology Skills table (each example, without a
   trailing "software", and without its vendor word when that vendor starts many examples, e.g.
   "Atlassian JIRA" gives "JIRA") and GitHub Linguist's programming/markup/data language names and
   aliases. Words that the SkillSpan text mostly writes in lower case ("word", "access", "go",
   "testing") are dropped as ordinary English.
3. **Label 1** when a SkillSpan *Knowledge* span of the sentence contains a lexicon term (any case)
   or looks like a product name (``PostgreSQL``, ``C++``, ``Node.js``), or when the local extractor
   finds a technology of the taxonomy in the sentence (``models/taxonomy``: O*NET's software of every
   occupation, Linguist's languages, the curated product families; this is what labels "MS Office",
   "Excel", "SAP" or "AutoCAD" sentences of non-software postings, which SkillSpan's annotators
   rarely marked), or when the sentence names a lexicon term outside any span with a capital letter,
   as names are written (company stack lines, job titles: "Senior Java Developer", "Javascript").
   **Label 0** otherwise.
4. **Held-out split**: 30% of the postings (grouped by posting, so that no posting's sentences sit
   on both sides), chosen by a seeded hash of the posting id. They are the held-out half of
   ``data/eval/multi_occupation.jsonl``.
5. **Extra positives for training only**: the O*NET examples flagged "Hot Technology" or
   "In Demand", each as a one-line paragraph (they teach product names the postings lack).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from jobreqs.config import SOURCE_DATA_DIR

#: Where the labelled set is written: ``$JOBREQS_CLASSIFIER_DATA`` (e.g. a writable volume for the
#: retraining DAG) or the committed ``models/classifier/data``.
DATA_DIR = Path(os.environ.get("JOBREQS_CLASSIFIER_DATA") or Path(__file__).resolve().parent / "data")
DATASET_PATH = DATA_DIR / "paragraphs.jsonl"
LEXICON_PATH = DATA_DIR / "lexicon.txt"
#: Share of the train postings held out (never trained on): threshold choice, the "beats the current
#: version" test, and the held-out half of data/eval/multi_occupation.jsonl.
HELDOUT_SHARE = 0.3
SEED = "jobreqs-classifier-v1"
MAX_NGRAM = 5

_VENDOR_MIN_EXAMPLES = 3
_SHAPE = re.compile(r"[a-z][A-Z]|[A-Za-z][+#]|\.(?:js|net|NET|io)\b|^\.[A-Za-z]")
# Generic knowledge that a lexicon word may still spell (O*NET lists categories such as "Testing
# software"); these never make a sentence technological on their own.
_GENERIC = {
    "software", "data", "cloud", "database", "databases", "api", "apis", "rest", "restful", "agile",
    "scrum", "devops", "testing", "programming", "web", "internet", "email", "e-mail", "computer",
    "computers", "it", "office", "microsoft", "google", "amazon", "apple", "ibm",
    "system", "systems", "network", "networks", "security", "design", "analytics", "machine learning",
    "phd", "saas", "iot", "iac", "elearning", "nosql", "ai", "ux", "cms", "ide",
}
# Ordinary words that product names also use, found by reading the sentences the first recipe
# labelled through them (job titles, benefits, lab work): checked by hand, not technologies here.
_ORDINARY = {
    "director", "manager", "fire", "analyze", "pro", "schedule", "notes", "lease", "kit", "dig", "flex",
    "scholar", "word", "charity", "prince", "ledger", "graphics", "encryption", "360", "asap", "designer",
    "programs", "resources", "intelligence", "conferencing", "fluent", "dna sequencing", "graphic design",
    "master", "curriculum", "pharmaceutical", "lean", "artificial intelligence", "engineer", "arts",
    "calm", "urban", "reduce", "pack", "index", "architect", "data warehouse", "velocity",
}


def read_skillspan(split: str, data_dir: Path | None = None) -> Iterator[dict]:
    """SkillSpan sentences of a split as dicts with ``posting`` (``{source}-{split}-{idx}``) added."""
    path = (data_dir or SOURCE_DATA_DIR) / "skillspan" / "json" / f"{split}.json"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            row["posting"] = f"{row['source']}-{split}-{row['idx']}"
            yield row


def _spans(tokens: list[str], tags: list[str]) -> list[list[str]]:
    spans: list[list[str]] = []
    for token, tag in zip(tokens, tags):
        if tag == "B" or (tag == "I" and not spans):
            spans.append([token])
        elif tag == "I":
            spans[-1].append(token)
    return spans


def _word_case_counts(rows: Iterable[dict]) -> tuple[Counter, Counter]:
    """Per lower-cased word: occurrences written in lower case, and written otherwise (not sentence-initial)."""
    lower, other = Counter(), Counter()
    for row in rows:
        if row["tokens"][-1] not in {".", "!", "?"}:  # prose only: tag lines write "java", "docker"
            continue
        for token in row["tokens"][1:]:
            (lower if token.islower() else other)[token.lower()] += 1
    return lower, other


def build_lexicon(data_dir: Path, rows: list[dict]) -> dict[str, str]:
    """Technology terms (space-joined tokens) mapped to their exact-case form."""
    lower, other = _word_case_counts(rows)

    def ordinary(word: str) -> bool:
        w = word.lower()
        return w in _GENERIC or w in _ORDINARY or (lower[w] >= 2 and lower[w] >= other[w])

    names: list[str] = []
    linguist: set[str] = set()
    with (data_dir / "onet" / "technology_skills.txt").open(encoding="utf-8") as f:
        examples = sorted({r["Example"].strip() for r in csv.DictReader(f, delimiter="\t")})
    firsts = Counter(e.split()[0] for e in examples if len(e.split()) > 1)
    for example in examples:
        name = re.sub(r"\s+software$", "", example)
        names.append(name)
        words = name.split()
        if len(words) > 1 and firsts[words[0]] >= _VENDOR_MIN_EXAMPLES and not words[1].islower():
            names.append(" ".join(words[1:]))
        if len(words) > 1 and re.fullmatch(r"[A-Z][A-Z0-9]+", words[-1]):  # "... Simple Storage Service S3"
            names.append(words[-1])
    languages = yaml.safe_load((data_dir / "linguist" / "languages.yml").read_text(encoding="utf-8"))
    for name, info in sorted(languages.items()):
        if info.get("type") in {"programming", "markup", "data"}:
            names.append(name)
            names.extend(a for a in info.get("aliases", []) if len(a) > 2)
            linguist.update([name, *info.get("aliases", [])])
    lexicon: dict[str, str] = {}
    for name in names:
        tokens = name.split()
        if not tokens or len(tokens) > MAX_NGRAM:
            continue
        if all(ordinary(t) for t in tokens) or name.lower() in _ORDINARY or (len(tokens) == 1 and len(name) < 2):
            continue
        if name == name.lower() and name not in linguist:  # "video editing": a category, not a product
            continue
        if re.fullmatch(r"[A-Z]{2,3}", name) and name not in linguist:  # UX, CMS, IDE: concepts, not products
            continue
        lexicon.setdefault(" ".join(tokens).lower(), " ".join(tokens))
    return lexicon


def _ngrams(tokens: list[str]) -> Iterator[str]:
    for n in range(1, MAX_NGRAM + 1):
        for i in range(len(tokens) - n + 1):
            yield " ".join(tokens[i:i + n])


def label_sentence(row: dict, lexicon: dict[str, str], exact: set[str], finder=None) -> tuple[int, str]:
    """(label, reason) of one SkillSpan sentence (recipe step 3); ``finder``: the local extractor
    of the technology taxonomy."""
    for span in _spans(row["tokens"], row["tags_knowledge"]):
        for gram in _ngrams(span):
            if gram.lower() in lexicon:
                return 1, f"knowledge:{gram}"
        for token in span:
            if _SHAPE.search(token) and token.lower() not in _GENERIC:
                return 1, f"knowledge-shape:{token}"
    if finder is not None:
        found = finder.find(" ".join(row["tokens"]))
        if found:
            return 1, f"taxonomy:{found[0].technology}"
    for gram in _ngrams(row["tokens"]):
        if gram in exact or (not gram.islower() and gram.lower() in lexicon):
            return 1, f"named:{gram}"
    return 0, "none"


def _heldout(posting: str) -> bool:
    digest = hashlib.sha256(f"{SEED}:{posting}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELDOUT_SHARE


def build_records(data_dir: Path | None = None) -> Iterator[dict]:
    """Every labelled paragraph of the recipe, in a fixed order."""
    from transforms.extract.local import local_extractor

    data_dir = data_dir or SOURCE_DATA_DIR
    rows = list(read_skillspan("train", data_dir))
    lexicon = build_lexicon(data_dir, rows)
    exact = set(lexicon.values())
    finder = local_extractor()
    for row in rows:
        label, reason = label_sentence(row, lexicon, exact, finder)
        yield {
            "text": " ".join(row["tokens"]),
            "label": label,
            "split": "heldout" if _heldout(row["posting"]) else "train",
            "source": f"skillspan-{row['source']}",
            "posting": row["posting"],
            "reason": reason,
        }
    with (data_dir / "onet" / "technology_skills.txt").open(encoding="utf-8") as f:
        hot = sorted({r["Example"].strip() for r in csv.DictReader(f, delimiter="\t")
                      if r["Hot Technology"] == "Y" or r["In Demand"] == "Y"})
    for example in hot:
        yield {"text": example, "label": 1, "split": "train", "source": "onet", "posting": None,
               "reason": "onet-hot-technology"}


def lexicon_names(data_dir: Path | None = None) -> list[str]:
    """The one-token technology names of the lexicon, lower case, as the model's tokeniser reads them."""
    from models.classifier.features import tokenise

    data_dir = data_dir or SOURCE_DATA_DIR
    lexicon = build_lexicon(data_dir, list(read_skillspan("train", data_dir)))
    names = set()
    for term in lexicon:
        tokens = tokenise(term)
        if len(tokens) == 1 and len(tokens[0]) > 1 and tokens[0].lower() not in _GENERIC:
            names.add(tokens[0])
    return sorted(names)


def build_dataset(out: Path = DATASET_PATH, data_dir: Path | None = None) -> dict:
    """Write the labelled set (and the lexicon beside it) and return its summary (size, balance, sha256)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / LEXICON_PATH.name).write_text("\n".join(lexicon_names(data_dir)) + "\n", encoding="utf-8")
    digest = hashlib.sha256()
    counts: Counter = Counter()
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in build_records(data_dir):
            line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
            f.write(line)
            digest.update(line.encode("utf-8"))
            counts[(record["split"], record["label"])] += 1
    tmp.replace(out)
    return {
        "path": str(out),
        "sha256": digest.hexdigest(),
        "size": sum(counts.values()),
        "train": {"positive": counts[("train", 1)], "negative": counts[("train", 0)]},
        "heldout": {"positive": counts[("heldout", 1)], "negative": counts[("heldout", 0)]},
    }


def file_sha256(path: Path = DATASET_PATH) -> str:
    """sha256 of the labelled set as it is on disk."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lexicon(path: Path = LEXICON_PATH) -> list[str]:
    """The lexicon names written by :func:`build_dataset`."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_dataset(path: Path = DATASET_PATH) -> list[dict]:
    """The labelled records (a few thousand short lines: small enough to hold for training)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rebuild the classifier's labelled paragraph set")
    parser.add_argument("--out", type=Path, default=DATASET_PATH)
    args = parser.parse_args(argv)
    print(json.dumps(build_dataset(args.out), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
