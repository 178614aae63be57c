"""upwork_enrich against the sandbox: fast path, fallback, failures kept, disjoint workers."""

from __future__ import annotations

import concurrent.futures

import psycopg

from scrapers.upwork.enrich import NO_LOGGED_IN_TOKEN, upwork_enrich
from scrapers.upwork.fetch import upwork_fetch
from tests.upwork.conftest import DAY, authorize_app, truth


def _jobs(conninfo) -> dict[str, dict]:
    with psycopg.connect(conninfo) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {r["id"]: r for r in cur.execute(
            """SELECT j.id, j.enrich_tries, j.enrich_last_error, j.enriched_at, j.enrich_path, j.enrich_claimed_until,
                      c.job_id AS client_job, c.client_country, c.jobs_posted, c.hire_rate, c.member_since,
                      c.total_spent, c.payment_verified, c.rating
               FROM jobreqs.upwork_jobs j LEFT JOIN jobreqs.upwork_clients c ON c.job_id = j.id""")}


def test_fast_path_fallback_and_failure(upwork_sandbox, lake_root, warehouse, monkeypatch):
    """Fast path: the visitor REST details (a challenge for some jobs); fallback: jobAuthDetails
    with the logged-in token `upwork-authorize` stored (some jobs are private there too)."""
    url = upwork_sandbox(jobs=150, arrivals=0, late_arrivals=0, before=0, malformed_rate=0,
                         fast_fail_rate=0.2, both_fail_rate=0.05)
    upwork_fetch(lake_root, DAY)
    authorize_app(monkeypatch)
    facts = truth(url)
    assert facts["fails_fast"] and facts["fails_both"], "the seed must give both kinds of failure"
    result = upwork_enrich(limit=1000, concurrency=6)
    jobs = _jobs(warehouse)
    assert result["claimed"] == len(jobs) == 150
    assert result["failed"] == len(facts["fails_both"])
    assert result["fallback"] == len(facts["fails_fast"])
    assert result["fast"] == 150 - len(facts["fails_fast"]) - len(facts["fails_both"])
    assert result["remaining"] == len(facts["fails_both"])
    for job_id, job in jobs.items():
        assert job["enrich_tries"] == 1 and job["enrich_claimed_until"] is None
        if job_id in facts["fails_both"]:
            # not enriched, try counted, error kept, no client row
            assert job["enriched_at"] is None and job["client_job"] is None and job["enrich_path"] is None
            assert "fast:" in job["enrich_last_error"] and "fallback:" in job["enrich_last_error"]
        else:
            assert job["enriched_at"] is not None and job["client_job"] == job_id
            assert job["enrich_path"] == ("fallback" if job_id in facts["fails_fast"] else "fast")
            assert job["client_country"] and job["jobs_posted"] >= 1 and job["member_since"] is not None
            assert 0 <= job["hire_rate"] <= 1 and job["total_spent"] >= 0
            # the REST answer has no payment flag; the authenticated details have it
            assert (job["payment_verified"] is not None) == (job_id in facts["fails_fast"])
            assert job["enrich_last_error"] is None

    # A second run takes only the failed jobs again; their try count goes up, nothing else moves.
    again = upwork_enrich(limit=1000, concurrency=6)
    assert again["claimed"] == again["failed"] == len(facts["fails_both"])
    after = _jobs(warehouse)
    for job_id in facts["fails_both"]:
        assert after[job_id]["enrich_tries"] == 2 and after[job_id]["enriched_at"] is None
    # max_tries: a job is given up after that many tries (it stays, not enriched)
    assert upwork_enrich(limit=1000, max_tries=2)["claimed"] == 0


def test_limit_leaves_the_rest_for_the_next_run(upwork_sandbox, lake_root, warehouse):
    upwork_sandbox(jobs=120, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=0, both_fail_rate=0)
    upwork_fetch(lake_root, DAY)
    first = upwork_enrich(limit=50, concurrency=4)
    assert first["claimed"] == first["enriched"] == 50 and first["remaining"] == 70
    second = upwork_enrich(limit=500, concurrency=4)
    assert second["claimed"] == 70 and second["remaining"] == 0
    assert all(j["enrich_tries"] == 1 and j["client_job"] for j in _jobs(warehouse).values())


def test_two_runs_at_once_take_disjoint_jobs(upwork_sandbox, lake_root, warehouse):
    upwork_sandbox(jobs=240, arrivals=0, late_arrivals=0, before=0, malformed_rate=0, fast_fail_rate=0,
                   both_fail_rate=0, details_latency=0.02)
    upwork_fetch(lake_root, DAY)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(upwork_enrich, 150, 4) for _ in range(2)]
        results = [r.result() for r in runs]
    assert all(r["claimed"] > 0 for r in results), "both runs must have worked at the same time"
    assert sum(r["claimed"] for r in results) == 240
    jobs = _jobs(warehouse)
    # a job taken by both runs would have been tried twice
    assert all(j["enrich_tries"] == 1 and j["enriched_at"] is not None for j in jobs.values())


def test_without_a_logged_in_token_the_fallback_says_what_to_do(upwork_sandbox, lake_root, warehouse):
    url = upwork_sandbox(jobs=60, arrivals=0, late_arrivals=0, before=0, malformed_rate=0,
                         fast_fail_rate=0.3, both_fail_rate=0)
    upwork_fetch(lake_root, DAY)
    result = upwork_enrich(limit=1000, concurrency=4)
    facts = truth(url)
    assert result["failed"] == len(facts["fails_fast"]) > 0 and result["fallback"] == 0
    failed = [j for j in _jobs(warehouse).values() if j["enriched_at"] is None]
    assert all("Cloudflare challenge" in j["enrich_last_error"] and NO_LOGGED_IN_TOKEN in j["enrich_last_error"]
               for j in failed)
    assert facts["counts"]["details_fallback"] == 0  # never sent with a visitor token
