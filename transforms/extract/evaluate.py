"""``jobreqs eval-extract``: score an extraction backend on a gold file.

The gold is JSON Lines with "id", "text" and "techs" (sorted canonical names), like
``data/eval/skillspan_dev_techs.jsonl``. Each posting's predicted set (extract + clean-up)
is compared with its gold set; true positives, false positives and misses are summed over all
postings (micro-average) into precision, recall and F1. Prints the most frequent misses and false hits.

Two levels are scored: **product** (the names as extracted and as the gold gives them: "azure key
vault" is not "azure") and **parent** (every name on both sides replaced by the top of its family
in the taxonomy, each once: "azure key vault" and "azure" both become "azure").
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from jobreqs.config import SOURCE_DATA_DIR


def default_gold() -> Path:
    return SOURCE_DATA_DIR / "eval" / "skillspan_dev_techs.jsonl"


def read_gold(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                row = json.loads(line)
                if "text" not in row or "techs" not in row:
                    raise ValueError(f"{path}:{n}: a gold line needs 'text' and 'techs'")
                yield row


def score(pairs: Iterable[tuple[str, set[str], set[str]]], top: int = 15) -> dict[str, Any]:
    """Micro P/R/F1 over (id, predicted, gold) triples, with the most frequent errors."""
    tp = fp = fn = n = 0
    misses: Counter[str] = Counter()
    false_hits: Counter[str] = Counter()
    for _id, predicted, gold in pairs:
        n += 1
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
        misses.update(gold - predicted)
        false_hits.update(predicted - gold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "postings": n, "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
        "top_misses": misses.most_common(top), "top_false_hits": false_hits.most_common(top),
    }


def evaluate(gold_path: Path, backend: str = "local", **options: Any) -> dict[str, Any]:
    """Run extract + clean-up with ``backend`` over the gold texts and score them at the product
    level (the top-level keys) and at the parent level (``result["parent"]``)."""
    from transforms.clean_up import clean_up_postings
    from transforms.extract.stage import extract_postings
    from transforms.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    gold = {row["id"]: row for row in read_gold(gold_path)}
    records = ({"source": "eval", "source_id": gid, "kept_text": row["text"]} for gid, row in gold.items())
    cleaned = clean_up_postings(extract_postings(records, backend=backend, **options))
    pairs = [(r["source_id"], set(r["technologies"]), set(gold[r["source_id"]]["techs"])) for r in cleaned]
    result = score(pairs)
    result["parent"] = score((i, {taxonomy.top(t) for t in p}, {taxonomy.top(t) for t in g}) for i, p, g in pairs)
    result["backend"] = backend
    result["gold"] = str(gold_path)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gold", type=Path, default=None, help="gold JSON Lines (default: data/eval/skillspan_dev_techs.jsonl)")
    parser.add_argument("--backend", choices=["local", "openai"], default="local")
    parser.add_argument("--mode", choices=["live", "batch"], default="live", help="openai mode")
    parser.add_argument("--model", default=None, help="openai model (default: the prompt file's)")
    parser.add_argument("--no-warehouse-cache", action="store_true", help="openai: cache in memory only")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from transforms.extract.cli import reserve_stdout

    out = reserve_stdout()  # logs (Airflow's go to stdout) must not mix into the result
    options: dict[str, Any] = {}
    if args.backend == "openai":
        options["mode"] = args.mode
        if args.model:
            options["model"] = args.model
        if args.mode == "batch":
            options["batch_key"] = f"eval/{Path(args.gold or default_gold()).name}"
        if args.no_warehouse_cache:
            from transforms.extract.openai_backend import MemoryCache

            options["cache"] = MemoryCache()
    result = evaluate(args.gold or default_gold(), backend=args.backend, **options)
    if args.json:
        print(json.dumps(result, indent=2), file=out, flush=True)
        return 0
    say = functools.partial(print, file=out, flush=True)
    say(f"backend {result['backend']} on {result['gold']} ({result['postings']} postings)")
    for level, scores in (("product", result), ("parent", result["parent"])):
        say(f"{level:<8} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  F1 {scores['f1']:.3f}  "
            f"(tp {scores['true_positives']}, fp {scores['false_positives']}, fn {scores['false_negatives']})")
    say("most frequent misses:     " + ", ".join(f"{t} ({c})" for t, c in result["top_misses"]))
    say("most frequent false hits: " + ", ".join(f"{t} ({c})" for t, c in result["top_false_hits"]))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
