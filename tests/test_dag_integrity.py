"""DAG checks, as Airflow checks its own example DAGs: every DAG file imports with no error, and
parsing runs no database query, looks up no connection or Variable and opens no socket."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"

# Run in a fresh interpreter: guards are installed before anything imports the DAG files.
PARSE_WITH_GUARDS = textwrap.dedent("""
    import json, socket, sys
    calls = []

    def forbid(what):
        def guard(*args, **kwargs):
            calls.append(what)
            raise RuntimeError(f"DAG parsing must not {what}")
        return guard

    socket.socket.connect = forbid("open a network connection")
    import psycopg, psycopg2
    psycopg.connect = forbid("connect to Postgres (psycopg)")
    psycopg2.connect = forbid("connect to Postgres (psycopg2)")
    from airflow.sdk import BaseHook, Variable
    BaseHook.get_connection = classmethod(forbid("look up a connection"))
    Variable.get = staticmethod(forbid("read a Variable"))
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    event.listen(Engine, "before_cursor_execute", lambda *a, **k: calls.append("database query"))

    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                      "dags": sorted(bag.dag_ids), "calls": calls,
                      "files": sorted({d.fileloc for d in bag.dags.values()})}))
""")


@pytest.fixture(scope="module")
def parsed(airflow_metadata):
    out = subprocess.run([sys.executable, "-c", PARSE_WITH_GUARDS, str(DAGS)], env=airflow_metadata,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_dag_file_imports_without_errors(parsed):
    assert parsed["errors"] == {}
    dag_files = {str(p) for p in DAGS.glob("*.py") if not p.name.startswith("_")}
    assert dag_files == set(parsed["files"]), "every file in dags/ defines a DAG"


def test_parsing_opens_no_connection_and_runs_no_query(parsed):
    assert parsed["calls"] == []


def test_daily_dag_shape(parsed):
    from airflow.dag_processing.dagbag import DagBag

    assert "jobreqs_daily" in parsed["dags"]
    dag = DagBag(dag_folder=str(DAGS / "jobreqs_daily.py")).get_dag("jobreqs_daily")
    assert dag.catchup is False and dag.max_active_runs <= 3
    assert "jobreqs" in dag.tags and dag.doc_md
    assert {"keywords", "locations", "sources", "extraction_backend"} <= set(dag.params.keys())
    for task in dag.tasks:
        assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("normalise") < order.index("load") < order.index("publish")


def test_daily_dag_checks_quality_after_load_before_publish(parsed):
    """The dq_* tasks are the common-sql provider's check operators, downstream of load and
    upstream of publish, with both severities."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    dag = DagBag(dag_folder=str(DAGS / "jobreqs_daily.py")).get_dag("jobreqs_daily")
    checks = [t for t in dag.tasks if t.task_id.startswith("dq_")]
    assert len(checks) >= 5
    assert {t.severity for t in checks} == {"fail", "warn"}
    for task in checks:
        assert isinstance(task, BaseSQLOperator), task.task_id
        assert "load" in task.upstream_task_ids and "publish" in task.downstream_task_ids, task.task_id
        assert task.retry_on_failure is False  # a miss is final; retries only cover errors


def test_rederive_dag_runs_on_the_daily_publish_asset_one_mapped_task_per_date(parsed):
    from airflow.dag_processing.dagbag import DagBag

    daily = DagBag(dag_folder=str(DAGS / "jobreqs_daily.py")).get_dag("jobreqs_daily")
    dag = DagBag(dag_folder=str(DAGS / "jobreqs_rederive.py")).get_dag("jobreqs_rederive")
    emitted = {a.uri for a in daily.get_task("publish").outlets}
    assert emitted == {"jobreqs://warehouse/posting_technologies"}
    assert {asset.uri for asset in dag.timetable.asset_condition.objects} == emitted
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["find_dates", "rederive", "publish"]
    assert dag.get_task("publish").trigger_rule == "none_failed"
