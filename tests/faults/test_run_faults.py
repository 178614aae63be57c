"""Cases 9-12 of issue 11, on whole Airflow runs: secrets at DEBUG (``jobreqs -v run``), the
crawl before the migrations, an Upwork day whose jobs keep arriving, and a failed task's record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from jobreqs import lake
from jobreqs.config import PROJECT_ROOT
from tests.conftest import airflow_conn_json
from tests.faults.conftest import OPENAI_KEY, figures
from tests.faults.conftest import UPWORK_DAY as DAY

PG_PASSWORD = "pg-fault-suite-SECRET-7f3a"


def _files_holding(folder: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            try:
                import gzip

                data += gzip.decompress(data) if path.suffix == ".gz" else b""
            except OSError:
                pass
            found += [f"{path}: {s[:6]}..." for s in secrets if s.encode() in data]
    return found


@pytest.mark.slow
def test_case9_and_10_jobreqs_v_run_prints_no_secret_and_crawls_once_after_the_migrations(
        airflow_metadata, create_database, hostile_openai, tmp_path):
    from scrapers.proxy_sandbox import scrapeops_sandbox
    from tests.indeed.test_run import PROXY_KEY

    fresh = create_database("jobreqs_fault_run")  # never migrated: the run's first task does it
    openai = hostile_openai()
    warehouse_conn = json.loads(airflow_conn_json(fresh)) | {"password": PG_PASSWORD}
    env = dict(airflow_metadata)
    env.pop("AIRFLOW__LOGGING__LOGGING_LEVEL", None)
    # a sandbox ScrapeOps API: it fetches the sandbox Indeed's (loopback) pages as they are
    with scrapeops_sandbox({}, PROXY_KEY) as (endpoint, proxy):
        env.update({
            "JOBREQS_STATE_DIR": str(tmp_path / "state"),
            "AIRFLOW_CONN_JOBREQS_WAREHOUSE": json.dumps(warehouse_conn),
            "AIRFLOW_CONN_OPENAI_DEFAULT": os.environ["AIRFLOW_CONN_OPENAI_DEFAULT"],
            "AIRFLOW_CONN_INDEED_PROXY": json.dumps({"conn_type": "http", "password": PROXY_KEY, "extra": {
                "api": "scrapeops", "endpoint": endpoint}}),
        })
        result = subprocess.run([str(Path(sys.executable).with_name("jobreqs")), "-v", "run", "--backend", "openai"],
                                env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "[debug" in output.lower() and "MaskSecret(body omitted)" in output  # DEBUG, and it was tested
    secrets = [OPENAI_KEY, PROXY_KEY, PG_PASSWORD]
    leaks = {s[:6]: output.count(s) for s in secrets}
    assert leaks == {s[:6]: 0 for s in secrets}, f"secrets in the output: {leaks}"
    airflow_home = Path(env["AIRFLOW_HOME"])
    assert _files_holding(airflow_home / "logs", secrets) == []
    assert _files_holding(tmp_path / "state" / "lake", secrets) == []
    assert proxy.calls and sum(openai.text_calls.values()) > 0  # both secrets were really used
    with psycopg.connect(fresh) as conn:
        runs = dict(conn.execute("SELECT stage, status FROM jobreqs.pipeline_runs").fetchall())
        stored = conn.execute("SELECT string_agg(coalesce(message, '') || stats::text, ' ') "
                              "FROM jobreqs.pipeline_runs").fetchone()[0]
    assert not any(s in stored for s in secrets)
    # Case 10: on a fresh warehouse the crawl ran once, after the migrations, and recorded.
    assert runs["scrape_indeed"] == "success" and "does not exist" not in output
    import sqlite3

    with sqlite3.connect(airflow_home / "airflow.db") as meta:
        (tries,) = meta.execute(
            """SELECT ti.try_number FROM task_instance ti JOIN dag_run dr ON dr.run_id = ti.run_id
               AND dr.dag_id = ti.dag_id WHERE ti.task_id = 'scrape_indeed' ORDER BY dr.id DESC LIMIT 1""").fetchone()
    assert tries == 1, "the crawl ran more than once"
    figures("case9-10", debug_lines=output.lower().count("[debug"), secrets_printed=sum(leaks.values()),
            proxy_calls=len(proxy.calls), openai_calls=sum(openai.text_calls.values()), scrape_indeed_tries=tries)


def test_case11_jobs_that_keep_arriving_are_never_a_silent_success(upwork_day, lake_root, warehouse):
    from scrapers.upwork.fetch import MAX_CATCH_UP_PASSES, UpworkFetchIncomplete, upwork_fetch
    from tests.upwork.conftest import truth

    url = upwork_day(jobs=100, arrivals=12, late_arrivals=0, before=5, malformed_rate=0, burst_every=0)
    with pytest.raises(UpworkFetchIncomplete, match="still arriving"):
        upwork_fetch(lake_root, DAY)
    landed = {r["id"] for r in lake.read_partition(lake.partition(lake_root, "raw", "upwork", DAY))}
    pending_then = truth(url)["pending_arrivals"]
    retry = upwork_fetch(lake_root, DAY)  # Airflow's retry of the task
    facts = truth(url)
    ids = [r["id"] for r in lake.read_partition(lake.partition(lake_root, "raw", "upwork", DAY))]
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT id) FROM jobreqs.upwork_jobs").fetchone()
    assert landed and pending_then >= 1  # the first attempt landed what it had, and knew it was short
    assert retry["complete"] is True and facts["pending_arrivals"] == 0
    assert set(ids) == set(facts["window_ids"]) and len(ids) == len(set(ids)) and rows == (len(ids), len(ids))
    figures("case11", first_attempt_landed=len(landed), window_jobs=len(facts["window_ids"]),
            catch_up_passes=MAX_CATCH_UP_PASSES, missing_after_retry=len(set(facts["window_ids"]) - set(ids)))


def test_case12_a_failed_task_records_its_stage_error_and_message(airflow_metadata, warehouse, lake_root, tmp_path):
    import datetime as dt

    from fastapi.testclient import TestClient

    from plugins.jobreqs_trends.app import create_app
    from tests.fixtures.raw_day import write_raw_day
    from transforms.marts import refresh_marts

    day = dt.date(2026, 10, 5)
    write_raw_day(lake_root, day)
    empty = tmp_path / "no-classifier"
    empty.mkdir()
    env = dict(airflow_metadata, AIRFLOW_CONN_JOBREQS_WAREHOUSE=airflow_conn_json(warehouse),
               JOBREQS_LAKE_URL=str(lake_root), JOBREQS_CLASSIFIER_ARTIFACTS=str(empty))
    process = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "dags", "test", "jobreqs_daily",
                                day.isoformat()], env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    row = None
    deadline = time.monotonic() + 300
    try:
        while row is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(1)
            with psycopg.connect(warehouse) as conn:
                row = conn.execute("SELECT run_id, status, stats, message FROM jobreqs.pipeline_runs "
                                   "WHERE stage = 'classify'").fetchone()
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run would wait for the retries (minutes)
        process.wait(30)
    assert row is not None, "the failed classify attempt left no row in pipeline_runs"
    run_id, status, stats, message = row
    assert status == "failed" and stats["error_class"] == "ArtifactError" and stats["will_retry"] is True
    assert "ArtifactError: no classifier" in message and "will retry" in message

    # The summary and the trends page say which stage failed, and why.
    from jobreqs import summary

    class Run:
        state, run_id = "failed", row[0]

        @staticmethod
        def get_task_instances():
            return []

    text = summary.render(Run, day, 1.0, [])
    assert "classify (failed): attempt 1 failed, will retry: ArtifactError" in text
    with psycopg.connect(warehouse, autocommit=True) as conn:
        refresh_marts(conn)
    page = TestClient(create_app(require_login=False, conninfo=warehouse))
    data = page.get("/api/trends").json()["run"]
    html = page.get("/").text
    assert data["failed_stages"] == ["classify"] and data["failures"][0]["error_class"] == "ArtifactError"
    assert "classify failed: attempt 1 failed" in html
    figures("case12", stage="classify", status=status, error_class=stats["error_class"], message=message[:80])


def test_case12_a_failure_message_is_stored_without_secrets(warehouse):
    from jobreqs.pipeline import record_failure

    class TI:
        task_id, try_number = "upwork_token", 2

    class Dag:
        dag_id = "jobreqs_daily"

    class DagRun:
        import datetime as dt

        run_after = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)

    error = RuntimeError(f"login failed for postgres://jobreqs:{PG_PASSWORD}@db/warehouse with key {OPENAI_KEY} "
                         f"and Authorization: Bearer abcdefghijklmnop1234 password={PG_PASSWORD}")
    record_failure({"run_id": "run-x", "dag": Dag, "dag_run": DagRun, "ti": TI, "exception": error, "params": {}},
                   will_retry=False)
    with psycopg.connect(warehouse) as conn:
        status, stats, message = conn.execute("SELECT status, stats, message FROM jobreqs.pipeline_runs "
                                              "WHERE run_id = 'run-x'").fetchone()
    assert status == "failed" and stats == {"error_class": "RuntimeError", "try_number": 2, "will_retry": False}
    assert PG_PASSWORD not in message and OPENAI_KEY not in message and "abcdefghijklmnop1234" not in message
    assert message.startswith("RuntimeError: login failed for postgres://jobreqs:***@db/warehouse")
