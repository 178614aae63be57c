"""The small parts behind the newcomer fixes (issue 12), each against the real thing: the lock
between jobreqs commands, the OpenAI preflight against the local OpenAI-compatible server, the
embedded Postgres stop, the Makefile's interpreter choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_a_second_command_on_the_same_airflow_home_stops_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from jobreqs import runlock\n"
                               "with runlock.exclusive('ui'):\n    print('held', flush=True); time.sleep(60)"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        from jobreqs import runlock

        with pytest.raises(runlock.Busy, match=r"a run is in progress: `jobreqs ui` \(pid \d+.*trigger jobreqs_daily from the UI"):
            with runlock.exclusive("run"):
                pass
    finally:
        holder.kill()
        holder.wait()
    from jobreqs import runlock

    with runlock.exclusive("run"):  # the kernel released the killed holder's lock
        pass


@pytest.fixture
def fake_openai(monkeypatch):
    from transforms.extract.fake_openai_server import FakeOpenAI

    fake = FakeOpenAI(api_key="test-key")
    url = fake.serve()
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT", json.dumps({"conn_type": "openai", "host": url, "password": "test-key"}))
    yield url
    fake.stop()


def test_openai_preflight_fails_in_seconds_without_connection_key_or_server(monkeypatch, fake_openai):
    from transforms.extract.openai_backend import NotUsable, preflight

    url = fake_openai
    assert preflight() == url  # the right key: GET /models answers
    cases = {
        "wrong key": ({"conn_type": "openai", "host": url, "password": "wrong"}, "refused the API key"),
        "no key": ({"conn_type": "openai", "host": url}, "needs an API key"),
        "no server": ({"conn_type": "openai", "host": "http://127.0.0.1:9/v1", "password": "k" * 8}, "cannot reach"),
    }
    for name, (conn, message) in cases.items():
        monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT", json.dumps(conn))
        started = time.monotonic()
        with pytest.raises(NotUsable, match=message):
            preflight()
        assert time.monotonic() - started < 15, name
    monkeypatch.delenv("AIRFLOW_CONN_OPENAI_DEFAULT")
    with pytest.raises(NotUsable, match="needs the Airflow connection 'openai_default'"):
        preflight()


def test_stop_embedded_stops_the_server_and_never_starts_one(state_dir):
    from jobreqs import embedded_pg

    embedded_pg._server.cache_clear()
    assert embedded_pg.stop() is False and embedded_pg.running_pid() is None  # nothing started
    embedded_pg.ensure_started()
    pid = embedded_pg.running_pid()
    assert pid is not None
    assert embedded_pg.stop() is True
    assert embedded_pg.running_pid() is None and not embedded_pg._alive(pid)  # gone (or a zombie of ours)
    embedded_pg._server.cache_clear()


def test_the_makefile_finds_a_supported_python_and_refuses_others_before_installing(tmp_path):
    found = subprocess.run(["make", "-s", "-C", str(ROOT), "--eval", "print-python: ; @echo $(PYTHON)", "print-python"],
                           capture_output=True, text=True, check=True).stdout.strip()
    version = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version in ("(3, 11)", "(3, 12)", "(3, 13)"), (found, version)
    # An unsupported interpreter, in a copy of the project's make files: refused before any install.
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\ncase \"$2\" in *platform*) echo 3.10.4;; *) exit 1;; esac\n")
    old.chmod(0o755)
    result = subprocess.run(["make", "-C", str(tmp_path), "venv", f"PYTHON={old}"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "is Python 3.10.4: Python 3.11, 3.12 or 3.13 is required" in result.stdout + result.stderr
    assert not (tmp_path / ".venv").exists()


def test_ui_stop_group_stops_a_process_tree_that_outlives_its_leader():
    """What ``jobreqs ui`` does on SIGTERM: the whole group of ``airflow standalone`` goes, the
    grandchildren that outlive their parent included."""
    from jobreqs.ui import _group_alive, stop_group

    # a leader whose child ignores SIGTERM (a busy worker): SIGKILL after the grace period
    script = "import subprocess, sys, time\n" \
             "subprocess.Popen([sys.executable, '-c', 'import signal, time; " \
             "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\ntime.sleep(120)"
    leader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(1.5)
    assert _group_alive(leader.pid)
    started = time.monotonic()
    stop_group(leader, grace=3)
    assert not _group_alive(leader.pid) and time.monotonic() - started < 20


def test_ui_refuses_an_open_address_while_every_visitor_is_admin(monkeypatch):
    from jobreqs.ui import _refuse_open_admin

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    _refuse_open_admin("127.0.0.1")
    with pytest.raises(SystemExit, match="SIMPLE_AUTH_MANAGER_ALL_ADMINS=False"):
        _refuse_open_admin("0.0.0.0")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    _refuse_open_admin("0.0.0.0")  # with a login it may listen anywhere


def test_summary_says_what_its_figures_are_and_marks_files_of_an_earlier_run(warehouse, lake_root):
    import datetime as dt

    from jobreqs import lake, summary
    from jobreqs.runs import record_stage

    day = dt.date(2026, 11, 20)
    old = lake.partition(lake_root, "raw", "indeed", day) / "part-0000.jsonl.gz"
    lake.write_jsonl_gz(old, iter([{"a": 1}]))
    os.utime(old.path, (time.time() - 3600, time.time() - 3600))  # written an hour before this run
    new = lake.partition(lake_root, "staging", "postings", day) / "part-0000.jsonl.gz"
    lake.write_jsonl_gz(new, iter([{"a": 1}]))
    import psycopg

    with psycopg.connect(warehouse, autocommit=True) as conn:
        record_stage(conn, run_id="r1", dag_id="jobreqs_daily", day=day, stage="clean_up",
                     stats={"technologies": 12, "removed_terms": 0, "unmapped_terms": 1})

    class Run:
        state, run_id = "success", "r1"
        start_date = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)

        @staticmethod
        def get_task_instances():
            return []

    text = summary.render(Run, day, 1.0, [])
    assert "clean_up: posting-technology pairs 12" in text
    assert "rows per table (every date):" in text and "technologies (the taxonomy) " in text
    assert "raw/indeed/dt=2026-11-20/: part-0000.jsonl.gz (earlier run)" in text
    assert "staging/postings/dt=2026-11-20/: part-0000.jsonl.gz\n" in text + "\n"
