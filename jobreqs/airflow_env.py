"""The Airflow settings the project's own commands run with (``jobreqs run``, ``jobreqs ui``, tests).

Only defaults: any ``AIRFLOW__*`` or ``AIRFLOW_HOME`` already in the environment wins, so an
operator's own Airflow configuration is never overridden.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from jobreqs.config import PROJECT_ROOT, state_dir


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or state_dir() / "airflow")


def defaults(home: Path | None = None) -> dict[str, str]:
    home = home or airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # Local use only: the simple auth manager lets everyone in as admin (README explains).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # The embedded Postgres warns about a missing XDG runtime dir on headless machines.
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR") or str(state_dir() / "run"),
    }


def apply(home: Path | None = None) -> dict[str, str]:
    """Set the defaults in ``os.environ`` (before Airflow is imported) and return the result."""
    for key, value in defaults(home).items():
        os.environ.setdefault(key, value)
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    return {k: os.environ[k] for k in defaults(home)}


def ensure_metadata_db() -> None:
    """``airflow db migrate`` once per Airflow version and metadata database (it takes ~15 s)."""
    import subprocess
    import sys

    from importlib.metadata import version

    home = Path(os.environ["AIRFLOW_HOME"])
    stamp = home / f".db-migrated-{version('apache-airflow')}"
    # A hash, not the URL itself: the URL may hold a password.
    url = hashlib.sha256(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == url:
        return
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(url)


#: Messages between a task and its supervisor whose body is a secret. Airflow's own supervisor
#: logs them "(body omitted)"; the in-process supervisor of ``dag.test()`` (``jobreqs run``,
#: ``airflow dags test``) logs the whole message at DEBUG, secret included.
SECRET_MESSAGES = frozenset({"MaskSecret"})


def omit_secret_bodies(logger, method_name, event_dict):
    """A structlog processor: a supervisor message that carries a secret is logged by its type
    only, at every level."""
    for key, value in event_dict.items():
        if type(value).__name__ in SECRET_MESSAGES:
            event_dict[key] = f"{type(value).__name__}(body omitted)"
    return event_dict


def guard_secret_logging() -> None:
    """Put :func:`omit_secret_bodies` first in Airflow's structlog chain (call it after Airflow
    has configured its logging, before any task runs in this process)."""
    import structlog

    processors = list(structlog.get_config()["processors"])
    if omit_secret_bodies not in processors:
        structlog.configure(processors=[omit_secret_bodies, *processors])
