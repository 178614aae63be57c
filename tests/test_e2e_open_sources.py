"""End to end: ``airflow dags test jobreqs_daily D`` with only the sources that publish openly
switched on, collecting from their sandboxes, down to the warehouse's rows."""

import datetime as dt
import json
import os

import psycopg
import pytest

from tests.conftest import airflow_cli, airflow_conn_json

DAY = dt.date(2026, 11, 4)  # a past date: Hacker News's threads stay online, so it is collected


@pytest.fixture
def run_env(airflow_metadata, warehouse, lake_root):
    env = {k: v for k, v in airflow_metadata.items()
           if not k.startswith(("JOBREQS_INDEED_", "JOBREQS_UPWORK_", "JOBREQS_HN_"))}
    env["AIRFLOW_CONN_JOBREQS_WAREHOUSE"] = airflow_conn_json(warehouse)
    env["JOBREQS_LAKE_URL"] = str(lake_root)
    return env


def _stages(warehouse, day):
    with psycopg.connect(warehouse) as conn:
        return {stage: (status, stats) for stage, status, stats in conn.execute(
            "SELECT stage, status, stats FROM jobreqs.pipeline_runs WHERE logical_date = %s", (day,))}


def test_a_run_with_only_hacker_news_lands_its_postings(run_env, warehouse):
    from scrapers.hn.sandbox import sandbox_server

    with sandbox_server(day=DAY + dt.timedelta(days=10)) as url:  # a sandbox of a later date: the past is online
        airflow_cli("dags", "test", "jobreqs_daily", DAY.isoformat(), "-c", json.dumps({"sources": ["hn"]}),
                    env=dict(run_env, JOBREQS_HN_BASE_URL=url))
    stages = _stages(warehouse, DAY)
    with psycopg.connect(warehouse) as conn:
        by_source = dict(conn.execute(
            "SELECT source, count(*) FROM jobreqs.postings WHERE posting_date = %s GROUP BY 1", (DAY,)).fetchall())
        with_tech = conn.execute(
            "SELECT count(DISTINCT source_id) FROM jobreqs.posting_technologies WHERE source = 'hn'").fetchone()[0]
        mart = dict(conn.execute(
            "SELECT source, postings FROM jobreqs.postings_daily WHERE posting_date = %s AND keyword = 'all'",
            (DAY,)).fetchall())
        sightings = conn.execute("SELECT count(*) FROM jobreqs.posting_sightings WHERE seen_on = %s",
                                 (DAY,)).fetchone()[0]
    collected = stages["collect_hn"][1]["collected"]
    assert stages["collect_hn"][0] == "success" and collected > 10
    assert stages["scrape_indeed"][0] == stages["upwork_token"][0] == "skipped"
    assert by_source == {"hn": collected} == {"hn": stages["normalise"][1]["postings"]["hn"]}
    assert with_tech > 0.8 * collected
    assert mart == {"hn": collected, "all": collected}
    assert sightings == collected
    assert all(stages[s][0] == "success" for s in ("normalise", "classify", "extract", "clean_up", "load", "publish"))
