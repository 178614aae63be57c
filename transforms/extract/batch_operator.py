"""A deferrable operator that fills the extraction cache through the OpenAI Batch API.

    extract_batch = OpenAIExtractBatchOperator(
        task_id="extract_openai_batch",
        input_partition="curated/classified/dt={{ ds }}",   # under the lake root
        batch_key="{{ dag.dag_id }}/{{ ds }}",
    )
    # then the extract task runs extract_postings(..., backend="openai", mode="live"): every text
    # is in the cache by now, so nothing is sent (failed lines were already retried live).

``execute`` streams the partition, cuts each text to the input caps, keeps the texts not yet in
``jobreqs.extraction_cache``, reserves each one's cost in the run's budget (DAG params
``openai_max_usd_per_run`` / ``openai_max_tokens_per_run``, kept in ``jobreqs.extraction_spend``
under the run id, so the extract task that follows draws on the same budget), and submits those
that fit in batches of at most ``max_requests_per_batch`` (or resumes the batches already
submitted under the same key: ``jobreqs.extraction_batches``). It then defers on the
openai provider's ``OpenAIBatchTrigger``, which frees the worker while the batch runs. On each
trigger event it downloads that batch's results, joins them by ``custom_id``, caches the valid
ones, retries failed lines live, and defers on the next unfinished batch. Returns a small dict
(tokens, cost, counts) for XCom.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from jobreqs.config import OPENAI_CONN_ID

DEFAULT_PROMPT = "extract-v2"  # transforms.extract.openai_backend.DEFAULT_PROMPT (not imported at parse time)


class OpenAIExtractBatchOperator(BaseOperator):
    """Submit-or-resume OpenAI batches for a lake partition's uncached texts, wait deferred, collect."""

    template_fields: Sequence[str] = ("input_partition", "batch_key", "model", "run_if")

    def __init__(self, *, input_partition: str, batch_key: str, conn_id: str = OPENAI_CONN_ID,
                 model: str | None = None, prompt_version: str | None = None, poll_interval: float | None = None,
                 timeout: float = 24 * 3600, max_requests_per_batch: int = 10_000,
                 warehouse_conninfo: str | None = None, run_if: str | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Rendered per run (e.g. from the DAG's params): the task skips itself when false, so a DAG
        # can hold the batch step and use it only for runs that ask for the Batch API.
        self.run_if = run_if
        self.input_partition = input_partition
        self.batch_key = batch_key
        self.conn_id = conn_id
        self.model = model
        self.prompt_version = prompt_version or DEFAULT_PROMPT
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_requests_per_batch = max_requests_per_batch
        self.warehouse_conninfo = warehouse_conninfo

    # -- helpers (plain functions of the inputs; no state kept between deferrals but the kwargs) --
    def _prompt_model(self):
        from transforms.extract.openai_backend import load_prompt

        prompt = load_prompt(self.prompt_version)
        return prompt, self.model or prompt.model

    def _records(self) -> Iterator[dict[str, Any]]:
        from jobreqs.lake import lake_root, read_partition

        yield from read_partition(lake_root() / self.input_partition)

    def _uncached_chunks(self) -> Iterator[dict[str, str]]:
        """The texts not in the cache, by content hash, in chunks of max_requests_per_batch.
        Deterministic for the same input and cache; each chunk is keyed by a hash of its texts."""
        from transforms.extract.openai_backend import WarehouseCache

        prompt, model = self._prompt_model()
        cache = WarehouseCache(self.warehouse_conninfo)
        pending: dict[str, str] = {}
        seen: set[str] = set()

        def flush() -> dict[str, str]:
            cached = cache.get_many(list(pending), model, prompt.version)
            return {h: t for h, t in pending.items() if h not in cached}

        from transforms.text import content_hash

        for text in self._texts():
            h = content_hash(text)
            if not text.strip() or h in seen:
                continue
            seen.add(h)
            pending[h] = text
            if len(pending) >= self.max_requests_per_batch:
                chunk = flush()
                pending = {}
                if chunk:
                    yield chunk
        if pending:
            chunk = flush()
            if chunk:
                yield chunk

    def _texts(self) -> Iterator[str]:
        """Each record's text as the extract stage sends it (cut to the input caps)."""
        from transforms.extract.openai_backend import Limits, cap_text
        from transforms.extract.stage import text_of

        limits = Limits()
        for record in self._records():
            yield cap_text(text_of(record), limits)[0]

    def _texts_for(self, hashes: set[str]) -> dict[str, str]:
        from transforms.text import content_hash

        out: dict[str, str] = {}
        for text in self._texts():
            h = content_hash(text)
            if h in hashes:
                out[h] = text
        return out

    def _budget(self, context: Any):
        """The run's budget from its params, shared with the run's other tasks (by run id)."""
        from jobreqs.pipeline import extraction_limits
        from transforms.extract.openai_backend import Budget, WarehouseSpend

        limits = extraction_limits(dict(context.get("params") or {}))
        run_id = context.get("run_id")
        return limits, Budget.from_limits(limits, WarehouseSpend(run_id, self.warehouse_conninfo) if run_id else None)

    def _poll_interval(self) -> float:
        """Seconds between status polls: the argument, else JOBREQS_OPENAI_BATCH_POLL_SECONDS, else 60."""
        import os

        return float(self.poll_interval or os.environ.get("JOBREQS_OPENAI_BATCH_POLL_SECONDS", 60))

    def _defer_on(self, batch_id: str) -> None:
        from airflow.providers.openai.triggers.openai import OpenAIBatchTrigger

        # Everything execute_complete needs is in the event (the batch id) and in
        # jobreqs.extraction_batches: no state rides along in the deferral's kwargs.
        self.defer(
            trigger=OpenAIBatchTrigger(conn_id=self.conn_id, batch_id=batch_id,
                                       poll_interval=self._poll_interval(), timeout=self.timeout),
            method_name="execute_complete",
        )

    def _next_or_done(self, store, budget=None) -> dict[str, Any]:
        """Defer on the run's next uncollected batch, or return the run's summed statistics."""
        batches = store.under(f"{self.batch_key}/")
        pending = [b for b in batches if b["status"] == "submitted"]
        if pending:
            self._defer_on(pending[0]["batch_id"])
        _, model = self._prompt_model()
        totals: dict[str, Any] = {"batches": len(batches), "model": model, "prompt_version": self.prompt_version}
        if budget is not None and budget.stopped:
            totals["stopped"] = budget.stopped
        for batch in batches:
            for k, v in (batch["stats"] or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    totals[k] = round(totals.get(k, 0) + v, 6)
        return totals

    # -- Airflow entry points ------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        from transforms.extract.openai_backend import BatchStore, reserve_batch, submit_batch, sync_client

        if str(self.run_if).strip().lower() not in {"true", "1", "yes"}:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("this run does not use the OpenAI Batch API")
        from transforms.extract.openai_backend import require_usable

        require_usable(self.conn_id)  # no connection or a refused key: fail now, without retries
        prompt, model = self._prompt_model()
        client = sync_client(self.conn_id)
        store = BatchStore(self.warehouse_conninfo)
        _, budget = self._budget(context)
        submitted = 0
        for uncached in self._uncached_chunks():
            texts = reserve_batch(uncached, prompt, model, budget)
            if not texts:
                self.log.warning("%s: %d texts not submitted", budget.stopped, len(uncached))
                break
            # Keyed by content: a retry that finds earlier chunks cached already (so its chunks
            # differ) never resumes a batch that holds other texts; the same texts resume theirs.
            chunk_id = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:16]
            submit_batch(client, texts, prompt, model, f"{self.batch_key}/{chunk_id}", store)
            submitted += 1
        if not submitted:
            self.log.info("every text is cached already (or the budget is spent): no batch needed")
        return self._next_or_done(store, budget)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        from airflow.providers.openai.hooks.openai import build_batch_error, validate_execute_complete_event

        from transforms.extract.openai_backend import (
            BatchStore, WarehouseCache, cache_outcomes, collect_batch, outcome_stats, sync_client)

        event = validate_execute_complete_event(event)  # None or an unknown status: fails loudly
        reason = event.get("termination_reason")
        # A batch that failed or expired is collected (its lines are retried live); a timeout, a
        # polling error or a cancellation fails the task: a retry resumes (or, if cancelled, resubmits).
        if event["status"] != "success" and not (event["status"] == "error" and reason in {"failed", "expired"}):
            raise build_batch_error(event.get("message", "batch did not complete"), reason)
        from transforms.extract.openai_backend import require_usable

        require_usable(self.conn_id)  # no connection or a refused key: fail now, without retries
        prompt, model = self._prompt_model()
        client = sync_client(self.conn_id)
        store = BatchStore(self.warehouse_conninfo)
        batch = client.batches.retrieve(event["batch_id"])
        if batch.status not in {"completed", "failed", "expired"}:
            raise RuntimeError(f"batch {batch.id} is {batch.status}, not terminal: the trigger event was stale")
        key = store.key_of(batch.id)
        if key is None:
            raise RuntimeError(f"batch {batch.id} is not in jobreqs.extraction_batches")
        known = store.get(key) or {}
        texts = self._texts_for(set(known.get("custom_ids") or []))
        limits, budget = self._budget(context)
        outcomes, failed = collect_batch(client, batch, texts, prompt, model, key, store, self.conn_id,
                                         budget=budget, limits=limits)
        cache_outcomes(WarehouseCache(self.warehouse_conninfo), outcomes, model, prompt.version)
        stats = outcome_stats(outcomes, model) | {"requests": len(texts), "failed_lines_retried": failed}
        store.mark(key, "collected" if batch.status == "completed" else "failed", stats)
        self.log.info("batch %s collected: %d results, %d failed lines retried live", batch.id, len(outcomes), failed)
        return self._next_or_done(store, budget)
