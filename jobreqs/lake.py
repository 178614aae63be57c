"""The lake: the immutable record of every stage, as gzip JSON Lines and Parquet files.

Reached through Airflow's ``ObjectStoragePath``, so ``file://`` (the default, a folder under
``.state/``) and ``s3://bucket/prefix`` (through the ``aws_default`` connection) behave the same.

Layout, one partition per source and logical date::

    raw/<source>/dt=YYYY-MM-DD/*.jsonl.gz          what a scraper collected, as collected
    quarantine/<source>/dt=YYYY-MM-DD/*.jsonl.gz   records that failed a check, with their reason
    staging/<stage>/dt=YYYY-MM-DD/*.jsonl.gz       each transform stage's output
    curated/<table>/dt=YYYY-MM-DD/*.parquet        what was published

Writes are atomic: a file is written under a hidden temporary name beside its target
(``.<name>.jobreqs-tmp-<host>-<pid>-<random>.tmp``, :mod:`jobreqs.temporaries`) and renamed into
place, so a reader never sees half a file (readers only list ``*.jsonl.gz``); the next write into
the partition sweeps the temporaries of a writer that was killed. Replacing a partition writes the
new files first and deletes the old ones after, so a re-run replaces a snapshot, never appends.
Everything streams: records are written and read one line at a time.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from airflow.sdk import ObjectStoragePath

from jobreqs import temporaries
from jobreqs.config import lake_conn_id, lake_url


def lake_root(url: str | None = None) -> ObjectStoragePath:
    """The lake's root path (``JOBREQS_LAKE_URL``, default ``.state/lake``)."""
    url = url or lake_url()
    if url.startswith("file://"):
        return ObjectStoragePath(url)
    return ObjectStoragePath(url, conn_id=lake_conn_id())


def partition(root: ObjectStoragePath, zone: str, name: str, day: dt.date | str) -> ObjectStoragePath:
    """``root/zone/name/dt=YYYY-MM-DD``."""
    day = day.isoformat() if isinstance(day, dt.date) else day
    return root / zone / name / f"dt={day}"


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_default)


@contextmanager
def atomic_writer(path: ObjectStoragePath) -> Iterator[BinaryIO]:
    """A binary file handle whose content appears at ``path`` only when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporaries.sweep(path.parent)
    tmp = path.parent / temporaries.temp_name(path.name)
    try:
        with tmp.open("wb") as handle:
            yield handle
        tmp.rename(path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def write_jsonl_gz(path: ObjectStoragePath, records: Iterable[dict]) -> int:
    """Stream ``records`` into ``path`` atomically; return how many were written."""
    count = 0
    with atomic_writer(path) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
        for record in records:
            text.write(dumps(record))
            text.write("\n")
            count += 1
        text.flush()
        text.detach()
    return count


def write_bytes_atomic(path: ObjectStoragePath, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def list_files(directory: ObjectStoragePath, pattern: str = "*.jsonl.gz") -> list[ObjectStoragePath]:
    """Visible data files of a partition, sorted by name (hidden temporaries are skipped)."""
    if not directory.exists():
        return []
    return sorted((p for p in directory.glob(pattern) if not p.name.startswith(".")), key=lambda p: p.name)


def read_jsonl_gz(path: ObjectStoragePath) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line_text)`` of one file, streaming; lines are not parsed here so
    that a caller can quarantine a line that is not JSON instead of failing the file."""
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        for number, line in enumerate(io.TextIOWrapper(gz, encoding="utf-8", errors="replace"), start=1):
            line = line.strip()
            if line:
                yield number, line


def read_partition(directory: ObjectStoragePath) -> Iterator[dict]:
    """Every record of every file of a partition written by this project (trusted JSON)."""
    for path in list_files(directory):
        for _, line in read_jsonl_gz(path):
            yield json.loads(line)


def replace_partition(directory: ObjectStoragePath, records: Iterable[dict], name: str = "part-0000.jsonl.gz") -> int:
    """Write ``records`` as the partition's only file: the new file lands first, stale ones go after."""
    count = write_jsonl_gz(directory / name, records)
    for stale in list_files(directory):
        if stale.name != name:
            stale.unlink()
    return count


def replace_quarantine(target: ObjectStoragePath, spool: "Spool") -> int:
    """Write a stage's quarantined rows to ``target`` (replacing a previous run's), or remove a
    stale file when this run set nothing aside; closes the spool. Returns the row count."""
    count = spool.count
    if count:
        write_jsonl_gz(target, spool.rows())
    elif target.exists():
        target.unlink()
    spool.close()
    return count


class Spool:
    """Records set aside while a partition streams (quarantined ones, say), kept in a local
    temporary file so memory stays flat however many there are; ``rows()`` reads them back."""

    def __init__(self) -> None:
        self.count = 0
        self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    def add(self, row: dict) -> None:
        self._file.write(dumps(row) + "\n")
        self.count += 1

    def rows(self) -> Iterator[dict]:
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)

    def close(self) -> None:
        self._file.close()
