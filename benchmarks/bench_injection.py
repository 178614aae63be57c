"""Benchmark of the prompt-injection defence (issue 11): what injected text can still publish,
and what the defence costs real postings.

    python -m benchmarks.bench_injection

1. Injected postings (``benchmarks/data/injected_postings.jsonl``: 36 job descriptions written
   for this, each planting technologies through a different trick: plain "ignore previous
   instructions", role markers, JSON answers, HTML comments, notes to the AI, other languages,
   zero-width and fullwidth characters, a fake end tag...). For each backend, how many postings
   publish a planted technology after extract + clean-up: the local matcher, and the openai
   backend against a local OpenAI-compatible server whose model obeys the text
   (``FakeOpenAI(obey_injections=True)``). "Before" is the same with the old trust rule (a term is
   trusted when it occurs in the text).
2. Real text: of the project's real job-posting paragraphs (the classifier's training paragraphs,
   SkillSpan train/dev sentences, the sandboxes' descriptions), how many the detector flags as
   addressing the extractor, and how many real technology mentions it would discard there.
3. Cost: microseconds per posting of the detector.

The injected set was written by the same author as the detector: the 0 it should print is a
floor, not a proof; new tricks belong in the data file.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="jobreqs-bench-airflow-"))

from benchmarks.figures import figure  # noqa: E402
from jobreqs.config import PROJECT_ROOT, SOURCE_DATA_DIR  # noqa: E402
from transforms.clean_up import clean_up_postings  # noqa: E402
from transforms.extract.local import local_extractor  # noqa: E402
from transforms.extract.stage import ExtractionRun, extract_postings  # noqa: E402
from transforms.extract.trust import inside, instruction_spans  # noqa: E402
from transforms.taxonomy import load_taxonomy  # noqa: E402

INJECTED = Path(__file__).resolve().parent / "data" / "injected_postings.jsonl"


def injected_cases() -> list[dict]:
    return [json.loads(line) for line in INJECTED.read_text(encoding="utf-8").splitlines() if line.strip()]


def real_paragraphs() -> dict[str, list[str]]:
    from scrapers.indeed.sandbox import load_day
    from scrapers.upwork.sandbox import DayOptions, SandboxDay
    from transforms.text import html_to_text

    corpora: dict[str, list[str]] = {"classifier paragraphs": [], "SkillSpan sentences": []}
    for line in (PROJECT_ROOT / "models" / "classifier" / "data" / "paragraphs.jsonl").open(encoding="utf-8"):
        corpora["classifier paragraphs"].append(json.loads(line)["text"])
    for split in ("train", "dev"):
        for line in (SOURCE_DATA_DIR / "skillspan" / "json" / f"{split}.json").open(encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                tokens = row.get("tokens") or []
                corpora["SkillSpan sentences"].append(" ".join(tokens) if isinstance(tokens, list) else str(tokens))
    corpora["Indeed sandbox descriptions"] = [html_to_text(p["description_html"]) for p in load_day()["postings"]]
    day = SandboxDay(DayOptions(jobs=2_000, arrivals=0, late_arrivals=0, before=0, malformed_rate=0))
    corpora["Upwork sandbox descriptions"] = [day.visitor_result(j)["description"] for j in day.visible[:2_000]]
    return corpora


def published(records: list[dict], cases: list[dict]) -> list[str]:
    taxonomy = load_taxonomy()
    out = []
    for record, case in zip(clean_up_postings(records), cases):
        planted = {taxonomy.canonical(t) for t in case["planted"]}
        if planted & set(record.get("technologies") or []):
            out.append(case["id"])
    return out


def main() -> int:
    from transforms.extract.fake_openai_server import FakeOpenAI, obey
    from transforms.extract.openai_backend import MemoryCache

    cases = injected_cases()
    postings = [{"source": "indeed", "source_id": c["id"], "kept_text": c["text"]} for c in cases]
    taxonomy = load_taxonomy()
    canonical = lambda terms: {taxonomy.canonical(t) for t in terms}  # noqa: E731
    before_local = [c["id"] for c in cases
                    if canonical(c["planted"]) & canonical(local_extractor().extract(c["text"]))]
    before_openai = [c["id"] for c in cases
                     if canonical(c["planted"]) & canonical(obey(c["text"], local_extractor().extract(c["text"])))]
    local = list(extract_postings(postings, "local", run=ExtractionRun("local")))
    fake = FakeOpenAI(api_key="bench-key", obey_injections=True)
    url = fake.serve()
    os.environ["AIRFLOW_CONN_OPENAI_DEFAULT"] = json.dumps({"conn_type": "openai", "host": url, "password": "bench-key"})
    try:
        remote_run = ExtractionRun("openai")
        remote = list(extract_postings(postings, "openai", run=remote_run, cache=MemoryCache()))
    finally:
        fake.stop()
    real_kept = sum(len(canonical(c["real"]) & set(r["technologies"]))
                    for c, r in zip(cases, clean_up_postings(local)))
    real_total = sum(len(canonical(c["real"])) for c in cases)
    print(f"INJECTED {len(cases)} injected descriptions ({INJECTED.relative_to(PROJECT_ROOT)})")
    print(f"         postings that publish a planted technology    before   after")
    print(f"         local matcher                                  {len(before_local):>6}  {len(published(local, cases)):>6}")
    print(f"         openai, a model that obeys the text            {len(before_openai):>6}  {len(published(remote, cases)):>6}")
    figure("injected postings publishing a planted technology (local)", len(published(local, cases)), "", "0",
           not published(local, cases))
    figure("injected postings publishing a planted technology (openai, obeying model)", len(published(remote, cases)),
           "", "0", not published(remote, cases))
    print(f"         openai replies quarantined as injected: {remote_run.counts['error_kinds'].get('injection', 0)}"
          f" of {len(cases)}; real technologies the local matcher still publishes on them: {real_kept} of {real_total}"
          " (a paragraph that addresses the extractor is no evidence at all)")

    extractor = local_extractor()
    print("REAL     real job text the detector flags (a flagged part is no evidence)")
    timings = []
    for name, texts in real_paragraphs().items():
        flagged = lost = mentions = 0
        for text in texts:
            started = time.perf_counter()
            regions = instruction_spans(text)
            timings.append(time.perf_counter() - started)
            found = extractor.find(text)
            mentions += len(found)
            if regions:
                flagged += 1
                lost += sum(inside((m.start, m.end), regions) for m in found)
        print(f"         {name:<30} {flagged:>5} of {len(texts):>6} flagged; "
              f"{lost} of {mentions} technology mentions inside them")
    print(f"SPEED    detector: {statistics.mean(timings) * 1e6:.0f} us per text on average "
          f"(p99 {sorted(timings)[int(len(timings) * 0.99)] * 1e6:.0f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
