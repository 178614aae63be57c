"""End to end: ``airflow dags test jobreqs_daily D`` with only the sources that publish openly
switched on (Hacker News, Greenhouse, Lever, Ashby), collecting from their sandboxes (the boards
list through the Airflow Variable), down to the warehouse's rows and marts."""

import datetime as dt
import json
import os

import psycopg
import pytest

from tests.conftest import airflow_cli, airflow_conn_json

DAY = dt.date(2026, 11, 4)
ATS = ("greenhouse", "lever", "ashby")  # a past date: Hacker News's threads stay online, so it is collected


@pytest.fixture
def run_env(airflow_metadata, warehouse, lake_root):
    env = {k: v for k, v in airflow_metadata.items()
           if not k.startswith(("JOBREQS_INDEED_", "JOBREQS_UPWORK_", "JOBREQS_HN_", "JOBREQS_GREENHOUSE_",
                                 "JOBREQS_LEVER_", "JOBREQS_ASHBY_", "AIRFLOW_VAR_JOBREQS_ATS"))}
    env["AIRFLOW_CONN_JOBREQS_WAREHOUSE"] = airflow_conn_json(warehouse)
    env["JOBREQS_LAKE_URL"] = str(lake_root)
    return env


def _stages(warehouse, day):
    with psycopg.connect(warehouse) as conn:
        return {stage: (status, stats) for stage, status, stats in conn.execute(
            "SELECT stage, status, stats FROM jobreqs.pipeline_runs WHERE logical_date = %s", (day,))}


def test_a_run_with_only_the_open_sources_lands_their_postings(run_env, warehouse):
    import contextlib

    from scrapers.ats.sandbox import SANDBOX_BOARDS, sandbox_server as boards_server
    from scrapers.hn.sandbox import sandbox_server

    env = dict(run_env, AIRFLOW_VAR_JOBREQS_ATS_BOARDS=json.dumps(SANDBOX_BOARDS))
    with contextlib.ExitStack() as stack:
        # a Hacker News of a later date (the past stays online); job boards serving the date
        env["JOBREQS_HN_BASE_URL"] = stack.enter_context(sandbox_server(day=DAY + dt.timedelta(days=10)))
        for ats in ATS:
            env[f"JOBREQS_{ats.upper()}_BASE_URL"] = stack.enter_context(boards_server(ats, day=DAY))
        conf = {"sources": ["hn", *ATS], "ats_min_interval": 0}
        airflow_cli("dags", "test", "jobreqs_daily", DAY.isoformat(), "-c", json.dumps(conf), env=env)
    stages = _stages(warehouse, DAY)
    with psycopg.connect(warehouse) as conn:
        by_source = dict(conn.execute(
            "SELECT source, count(*) FROM jobreqs.postings WHERE posting_date = %s GROUP BY 1", (DAY,)).fetchall())
        with_tech = dict(conn.execute(
            "SELECT source, count(DISTINCT source_id) FROM jobreqs.posting_technologies GROUP BY 1").fetchall())
        mart = dict(conn.execute(
            "SELECT source, postings FROM jobreqs.postings_daily WHERE posting_date = %s AND keyword = 'all'",
            (DAY,)).fetchall())
        sightings = conn.execute("SELECT count(*) FROM jobreqs.posting_sightings WHERE seen_on = %s",
                                 (DAY,)).fetchone()[0]
        covered = dict(conn.execute(
            "SELECT source, collected FROM jobreqs.source_coverage WHERE coverage_date = %s AND status = 'collected'",
            (DAY,)).fetchall())
    collected = {"hn": stages["collect_hn"][1]["collected"]}
    collected |= {ats: stages[f"collect_{ats}"][1]["jobs_collected"] for ats in ATS}
    assert all(stages[f"collect_{s}"][0] == "success" for s in collected) and min(collected.values()) > 5
    assert stages["collect_greenhouse"][1]["boards_missing"] == 1  # the starter list's closed board
    assert stages["scrape_indeed"][0] == stages["upwork_token"][0] == "skipped"
    assert by_source == collected == stages["normalise"][1]["postings"]
    assert all(with_tech[s] > 0.8 * n for s, n in collected.items())
    assert {s: mart[s] for s in collected} == collected
    assert sightings == sum(collected.values())
    assert covered == collected  # each collection recorded the date's coverage
    assert all(stages[s][0] == "success" for s in ("normalise", "classify", "extract", "clean_up", "load", "publish"))
