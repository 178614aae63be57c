"""The newcomer's first hour, as a test: a fresh ``git clone`` into an empty folder, the README's
two commands exactly as written, then ``jobreqs ui``, a run triggered through its REST API on the
sandboxes, a screenshot of it, and ``make clean-state`` leaving no Postgres behind.

It runs the clone's own ``make`` with an environment a newcomer has (PATH, HOME: no AIRFLOW_*,
no JOBREQS_*, no virtualenv), so it installs the clone's ``.venv`` from ``requirements.txt``
(pip's cache in HOME is shared, as on a machine that installed before). ``make test`` runs a
short selection (``PYTEST_ARGS``, as the README allows) to keep CI short: the full suite has its
own CI step. Prints ``FIGURES`` lines: each README command's wall time and the number of lines
the first ``make run`` printed. Marked ``newcomer`` (deselected by default, CI runs it with
``-m newcomer``) and ``slow``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.airflow_services import free_port

# minutes: a fresh install (3 on a quiet machine, 10+ on two busy cores), two DAG runs, the UI
pytestmark = [pytest.mark.newcomer, pytest.mark.slow, pytest.mark.timeout(3000)]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
#: The selection ``make test`` runs in the clone: quick tests that read the shipped data and
#: the DAG files (the whole suite is CI's own step).
CLONE_PYTEST_ARGS = "-m 'not slow' -p no:cacheprovider -q tests/test_dag_integrity.py tests/classifier/test_cli.py"


def readme_commands() -> list[str]:
    """The commands of the README's "Two commands" block, comments removed."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def newcomer_env() -> dict[str, str]:
    """What a newcomer's shell has: no project, Airflow or virtualenv settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "TMPDIR", "PIP_FIND_LINKS", "PIP_CERT",
            "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # the test runs inside a virtualenv: take its bin off PATH, as in a newcomer's shell
    venv_bin = str(Path(os.sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def run_timed(command: str, cwd: Path, env: dict, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    # one stream, in the order a terminal shows it; on a timeout or an interrupt the whole session
    # goes (make, pip, jobreqs and what they started), not only bash
    process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except BaseException:
        stop_group(process)
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, output, None)
    return result, time.monotonic() - started


def api(base: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=90) as response:  # two busy cores: slow answers
        return json.loads(response.read() or b"{}")


def api_token(base: str) -> str:
    """A JWT from the simple auth manager; with every visitor an admin it asks for no password."""
    with urllib.request.urlopen(base + "/auth/token", timeout=30) as response:
        return json.loads(response.read())["access_token"]


def wait_for(condition, what: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"jobreqs ui exited ({process.returncode}) while waiting for {what}:\n"
                                 + (log.read_text(errors="replace")[-4000:] if log else ""))
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f":\n{log.read_text(errors='replace')[-4000:]}" if log else ""))
        time.sleep(3)


def processes_of(folder: Path) -> list[str]:
    """Command lines of the live processes that run from ``folder``: their command line names it
    or their working directory is inside it (Airflow's components retitle themselves)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            zombie = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and (str(folder) in cmdline or cwd == str(folder) or cwd.startswith(str(folder) + "/")):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def listening_addresses(port: int) -> set[str]:
    """The addresses a TCP port listens on, from /proc/net/tcp (IPv4) and tcp6."""
    import ipaddress

    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(raw)))
    return found


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the session's group, SIGKILL after a minute (children that outlive their parent too)."""
    import contextlib

    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the leader went; anything left of its group goes too
            return
        except subprocess.TimeoutExpired:
            continue


