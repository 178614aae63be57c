"""`jobreqs sandbox-month` on a few dates: every date collected from the sandboxes (past dates
too), new postings each day, the trends page of the period drawn with a line per day."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.conftest import airflow_conn_json

pytestmark = [pytest.mark.slow, pytest.mark.browser]

END = dt.date(2026, 11, 5)
DAYS = 3


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_sandbox_month_on_three_dates(airflow_metadata, warehouse, lake_root, artifacts_dir, tmp_path):
    shot = artifacts_dir / "sandbox_month_test.png"
    shot.unlink(missing_ok=True)
    env = dict(airflow_metadata) | {"AIRFLOW_CONN_JOBREQS_WAREHOUSE": airflow_conn_json(warehouse),
                                    "JOBREQS_LAKE_URL": str(lake_root)}
    for key in [k for k in env if k.startswith(("JOBREQS_INDEED_", "JOBREQS_UPWORK_", "JOBREQS_HN_", "JOBREQS_GREENHOUSE_",
                                                "JOBREQS_LEVER_", "JOBREQS_ASHBY_", "AIRFLOW_VAR_JOBREQS_ATS"))]:
        env.pop(key)  # the command starts the sandboxes itself
    result = subprocess.run([sys.executable, "-m", "jobreqs.cli", "sandbox-month", "--days", str(DAYS),
                             "--end", END.isoformat(), "--upwork-jobs", "60", "--screenshot", str(shot)],
                            env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    days = [END - dt.timedelta(days=n) for n in reversed(range(DAYS))]
    assert f"{DAYS} of {DAYS} runs succeeded" in result.stdout
    with psycopg.connect(warehouse) as conn:
        per_day = conn.execute("""SELECT source, posting_date, count(*) FROM jobreqs.postings
                                  GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
        ids = conn.execute("SELECT posting_date, array_agg(source_id) FROM jobreqs.postings GROUP BY 1").fetchall()
        statuses = conn.execute("""SELECT DISTINCT stage, status FROM jobreqs.pipeline_runs
                                   WHERE stage IN ('scrape_indeed', 'upwork_fetch', 'collect_hn', 'collect_greenhouse',
                                                   'collect_lever', 'collect_ashby')""").fetchall()
    # every date, every source, though the dates are in the past: the sandboxes serve any date
    sources = ("indeed", "upwork", "hn", "greenhouse", "lever", "ashby")
    assert {(s, d) for s, d, _ in per_day} == {(s, d) for s in sources for d in days}
    assert set(statuses) == {(stage, "success") for stage in ("scrape_indeed", "upwork_fetch", "collect_hn",
                                                              "collect_greenhouse", "collect_lever", "collect_ashby")}
    by_day = [set(i) for _, i in ids]
    assert all(not a & b for a in by_day for b in by_day if a is not b), "new postings every day"
    assert shot.stat().st_size > 30_000
    # the page of the period: a point per day for each technology, every source selectable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from jobreqs.sandbox_month import page_query, trends_page

    os.environ["AIRFLOW_CONN_JOBREQS_WAREHOUSE"] = airflow_conn_json(warehouse)
    with trends_page() as url:
        with urllib.request.urlopen(url + "api/trends" + page_query(days[0], days[-1]), timeout=60) as answer:
            data = json.loads(answer.read())
    assert set(sources) <= set(data["options"]["sources"])
    assert all(len(points) == DAYS for points in data["series"].values())
