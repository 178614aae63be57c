"""Cases 1-3 of issue 11: a failed OpenAI call, unbounded costs and sizes, prompt injection.

Each runs the pipeline's own extract -> clean_up -> load steps (``jobreqs.pipeline``) over a lake
partition into a real Postgres, against the local OpenAI-compatible server with hostile knobs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from jobreqs import lake
from jobreqs.pipeline import RunContext, run_clean_up, run_extract, run_load
from tests.faults.conftest import DAY, OPENAI_KEY, figures, posting, stage_rows, technologies, write_classified

TEXTS = [
    "We build services in Python and PostgreSQL on AWS.",
    "Frontend work with React, TypeScript and Jest.",
    "Kubernetes and Terraform on GCP.",
    "Docker and Jenkins pipelines.",
    "Java and Spring Boot microservices with Kafka.",
    "Tableau dashboards over Snowflake.",
    "Django and Redis with Celery.",
    "Scala and Spark on Databricks.",
    "Go services with gRPC and etcd.",
]
INJECTIONS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "injected_postings.jsonl"


def _pipeline(run_id: str, params: dict) -> dict:
    """extract, clean_up and load of the staged day, as the DAG's tasks run them."""
    ctx = RunContext(run_id=run_id, day=DAY, params=params)
    extracted = run_extract(ctx, str(lake.partition(lake.lake_root(), "staging", "classified", DAY)))
    cleaned = run_clean_up(ctx, extracted["path"])
    loaded = run_load(ctx, cleaned["path"])
    return {"extract": extracted, "clean_up": cleaned, "load": loaded}


def _openai(**params) -> dict:
    return {"extraction_backend": "openai", **params}


def test_case1_a_429_storm_on_a_rerun_with_another_model_keeps_every_posting_s_technologies(
        hostile_openai, warehouse, lake_root):
    write_classified(lake_root, [posting(str(i), t) for i, t in enumerate(TEXTS)])
    hostile_openai()
    first = _pipeline("run-1", _openai())
    before = technologies(warehouse)
    assert first["extract"]["errors"] == 0 and all(before.values()) and len(before) == 9

    # The re-run asks another model (nothing cached) of a server that answers 429 to everything.
    storm = hostile_openai(rate_limit_storm=True, retry_after="0.01")
    second = _pipeline("run-2", _openai(openai_model="gpt-4.1-mini"))
    after = technologies(warehouse)
    assert after == before, "a failed extraction replaced stored technologies"
    assert second["extract"]["errors"] == 9 and second["extract"]["error_kinds"] == {"rate_limited": 9}
    assert second["clean_up"]["extraction_errors"] == 9
    assert second["load"]["kept_previous_technologies"] == 9 and second["load"]["postings_upserted"] == 9
    with psycopg.connect(warehouse) as conn:
        backends = {b for (b,) in conn.execute("SELECT DISTINCT extraction_backend FROM jobreqs.postings")}
    assert backends == {"openai:gpt-4o-mini:extract-v2"}  # the technologies' backend, not the failed one
    _, status, stats, _ = stage_rows(warehouse, "extract")[-1]
    assert status == "success" and stats["error_kinds"] == {"rate_limited": 9}
    assert sum(storm.text_calls.values()) == 9 * 7  # each text: one call and six retries
    figures("case1", postings=9, kept_technologies=sum(1 for v in after.values() if v),
            lost=sum(1 for k in before if after.get(k) != before[k]), error_kinds=second["extract"]["error_kinds"])


def test_case2_retry_after_beyond_the_cap_is_not_waited_and_a_storm_stops_the_sending(hostile_openai, warehouse,
                                                                                         lake_root):
    write_classified(lake_root, [posting(str(i), f"{t} Role {i}.") for i, t in enumerate(TEXTS * 4)])
    storm = hostile_openai(rate_limit_storm=True, retry_after="300")
    started = time.monotonic()
    result = _pipeline("run-storm", _openai(openai_concurrency=2))
    elapsed = time.monotonic() - started
    kinds = result["extract"]["error_kinds"]
    assert elapsed < 60, "a Retry-After of 300 s was waited for"
    assert kinds.get("rate_limited", 0) >= 25 and kinds["rate_limited"] + kinds.get("rate_limit_stop", 0) == 36
    assert kinds.get("rate_limit_stop", 0) >= 1 and result["extract"]["not_sent"] == kinds["rate_limit_stop"]
    assert sum(storm.text_calls.values()) == kinds["rate_limited"]  # one call each, never a retry
    assert result["load"]["postings_upserted"] == 36  # every posting still lands
    figures("case2-retry-after", seconds=round(elapsed, 1), calls=sum(storm.text_calls.values()), kinds=kinds)


def test_case2_absurd_usage_is_recorded_and_never_paid(hostile_openai, warehouse, lake_root):
    write_classified(lake_root, [posting(str(i), t) for i, t in enumerate(TEXTS)])
    hostile_openai(usage_multiplier=1_000_000)
    result = _pipeline("run-usage", _openai())
    stats = result["extract"]
    assert stats["reported_tokens_in"] > 10**8 and stats["usage_anomalies"] == 9
    assert 0 < stats["cost_usd"] < 0.01, "the server's usage was used for money"
    assert stats["tokens_in"] < 10_000
    with psycopg.connect(warehouse) as conn:
        cost = conn.execute("SELECT llm_cost_usd FROM jobreqs.run_summary WHERE run_id = 'run-usage'").fetchone()[0]
    assert float(cost) == stats["cost_usd"]
    figures("case2-usage", reported_tokens_in=stats["reported_tokens_in"], counted_tokens_in=stats["tokens_in"],
            cost_usd=stats["cost_usd"])


