"""Export the trend data (the ``technology_trends`` mart) as CSV or Parquet.

``jobreqs export --from D1 --to D2 [--format csv|parquet] [--output PATH]
[--source S] [--keyword K] [--category C]`` writes every row of days D1..D2 (optionally one slice);
the trends page offers the same files. The publish stage also keeps the day's rows in the lake as
``curated/technology_trends/dt=D/part-0000.parquet`` (``publish_curated``).

Rows stream from a server-side cursor into the file: memory stays flat whatever the range.
Reads go through ``transforms.marts.reader_connection`` (role ``jobreqs_reader``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import logging
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobreqs import temporaries
from transforms.marts import EXPORT_COLUMNS, reader_connection, trend_rows

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")
_ARROW_TYPES = {"date": pa.date32(), "string": pa.string(), "int": pa.int64(), "float": pa.float64(),
                "bool": pa.bool_()}
#: The Arrow schema of an export (the same columns as the CSV header).
ARROW_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in EXPORT_COLUMNS])
COLUMN_NAMES = [name for name, _ in EXPORT_COLUMNS]


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


# A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A value as a CSV cell: empty for NULL; a text that starts like a formula is prefixed with
    ' so that a spreadsheet shows it instead of running it (numbers are left as they are)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterable[dict], out: IO[str]) -> int:
    """Write ``rows`` as CSV with a header (dates ISO, empty cell for NULL, formula-like text
    defused); return the row count."""
    writer = csv.DictWriter(out, fieldnames=COLUMN_NAMES, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        count += 1
    return count


def iter_csv(rows: Iterable[dict]) -> Iterator[str]:
    """The CSV of ``rows`` as text chunks (header first), for streaming HTTP responses."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMN_NAMES, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(rows, start=1):
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_parquet(rows: Iterable[dict], sink: str | Path | IO[bytes], batch_size: int = 10_000) -> int:
    """Write ``rows`` as one Parquet file (schema ``ARROW_SCHEMA``) in row groups of
    ``batch_size``; return the row count. An empty export is a valid file with no rows."""
    count = 0
    batch: list[dict] = []
    with pq.ParquetWriter(sink, ARROW_SCHEMA, compression="zstd") as writer:
        def flush() -> None:
            columns = {name: [_cell(r.get(name)) for r in batch] for name in COLUMN_NAMES}
            writer.write_table(pa.Table.from_pydict(columns, schema=ARROW_SCHEMA))
            batch.clear()

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= batch_size:
                flush()
        if batch or count == 0:
            flush()
    return count


def export_trends(start: dt.date, end: dt.date, fmt: str, output: str | Path | None = None,
                  source: str | None = None, keyword: str | None = None, category: str | None = None,
                  conninfo: str | None = None) -> dict:
    """Export days ``start``..``end`` of the trend data to ``output`` (``-`` or None with csv:
    standard output). Returns ``{"rows", "format", "output"}``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    with reader_connection(conninfo) as conn:
        rows = trend_rows(conn, start, end, source=source, keyword=keyword, category=category)
        if fmt == "csv" and output in (None, "-"):
            count = write_csv(rows, sys.stdout)
            sys.stdout.flush()
            return {"rows": count, "format": fmt, "output": "-"}
        if output in (None, "-"):
            raise ValueError("Parquet needs a file: give --output PATH")
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporaries.sweep(path.parent)
        tmp = path.with_name(temporaries.temp_name(path.name))
        try:
            if fmt == "csv":
                with tmp.open("w", encoding="utf-8", newline="") as out:
                    count = write_csv(rows, out)
            else:
                count = write_parquet(rows, str(tmp))
            tmp.replace(path)  # atomic: a reader never sees half a file
        finally:
            tmp.unlink(missing_ok=True)
    return {"rows": count, "format": fmt, "output": str(path)}


def publish_curated(conn, logical_date: dt.date, lake_root=None) -> dict:
    """Write the trend rows of ``logical_date`` (every slice) to the lake as
    ``curated/technology_trends/dt=D/part-0000.parquet``, replacing what a previous run wrote.
    ``conn`` must be able to read jobreqs.technology_trends (refresh the marts first).
    Returns ``{"rows", "path"}``."""
    from jobreqs import lake

    root = lake_root if lake_root is not None else lake.lake_root()
    directory = lake.partition(root, "curated", "technology_trends", logical_date)
    target = directory / "part-0000.parquet"
    with lake.atomic_writer(target) as out:
        count = write_parquet(trend_rows(conn, logical_date, logical_date), out)
    for stale in lake.list_files(directory, "*.parquet"):
        if stale.name != target.name:
            stale.unlink()
    return {"rows": count, "path": str(target)}


# --- command line --------------------------------------------------------------------------------

def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=_date, required=True, metavar="D1", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_date, required=True, metavar="D2", help="last day, YYYY-MM-DD")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="csv or parquet (default: from the --output suffix, else csv)")
    parser.add_argument("--output", default=None, metavar="PATH",
                        help="file to write (default: standard output for csv, trends_D1_D2.parquet for parquet)")
    parser.add_argument("--source", default=None, help="one source slice: indeed, upwork or all (default: every slice)")
    parser.add_argument("--keyword", default=None, help="one keyword slice: a search keyword, (none) or all")
    parser.add_argument("--category", default=None, help="only technologies of this taxonomy category")


def run(args: argparse.Namespace) -> int:
    fmt = args.format
    if fmt is None:
        fmt = "parquet" if args.output and args.output.endswith(".parquet") else "csv"
    output = args.output
    if fmt == "parquet" and output in (None, "-"):
        output = f"trends_{args.start}_{args.end}.parquet"
    try:
        result = export_trends(args.start, args.end, fmt, output, source=args.source,
                               keyword=args.keyword, category=args.category)
    except (ValueError, PermissionError) as exc:
        print(f"jobreqs export: {exc}", file=sys.stderr)
        return 2
    print(f"exported {result['rows']} rows as {result['format']} to {result['output']}", file=sys.stderr)
    return 0
