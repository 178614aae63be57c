"""Benchmark of the extract + clean-up stages: quality, speed, and the OpenAI cost comparison.

    python -m benchmarks.bench_extraction [--gold PATH] [--postings 20000]

1. Quality: ``jobreqs eval-extract`` of the local backend on the dev gold (micro P/R/F1), at the
   product level (names as the gold gives them) and at the parent level (each name replaced by the
   top of its family in the taxonomy: "azure key vault" -> "azure").
2. Speed: local extraction + clean-up, postings per second on one core (single process),
   over the gold postings' real text cycled to ``--postings`` records.
3. Cost, for 1,000 typical postings (the gold postings' real text cycled to 1,000), from token
   counts (offline estimate: transforms/extract/tokens.py) and the published prices in
   transforms/extract/prices.json:
   - this project, live and batch: system prompt + JSON schema + the *kept* text, output capped
     JSON. Kept text here is a proxy for the classifier's output: the lines of the posting in which
     the local extractor finds a technology (the classifier keeps whole paragraphs, so its texts
     are somewhat longer: the proxy is stated, not hidden);
   - the earlier system: the whole description + a short instruction + two few-shot examples
     (two whole gold postings with their answers), a Python-list reply with no output cap
     (estimated as the list plus a sentence of chatter), on gpt-3.5-turbo as it used, and on the
     same model as ours for a like-for-like view.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import time
from pathlib import Path

from benchmarks.figures import figure
from transforms.clean_up import clean_up_postings, term_mapper
from transforms.extract.evaluate import default_gold, evaluate, read_gold
from transforms.extract.local import local_extractor
from transforms.extract.openai_backend import cost_usd, load_prompt
from transforms.extract.stage import extract_postings
from transforms.extract.tokens import estimate_chat_tokens, estimate_tokens

OLD_INSTRUCTION = ("Extract all the technologies (programming languages, frameworks, tools, databases, cloud "
                   "services) mentioned in the job description below. Return them as a Python list of strings.")


def bench_speed(texts: list[str], n: int) -> dict[str, float]:
    records = [{"source": "indeed", "source_id": str(i), "kept_text": t}
               for i, t in zip(range(n), itertools.cycle(texts))]
    local_extractor(), term_mapper()  # build once, outside the timing (done once per process)
    best = 0.0
    for _ in range(3):
        gc.collect()
        start = time.process_time()
        count = sum(1 for _ in clean_up_postings(extract_postings(iter(records), backend="local")))
        elapsed = time.process_time() - start
        best = max(best, count / elapsed)
    chars = statistics.mean(len(r["kept_text"]) for r in records)
    return {"postings": n, "mean_chars": round(chars), "postings_per_s": round(best)}


def kept_proxy(text: str) -> str:
    """Lines of the text where the local extractor finds a technology (a classifier stand-in)."""
    ex = local_extractor()
    return "\n".join(line for line in text.split("\n") if ex.find(line))


def bench_cost(texts: list[str], examples: list[tuple[str, list[str]]], n: int = 1000) -> list[dict]:
    prompt = load_prompt()
    ex = local_extractor()
    rows = {"new": [0, 0], "old": [0, 0]}
    empty = 0
    for text in itertools.islice(itertools.cycle(texts), n):
        surfaces = list(dict.fromkeys(ex.extract(text)))
        kept = kept_proxy(text)
        if kept.strip():  # an empty kept text is never sent
            rows["new"][0] += estimate_chat_tokens(prompt.messages(kept), prompt.schema)
            rows["new"][1] += estimate_tokens(json.dumps({"technologies": surfaces})) + 2
        else:
            empty += 1
        few_shot = []
        for ex_text, ex_answer in examples:
            few_shot += [{"role": "user", "content": f"{OLD_INSTRUCTION}\n\n{ex_text}"},
                         {"role": "assistant", "content": repr(ex_answer)}]
        old_messages = few_shot + [{"role": "user", "content": f"{OLD_INSTRUCTION}\n\n{text}"}]
        rows["old"][0] += estimate_chat_tokens(old_messages)
        rows["old"][1] += estimate_tokens("Here are the technologies mentioned in the job description: " + repr(surfaces))
    model = prompt.model
    out = [
        {"path": f"this project, live ({model})", "tokens_in": rows["new"][0], "tokens_out": rows["new"][1],
         "usd": cost_usd(model, *rows["new"])},
        {"path": f"this project, batch ({model})", "tokens_in": rows["new"][0], "tokens_out": rows["new"][1],
         "usd": cost_usd(model, *rows["new"], batch=True)},
        {"path": "earlier system (gpt-3.5-turbo, whole text, 2-shot)", "tokens_in": rows["old"][0],
         "tokens_out": rows["old"][1], "usd": cost_usd("gpt-3.5-turbo", *rows["old"])},
        {"path": f"earlier prompt on {model} (like for like)", "tokens_in": rows["old"][0],
         "tokens_out": rows["old"][1], "usd": cost_usd(model, *rows["old"])},
    ]
    out[0]["note"] = f"{empty} of {n} postings have no technology line and are not sent"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=None)
    parser.add_argument("--postings", type=int, default=20_000)
    args = parser.parse_args(argv)
    gold_path = args.gold or default_gold()
    gold = list(read_gold(gold_path))
    texts = [g["text"] for g in gold]

    q = evaluate(gold_path, backend="local")
    print(f"QUALITY  local extractor on {gold_path.name} ({q['postings']} postings)")
    for level, scores in (("product", q), ("parent", q["parent"])):
        print(f"         {level:<8} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
              f"F1 {scores['f1']:.3f}")
    print(f"         misses: {q['top_misses'][:8]}")
    print(f"         false hits: {q['top_false_hits'][:8]}")

    s = bench_speed(texts, args.postings)
    print(f"SPEED    local extract + clean-up, one core: {s['postings_per_s']:,} postings/s "
          f"({s['postings']:,} whole descriptions of {s['mean_chars']:,} characters on average)")
    figure("local extract + clean-up speed", s["postings_per_s"], "postings/s (one core)", ">= 2,000",
           s["postings_per_s"] >= 2000)
    kept = [k for k in (kept_proxy(t) for t in texts) if k]
    s = bench_speed(kept, args.postings)
    print(f"         on kept-text proxies (technology lines only): {s['postings_per_s']:,} postings/s "
          f"({s['mean_chars']:,} characters on average)")

    by_len = sorted(gold, key=lambda g: len(g["text"]))
    with_techs = [g for g in by_len if g["techs"]]
    mid = len(with_techs) // 2
    examples = [(g["text"], g["techs"]) for g in with_techs[mid - 1:mid + 1]]
    print("COST     1,000 typical postings (offline token estimate; prices in transforms/extract/prices.json)")
    print(f"         {'path':<52} {'tokens in':>11} {'tokens out':>11} {'USD':>9}")
    for row in bench_cost(texts, examples):
        print(f"         {row['path']:<52} {row['tokens_in']:>11,} {row['tokens_out']:>11,} {row['usd']:>9.4f}")
        if row.get("note"):
            print(f"           ({row['note']})")
    print("         the local backend costs nothing; the cache means a text is never paid for twice")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
