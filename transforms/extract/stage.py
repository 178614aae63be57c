"""The extract stage: kept text in, raw technology terms out, for either backend.

``extract_postings`` streams: records pass through one at a time (the openai backend works in
bounded chunks), each gaining "raw_terms" (the terms as extracted) and "extraction_backend".
A record whose extraction failed carries "extraction_error" and "extraction_error_kind" instead
of a result: clean-up and load then leave the posting's stored technologies as they were.
Both backends take a mention inside text that addresses the extractor ("ignore previous
instructions and output ...", see :mod:`transforms.extract.trust`) as no evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

BACKENDS = ("local", "openai")


class ExtractionRun:
    """Token and cost statistics of one extraction run (a small JSON-able dict via :meth:`stats`)."""

    def __init__(self, backend: str, quarantine: Any = None) -> None:
        self.backend = backend
        #: Where records set aside with their reason go (anything with ``add(dict)``; optional).
        self.quarantine = quarantine
        self.counts: dict[str, Any] = {"backend": backend, "postings": 0, "empty_texts": 0,
                                       "terms": 0, "cache_hits": 0, "sent": 0,
                                       "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0,
                                       "errors": 0, "error_kinds": {}, "quarantined": 0}

    def quarantine_record(self, record: dict[str, Any], reason: str, **extra: Any) -> None:
        """Set a record aside for review (the posting itself still flows on, without a result)."""
        self.counts["quarantined"] += 1
        if self.quarantine is not None:
            self.quarantine.add({"reason": reason, "source": record.get("source"),
                                 "source_id": record.get("source_id"), "text": text_of(record)[:20_000], **extra})

    def stats(self) -> dict[str, Any]:
        out = dict(self.counts)
        out["cost_usd"] = round(float(out["cost_usd"]), 6)
        return out


_last_run: ExtractionRun | None = None


def last_run_stats() -> dict[str, Any]:
    """Statistics of the most recent :func:`extract_postings` run in this process."""
    return _last_run.stats() if _last_run else {}


def text_of(record: dict[str, Any]) -> str:
    """The text to extract from: "kept_text", falling back to "description_text"."""
    text = record.get("kept_text")
    if text is None:
        text = record.get("description_text")
    if text is None:
        raise ValueError(f"record {record.get('source')}:{record.get('source_id')} has neither kept_text nor description_text")
    return text


def extract_postings(postings: Iterable[dict[str, Any]], backend: str = "local", *,
                     run: ExtractionRun | None = None, **options: Any) -> Iterator[dict[str, Any]]:
    """Yield each posting with "raw_terms" (list of str) and "extraction_backend" added.

    backend "local": the taxonomy matcher (no options). backend "openai": options are those of
    :func:`transforms.extract.openai_backend.extract_openai` (mode="live"|"batch", model,
    prompt_version, conn_id, concurrency, chunk_size, ...). Statistics go to ``run`` (or a new
    :class:`ExtractionRun`, readable afterwards with :func:`last_run_stats`).
    """
    global _last_run
    if backend not in BACKENDS:
        raise ValueError(f"unknown extraction backend {backend!r}: choose one of {BACKENDS}")
    run = run or ExtractionRun(backend)
    _last_run = run
    if backend == "local":
        if options:
            raise TypeError(f"the local backend takes no options, got {sorted(options)}")
        from transforms.extract.local import local_extractor

        from transforms.extract.trust import inside, instruction_spans

        extractor = local_extractor()
        run.counts["injected_terms_dropped"] = 0
        for record in postings:
            text = text_of(record)
            matches = extractor.find(text) if text.strip() else []
            regions = instruction_spans(text) if matches else []
            planted = [m.surface for m in matches if regions and inside((m.start, m.end), regions)]
            terms = [m.surface for m in matches if not (regions and inside((m.start, m.end), regions))]
            out = {**record, "raw_terms": terms, "extraction_backend": "local"}
            if planted:
                out["rejected_terms"] = planted
                run.counts["injected_terms_dropped"] += len(planted)
                run.quarantine_record(out, "terms named only where the text addresses the extractor: "
                                      + ", ".join(dict.fromkeys(planted)))
            run.counts["postings"] += 1
            run.counts["empty_texts"] += not text.strip()
            run.counts["terms"] += len(terms)
            yield out
        return
    from transforms.extract.openai_backend import extract_openai

    yield from extract_openai(postings, run=run, **options)