def screenshot_run(base: str, dag_id: str, run_id: str, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_airflow_deployment import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}", timeout=120_000)
            page.get_by_text(run_id).first.wait_for(timeout=120_000)
            page.get_by_text(re.compile(r"^\s*success\s*$", re.I)).first.wait_for(timeout=120_000)
            page.wait_for_timeout(2_000)  # let the grid and the graph draw
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_newcomer_clones_runs_tests_triggers_from_the_ui_and_cleans_up(artifacts_dir):
    commands = readme_commands()
    assert commands == ["make run", "make test"], commands
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    # Not under pytest's tmp_path: the clone's own `make test` runs pytest, which prunes old
    # /tmp/pytest-of-<user> folders, this one included.
    tmp_path = Path(tempfile.mkdtemp(prefix="jobreqs-newcomer-"))
    clone = tmp_path / "newcomer" / "jobreqs"
    clone.parent.mkdir()
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "checkout", "--quiet", head], cwd=clone, check=True)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["jobreqs"]  # nothing beside it
    env = newcomer_env()
    figures: dict[str, str] = {}
    ui = None
    try:
        # 1. make run, as written: installs .venv, runs today's DAG on the sandboxes
        result, seconds = run_timed(commands[0], clone, env, timeout=1500)
        output = result.stdout
        figures["make_run_seconds"] = f"{seconds:.0f}"
        figures["make_run_lines"] = str(len(output.splitlines()))
        # what `jobreqs run` printed, the install's lines (pip's own warnings included) left out
        run_lines = output.splitlines()
        start = next((i for i, line in enumerate(run_lines) if line.strip().endswith("jobreqs run")), 0)
        figures["jobreqs_run_lines"] = str(len(run_lines) - start - 1)
        (artifacts_dir / "newcomer-make-run.txt").write_text(output)
        assert result.returncode == 0, output[-6000:]
        assert re.search(r"jobreqs_daily for \d{4}-\d\d-\d\d: success", output), output[-4000:]
        assert "the local sandbox" in output

        # 2. make test, as written, on a short selection (README: PYTEST_ARGS picks tests)
        result, seconds = run_timed(f"{commands[1]} PYTEST_ARGS={shlex.quote(CLONE_PYTEST_ARGS)}", clone, env, timeout=900)
        figures["make_test_seconds"] = f"{seconds:.0f}"
        assert result.returncode == 0, result.stdout[-6000:]
        assert re.search(r"\d+ passed", result.stdout), result.stdout[-3000:]

        # 3. jobreqs ui: starts the sandboxes, listens on 127.0.0.1 only
        port = free_port()
        ui_log = tmp_path / "ui.log"
        with open(ui_log, "w") as log:
            ui = subprocess.Popen([str(clone / ".venv/bin/jobreqs"), "ui", "--port", str(port)], cwd=clone, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                with urllib.request.urlopen(base + "/api/v2/monitor/health", timeout=5) as response:
                    return json.loads(response.read()).get("scheduler", {}).get("status") == "healthy"
            except (OSError, ValueError):
                return False

        started = time.monotonic()
        wait_for(healthy, "the UI's api-server and scheduler", 300, ui, ui_log)
        token = api_token(base)

        def parsed():
            try:
                return api(base, "GET", "/api/v2/dags/jobreqs_daily", token)
            except (OSError, ValueError):  # 404 until parsed, or a slow answer
                return None

        wait_for(parsed, "the dag-processor to parse jobreqs_daily", 300, ui, ui_log)
        figures["ui_ready_seconds"] = f"{time.monotonic() - started:.0f}"
        assert "sandbox" in ui_log.read_text()
        bound = listening_addresses(port)
        assert bound == {"127.0.0.1"}, bound  # this machine only

        # 4. trigger jobreqs_daily through the REST API; it must succeed on the sandboxes
        api(base, "PATCH", "/api/v2/dags/jobreqs_daily", token, {"is_paused": False})
        run = api(base, "POST", "/api/v2/dags/jobreqs_daily/dagRuns", token, {"logical_date": None})
        run_id = run["dag_run_id"]
        started = time.monotonic()

        def finished():
            try:
                state = api(base, "GET", f"/api/v2/dags/jobreqs_daily/dagRuns/{urllib.parse.quote(run_id, safe='')}", token)["state"]
            except (OSError, ValueError):  # a slow answer: ask again
                return None
            return state if state in ("success", "failed") else None

        state = wait_for(finished, f"run {run_id}", 900, ui, ui_log)
        figures["ui_run_seconds"] = f"{time.monotonic() - started:.0f}"
        tis = api(base, "GET", f"/api/v2/dags/jobreqs_daily/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances", token)
        states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
        assert state == "success", (states, ui_log.read_text(errors="replace")[-4000:])
        assert states["scrape_indeed"] == states["upwork_fetch"] == states["load"] == "success", states
        shot = artifacts_dir / "newcomer-ui-run-succeeded.png"
        screenshot_run(base, "jobreqs_daily", run_id, shot)
        assert shot.stat().st_size > 10_000

        # 5. stopping the UI stops everything it started
        os.kill(ui.pid, signal.SIGTERM)
        ui.wait(90)
        time.sleep(2)
        left = [p for p in processes_of(clone) if "postgres" not in p]
        assert not left, left
    finally:
        if ui is not None:
            stop_group(ui)
        # 6. make clean-state: the embedded Postgres is stopped, .state is gone
        result, seconds = run_timed("make clean-state", clone, env, timeout=180)
        figures["clean_state_seconds"] = f"{seconds:.0f}"
        print("FIGURES " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
        clean_output = result.stdout
        left = processes_of(clone)
        if not left:
            shutil.rmtree(tmp_path, ignore_errors=True)
    assert result.returncode == 0, clean_output
    assert "stopped the embedded Postgres" in clean_output, clean_output
    assert not (clone / ".state").exists()
    assert not left, left
