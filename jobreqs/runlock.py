"""One jobreqs command at a time per Airflow home (``.state/airflow``).

``jobreqs run``, ``jobreqs sandbox-month`` and ``jobreqs ui`` share the SQLite metadata database
of their Airflow home: two ``dag.test()`` runs at once break it (SQLite's foreign keys), and the
UI's scheduler would pick up the tasks of a ``jobreqs run`` without the sandbox settings of the
process that started it. So each takes an exclusive lock on a file there first; a second one
stops at once with a message that names the first. The lock is an ``flock``: the kernel releases
it when its holder exits, however it exits, so a killed command never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator

from jobreqs import airflow_env


class Busy(SystemExit):
    """Another jobreqs command holds the Airflow home (its message is for the user)."""


def _advice(holder: dict) -> str:
    if holder.get("command") == "ui":
        return ("`jobreqs ui` is up on this Airflow home: trigger jobreqs_daily from the UI (it runs on the "
                "same sandboxes), or stop the UI (Ctrl-C) first")
    return "wait for it to finish, or stop it (Ctrl-C) first"


@contextlib.contextmanager
def exclusive(command: str) -> Iterator[None]:
    """Hold the Airflow home for ``command`` ("run", "ui", "sandbox-month"), or raise :class:`Busy`."""
    home = airflow_env.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / "jobreqs.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            raise Busy(f"a run is in progress: `jobreqs {holder.get('command', '?')}` (pid {holder.get('pid', '?')}, "
                       f"since {holder.get('since', '?')}) is using {home}; {_advice(holder)}.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"command": command, "pid": os.getpid(),
                                 "since": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
