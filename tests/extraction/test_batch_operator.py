"""The deferrable batch operator: submit, defer on the provider's trigger, collect into the cache."""

import asyncio

import psycopg
import pytest
from airflow.providers.openai.triggers.openai import OpenAIBatchTrigger
from airflow.sdk.exceptions import TaskDeferred

from jobreqs.lake import partition, replace_partition
from transforms.extract import ExtractionRun, extract_postings
from transforms.extract.batch_operator import OpenAIExtractBatchOperator

RECORDS = [
    {"source": "indeed", "source_id": str(i), "kept_text": text}
    for i, text in enumerate([
        "Python and Airflow on GCP.", "C# and .NET with SQL Server. [[batchfail]]",
        "Python and Airflow on GCP.", "Vue and Nuxt with Tailwind CSS.", "",
    ])
]


def _first_event(trigger):
    async def first():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(first())


def test_operator_defers_then_collects_and_a_rerun_pays_nothing(fake_openai, warehouse, lake_root):
    fake_openai.batch_delay = 0.3
    replace_partition(partition(lake_root, "curated", "classified", "2026-11-21"), RECORDS)
    op = OpenAIExtractBatchOperator(task_id="extract_batch", input_partition="curated/classified/dt=2026-11-21",
                                    batch_key="jobreqs_daily/2026-11-21", poll_interval=0.1, timeout=30)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, OpenAIBatchTrigger)
    event = _first_event(trigger)
    assert event["status"] == "success"
    stats = op.execute_complete({}, event)
    assert stats["batches"] == 1 and stats["requests"] == 3          # 3 distinct non-empty texts
    assert stats["failed_lines_retried"] == 1 and stats["tokens_in"] > 0 and stats["cost_usd"] > 0
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM jobreqs.extraction_cache").fetchone()[0] == 3
        assert conn.execute("SELECT status FROM jobreqs.extraction_batches").fetchone()[0] == "collected"

    # The extract task that follows finds everything cached: nothing is sent.
    calls = fake_openai.calls["POST /v1/chat/completions"]
    run = ExtractionRun("openai")
    out = list(extract_postings(RECORDS, backend="openai", mode="live", run=run))
    assert fake_openai.calls["POST /v1/chat/completions"] == calls
    assert run.stats()["cache_hits"] == 4 and set(out[0]["raw_terms"]) == {"Python", "Airflow", "GCP"}

    # A re-run of the operator submits nothing new: it reports the run's one collected batch.
    assert op.execute(context={})["batches"] == 1
    assert fake_openai.calls["POST /v1/batches"] == 1


def test_operator_resumes_a_submitted_batch_after_a_crash(fake_openai, warehouse, lake_root):
    fake_openai.batch_delay = 60  # still running when the task is retried
    replace_partition(partition(lake_root, "curated", "classified", "2026-11-21"), RECORDS[:1])
    op = OpenAIExtractBatchOperator(task_id="extract_batch", input_partition="curated/classified/dt=2026-11-21",
                                    batch_key="jobreqs_daily/2026-11-21", poll_interval=0.1, timeout=30)
    with pytest.raises(TaskDeferred) as first:
        op.execute(context={})
    with pytest.raises(TaskDeferred) as second:  # e.g. the worker died, the task is retried
        op.execute(context={})
    assert first.value.trigger.batch_id == second.value.trigger.batch_id
    assert fake_openai.calls["POST /v1/batches"] == 1 and fake_openai.calls["POST /v1/files"] == 1


def test_a_timeout_event_fails_the_task_and_nothing_is_collected(fake_openai, warehouse, lake_root):
    from airflow.providers.openai.exceptions import OpenAIBatchTimeout

    fake_openai.batch_delay = 60
    replace_partition(partition(lake_root, "curated", "classified", "2026-11-21"), RECORDS[:1])
    op = OpenAIExtractBatchOperator(task_id="extract_batch", input_partition="curated/classified/dt=2026-11-21",
                                    batch_key="jobreqs_daily/2026-11-21", poll_interval=0.1, timeout=0.3)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context={})
    event = _first_event(deferred.value.trigger)
    assert event["status"] == "error" and event["termination_reason"] == "timeout"
    with pytest.raises(OpenAIBatchTimeout):
        op.execute_complete({}, event)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM jobreqs.extraction_cache").fetchone()[0] == 0
