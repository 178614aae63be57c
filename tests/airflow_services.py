"""A real Airflow deployment for the tests: api-server, scheduler and dag-processor, LocalExecutor,
Postgres metadata database, the project's DAGs and plugins, and a login (simple auth manager).

Used by the backfill test and the browser tests. Each component is started with the ``airflow``
command exactly as an operator would, logs into ``<home>/service-logs/``, and is stopped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from jobreqs import airflow_env

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlalchemy_url(conninfo: str) -> str:
    """SQLAlchemy URL of a libpq conninfo (TCP host or Unix socket directory)."""
    p = conninfo_to_dict(conninfo)
    user = p.get("user", "postgres")
    if p.get("host", "").startswith("/"):
        return f"postgresql+psycopg2://{user}@/{p['dbname']}?host={p['host']}"
    return f"postgresql+psycopg2://{user}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


@dataclass
class AirflowServices:
    home: Path
    env: dict[str, str]
    port: int
    username: str
    password: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self.cli("db", "migrate", timeout=600)
        logs = self.home / "service-logs"
        logs.mkdir(exist_ok=True)
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in commands.items():
            log = open(logs / f"{name}.log", "w")
            self.processes[name] = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for(lambda: self._get("/api/v2/monitor/health") is not None, "the api-server", 180)
        self.wait_for(lambda: "jobreqs_daily" in self.cli("dags", "list", "-o", "plain"),
                      "the dag-processor to parse jobreqs_daily", 240)

    def _get(self, path: str):
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.read()
        except OSError:
            return None

    def wait_for(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited while waiting for {what}: see {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; logs in {self.home / 'service-logs'}")
            time.sleep(2)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return (self.home / "service-logs" / f"{name}.log").read_text(errors="replace")[-chars:]

    def dag_runs(self, dag_id: str) -> list[dict]:
        # Airflow may print warnings before the JSON: the document is the line that starts with '['.
        lines = [line for line in self.cli("dags", "list-runs", dag_id, "-o", "json").splitlines()
                 if line.startswith("[")]
        return json.loads(lines[-1]) if lines else []

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def start_services(home: Path, metadata_conninfo: str, extra_env: dict[str, str]) -> AirflowServices:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    username, password = "admin", secrets.token_urlsafe(12)
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps({username: password}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(airflow_env.defaults(home))
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_conninfo),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    })
    env.update(extra_env)
    services = AirflowServices(home=home, env=env, port=port, username=username, password=password)
    try:
        services.start()
    except BaseException:
        services.stop()
        raise
    return services