def test_case2_one_megabyte_description_is_cut_to_the_input_cap(hostile_openai, warehouse, lake_root):
    from transforms.extract.openai_backend import Limits

    huge = ("We use Python and Airflow. " + "Lorem ipsum dolor sit amet consectetur. " * 26_000)[:1_000_000]
    write_classified(lake_root, [posting("big", huge)])
    fake = hostile_openai()
    stats = _pipeline("run-big", _openai())["extract"]
    sent = next(iter(fake.text_calls))
    assert len(sent) <= Limits().max_input_chars and stats["inputs_truncated"] == 1
    assert stats["tokens_in"] <= Limits().max_input_tokens + 1_000  # + the prompt and schema
    assert technologies(warehouse) == {"indeed:big": ["airflow", "python"]}
    figures("case2-input-cap", description_chars=len(huge), sent_chars=len(sent), tokens_in=stats["tokens_in"])


def test_case2_the_run_stops_sending_at_its_dollar_budget_and_completes(hostile_openai, warehouse, lake_root):
    records = [posting(str(i), f"{t} Team {i}.") for i, t in enumerate(TEXTS * 3)]
    write_classified(lake_root, records)
    hostile_openai()
    budget = 0.0012  # a few requests' worth at gpt-4o-mini's prices
    result = _pipeline("run-budget", _openai(openai_max_usd_per_run=budget, openai_concurrency=1))
    stats = result["extract"]
    assert 0 < stats["sent"] < len(records) and stats["error_kinds"] == {"budget": len(records) - stats["sent"]}
    assert stats["cost_usd"] <= budget and "dollar budget" in stats["stopped"]
    assert result["load"]["postings_upserted"] == len(records)  # the run completes with what it has
    _, status, _, message = stage_rows(warehouse, "extract")[-1]
    assert status == "success" and "stopped sending" in message
    with psycopg.connect(warehouse) as conn:
        spent = conn.execute("SELECT usd FROM jobreqs.extraction_spend WHERE run_key = 'run-budget'").fetchone()[0]
    assert float(spent) <= budget
    figures("case2-budget", budget_usd=budget, spent_usd=float(spent), sent=stats["sent"], not_sent=stats["not_sent"],
            message=message)


def test_case2_an_oversized_reply_is_refused(hostile_openai, warehouse, lake_root):
    write_classified(lake_root, [posting(str(i), t) for i, t in enumerate(TEXTS[:3])])
    hostile_openai(reply_padding=1_000_000)
    stats = _pipeline("run-oversized", _openai())["extract"]
    assert stats["error_kinds"] == {"oversized_reply": 3}
    assert all(v == [] for v in technologies(warehouse).values())
    figures("case2-oversized", error_kinds=stats["error_kinds"])


def _injected() -> list[dict]:
    return [json.loads(line) for line in INJECTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_case3_injected_postings_publish_no_planted_term(hostile_openai, warehouse, lake_root):
    """The measure of issue 11: of 36 injected descriptions, how many publish a planted term,
    through the local backend and through a model that obeys the text (goal: 0)."""
    from transforms.extract.fake_openai_server import obey
    from transforms.extract.local import local_extractor
    from transforms.taxonomy import load_taxonomy

    cases = _injected()
    assert len(cases) >= 30
    write_classified(lake_root, [posting(c["id"], c["text"]) for c in cases])
    taxonomy = load_taxonomy()

    def planted_published() -> list[str]:
        stored = technologies(warehouse)
        return [c["id"] for c in cases
                if {taxonomy.canonical(t) for t in c["planted"]} & set(stored[f"indeed:{c['id']}"])]

    # Without the defence: what a model obeying the text would have had published (every term
    # that occurs in the text and maps to the taxonomy, the old trust rule).
    before = [c["id"] for c in cases
              if {taxonomy.canonical(t) for t in c["planted"]} & {taxonomy.canonical(t) for t in
                                                                  obey(c["text"], local_extractor().extract(c["text"]))}]
    local_before = [c["id"] for c in cases if {taxonomy.canonical(t) for t in c["planted"]}
                    & {taxonomy.canonical(t) for t in local_extractor().extract(c["text"])}]
    local = _pipeline("run-local", {"extraction_backend": "local"})
    local_published = planted_published()
    hostile_openai(obey_injections=True)
    remote = _pipeline("run-openai", _openai())
    openai_published = planted_published()
    assert local_published == [] and openai_published == []
    assert remote["extract"]["error_kinds"].get("injection", 0) >= len(cases) - 2
    quarantine = lake.partition(lake_root, "quarantine", "extract", DAY) / "extract.jsonl.gz"
    reasons = [json.loads(line)["reason"] for _, line in lake.read_jsonl_gz(quarantine)]
    assert len(reasons) == remote["extract"]["quarantined"] and all("instructions" in r for r in reasons)
    assert OPENAI_KEY not in quarantine.read_bytes().decode("latin-1")
    figures("case3-injection", injected=len(cases), planted_published_without_defence=len(before),
            local_planted_published_without_defence=len(local_before),
            planted_published_local=len(local_published), planted_published_openai=len(openai_published),
            local_injected_terms_dropped=local["extract"]["injected_terms_dropped"],
            openai_quarantined=remote["extract"]["quarantined"])
