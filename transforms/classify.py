"""classify: keep the paragraphs of each posting that name technologies.

:func:`classify_postings` streams postings in batches: it splits every description of a batch
into paragraphs (:mod:`transforms.paragraphs`), scores all of the batch's paragraphs in one
vectorised call of the model, and keeps those at or over the model's threshold (chosen for a
recall of 0.98 of technology paragraphs). It keeps the **whole** description instead when:

* ``short``: the description is under ``short_tokens`` tokens (too little to cut, and the model
  sees too little context);
* ``unsure``: no paragraph passes but one comes close (score >= ``unsure_factor`` x threshold);
* ``too-little``: what passes is under ``min_kept_tokens`` tokens (a lone heading, say).

Otherwise the reason is ``classified`` (some paragraphs kept) or ``no-technology`` (none kept,
none close: the kept text is empty, as for a nursing job; the counts still record it).

Tokens are *estimated* offline as ``ceil(characters / 4)``, OpenAI's published rule of thumb for
English text (tiktoken would download its encodings at run time, which the pipeline must not do).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from itertools import islice

from models.classifier.artifact import Classifier, load
from transforms.paragraphs import paragraph_spans

#: Descriptions shorter than this many tokens are kept whole.
SHORT_TOKENS = 40
#: Kept text shorter than this many tokens is replaced by the whole description.
MIN_KEPT_TOKENS = 8
#: No paragraph passing but one scoring at least this share of the threshold: keep everything.
UNSURE_FACTOR = 0.5

_MODELS: dict[str, Classifier] = {}


def estimate_tokens(text: str) -> int:
    """Offline token estimate: ``ceil(len(text) / 4)`` (about 4 characters per token in English)."""
    return math.ceil(len(text) / 4)


def load_model(version: str | None = None) -> Classifier:
    """The classifier artefact (the current version by default), loaded once per process."""
    from models.classifier.artifact import artifacts_dir, current_version

    key = f"{artifacts_dir()}:{version or current_version() or ''}"
    if key not in _MODELS:
        _MODELS[key] = load(version)
    return _MODELS[key]


def _batches(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def classify_postings(
    postings: Iterable[dict],
    model: Classifier | None = None,
    batch_size: int = 256,
    short_tokens: int = SHORT_TOKENS,
    min_kept_tokens: int = MIN_KEPT_TOKENS,
    unsure_factor: float = UNSURE_FACTOR,
) -> Iterator[dict]:
    """Each posting (a dict with ``description_text``) with ``kept_text``, ``kept_ratio``,
    ``tokens_before``, ``tokens_after``, ``classifier_version`` and ``keep_reason`` added.

    Postings come out in input order; at most ``batch_size`` of them are held at a time.
    ``kept_ratio`` is ``tokens_after / tokens_before`` (1.0 for an empty description).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    model = model or load_model()
    for batch in _batches(postings, batch_size):
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        for posting in batch:
            text = posting.get("description_text")
            if not isinstance(text, str):
                raise ValueError(f"posting {posting.get('source_id') or posting.get('id')!r} has no description_text")
            texts.append(text)
            spans.append(paragraph_spans(text))
        paragraphs = [text[s:e] for text, text_spans in zip(texts, spans) for s, e in text_spans]
        scores = model.scores(paragraphs).tolist()
        offset = 0
        for posting, text, text_spans in zip(batch, texts, spans):
            own = scores[offset:offset + len(text_spans)]
            offset += len(text_spans)
            yield {**posting, **_decide(text, text_spans, own, model, short_tokens, min_kept_tokens, unsure_factor)}


def _decide(text: str, spans: list[tuple[int, int]], scores: list[float], model: Classifier,
            short_tokens: int, min_kept_tokens: int, unsure_factor: float) -> dict:
    """The kept text of one posting and why (see the module docstring)."""
    before = estimate_tokens(text)
    kept = [text[s:e] for (s, e), score in zip(spans, scores) if score >= model.threshold]
    kept_text = text if len(kept) == len(spans) else "\n\n".join(kept)
    after = estimate_tokens(kept_text)
    if before < short_tokens:
        reason = "short"
    elif not kept:
        reason = "unsure" if scores and max(scores) >= unsure_factor * model.threshold else "no-technology"
    elif after < min_kept_tokens:
        reason = "too-little"
    else:
        reason = "classified"
    if reason in {"short", "unsure", "too-little"}:
        kept_text, after = text, before
    return {
        "kept_text": kept_text,
        "kept_ratio": round(after / before, 4) if before else 1.0,
        "tokens_before": before,
        "tokens_after": after,
        "classifier_version": model.version,
        "keep_reason": reason,
    }


def classify_day(root, day: dt.date | str, version: str | None = None, batch_size: int = 256) -> dict:
    """Classify ``staging/postings/dt=day`` into ``staging/classified/dt=day`` (replaced whole, so a
    re-run leaves the same file). Each output record is the posting with the keys of
    :func:`classify_postings` added. A record without a string ``description_text`` goes, whole and
    with its reason, to ``quarantine/classify/dt=day/classify.jsonl.gz``.

    Returns small JSON-serialisable stats: ``postings``, ``quarantined``, ``tokens_before``,
    ``tokens_after``, ``reduction``, ``keep_reasons``, ``classifier_version`` and ``message``
    (set when the day has no staged postings).
    """
    from collections import Counter

    from jobreqs import lake

    model = load_model(version)
    source = lake.partition(root, "staging", "postings", day)
    rejects = lake.Spool()
    totals: Counter = Counter()
    reasons: Counter = Counter()

    def valid() -> Iterator[dict]:
        for record in lake.read_partition(source):
            if isinstance(record.get("description_text"), str):
                yield record
            else:
                rejects.add({"reason": "no string description_text", "record": record})

    def counted() -> Iterator[dict]:
        for result in classify_postings(valid(), model=model, batch_size=batch_size):
            totals["postings"] += 1
            totals["tokens_before"] += result["tokens_before"]
            totals["tokens_after"] += result["tokens_after"]
            reasons[result["keep_reason"]] += 1
            yield result

    lake.replace_partition(lake.partition(root, "staging", "classified", day), counted())
    target = lake.partition(root, "quarantine", "classify", day) / "classify.jsonl.gz"
    if rejects.count:
        lake.write_jsonl_gz(target, rejects.rows())
    elif target.exists():
        target.unlink()
    rejects.close()
    before = totals["tokens_before"]
    return {
        "postings": totals["postings"],
        "quarantined": rejects.count,
        "tokens_before": before,
        "tokens_after": totals["tokens_after"],
        "reduction": round(1 - totals["tokens_after"] / before, 4) if before else 0.0,
        "keep_reasons": dict(reasons),
        "classifier_version": model.version,
        "message": None if totals["postings"] or rejects.count else f"no staged postings for {day} in {source}",
    }
