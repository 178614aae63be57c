"""Temporary files and folders that a killed process cannot leave behind for good.

Every temporary the pipeline writes carries a recognisable name that says who wrote it
(``.jobreqs-tmp-<host>-<pid>-<random>``) and lives where the next run of the same stage looks:

* a lake file is written beside its target as ``.<name>.jobreqs-tmp-<host>-<pid>-<random>.tmp``
  and renamed into place (:func:`temp_name`); the next write into that partition sweeps the
  temporaries of writers that are gone (:func:`sweep`);
* a stage's local working folder (the Indeed crawl's output, the Upwork fetch's spool) is
  ``<system temp>/jobreqs-work/<stage>/<host>-<pid>-<random>`` (:func:`work_dir`); the next run
  of the stage sweeps its dead siblings.

A writer is gone when it ran on this host and its process no longer exists, or (another host,
or a name without an owner) when the file is older than :data:`STALE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

MARK = "jobreqs-tmp"
#: A temporary older than this is stale whoever wrote it (the longest task runs 6 hours).
STALE_SECONDS = 24 * 3600
_OWNER = re.compile(rf"{MARK}-([0-9a-f]{{8}})-(\d+)-[0-9a-f]+")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def owner_tag() -> str:
    """``jobreqs-tmp-<host>-<pid>-<random>``: who writes this temporary."""
    return f"{MARK}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def temp_name(target_name: str) -> str:
    """The hidden name a file is written under beside ``target_name`` before the rename."""
    return f".{target_name}.{owner_tag()}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(name: str, age_seconds: float | None) -> bool:
    """True when the temporary ``name`` belongs to a writer that is gone (see the module doc)."""
    match = _OWNER.search(name)
    if match and match.group(1) == _host():
        return not _alive(int(match.group(2)))
    return age_seconds is not None and age_seconds > STALE_SECONDS


def _age(path) -> float | None:
    try:
        return time.time() - float(path.stat().st_mtime)
    except (OSError, AttributeError, TypeError, ValueError):
        return None


def sweep(directory) -> int:
    """Remove the stale temporaries in ``directory`` (a local ``Path`` or a lake
    ``ObjectStoragePath``): files named by :func:`temp_name`, and this project's older hidden
    ``.*.tmp`` files once stale by age. Returns how many were removed."""
    removed = 0
    try:
        if not directory.exists():
            return 0
        entries = list(directory.iterdir())
    except OSError:
        return 0
    for path in entries:
        name = path.name
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        if is_stale(name, _age(path)):
            with contextlib.suppress(OSError, FileNotFoundError):
                if path.is_dir():
                    shutil.rmtree(path) if isinstance(path, Path) else path.rmdir()
                else:
                    path.unlink()
                removed += 1
    return removed


def work_root(stage: str) -> Path:
    return Path(tempfile.gettempdir()) / "jobreqs-work" / stage


@contextlib.contextmanager
def work_dir(stage: str) -> Iterator[Path]:
    """A private local working folder for one run of ``stage``, removed at the end; the dead
    runs' folders of the same stage are swept first."""
    root = work_root(stage)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.is_dir() and is_stale(f"{MARK}-{old.name}", _age(old)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / owner_tag().removeprefix(f"{MARK}-")
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
