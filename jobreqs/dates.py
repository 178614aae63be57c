"""``jobreqs dates --from D1 --to D2``: which dates have data and which do not.

After a backfill (``airflow backfill create``), a date without a raw snapshot in the lake ends
with ``normalise`` and what follows it skipped; this lists, per date, the raw snapshots the lake
holds, the postings in the warehouse and the last run's outcome, then the dates with data and
the dates without.
"""

from __future__ import annotations

import argparse
import datetime as dt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, required=True, help="first date YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, required=True, help="last date YYYY-MM-DD")


def raw_sources(root, day: dt.date, sources=("indeed", "upwork")) -> list[str]:
    """The sources with a raw snapshot for ``day`` in the lake."""
    from jobreqs import lake

    return [s for s in sources if lake.list_files(lake.partition(root, "raw", s, day), "*.jsonl.gz")]


def report(start: dt.date, end: dt.date) -> tuple[list[str], list[dt.date], list[dt.date]]:
    """Lines per date, the dates with data and the dates without."""
    from jobreqs import lake, warehouse

    if end < start:
        raise SystemExit(f"--to ({end}) is before --from ({start})")
    root = lake.lake_root()
    with warehouse.connect() as conn:
        postings = dict(conn.execute(
            "SELECT posting_date, count(*) FROM jobreqs.postings WHERE posting_date BETWEEN %s AND %s GROUP BY 1",
            (start, end)).fetchall())
        # the last run of each date: its normalise stage says whether it had anything to process
        runs = {row[0]: row[1:] for row in conn.execute(
            """SELECT DISTINCT ON (logical_date) logical_date, run_id, status, message
               FROM jobreqs.pipeline_runs WHERE stage = 'normalise' AND logical_date BETWEEN %s AND %s
               ORDER BY logical_date, recorded_at DESC""", (start, end)).fetchall()}
    lines, with_data, without = [], [], []
    day = start
    while day <= end:
        sources = raw_sources(root, day)
        run = runs.get(day)
        outcome = "no run" if run is None else f"last run {run[0]}: normalise {run[1]}"
        lines.append(f"  {day}  raw: {', '.join(sources) or 'none':<14} postings: {postings.get(day, 0):<6} {outcome}")
        (with_data if sources or postings.get(day) else without).append(day)
        day += dt.timedelta(days=1)
    return lines, with_data, without


def run(args: argparse.Namespace) -> int:
    lines, with_data, without = report(args.start, args.end)
    print(f"dates {args.start} .. {args.end}:")
    print("\n".join(lines))
    print(f"with data ({len(with_data)}): " + (", ".join(map(str, with_data)) or "none"))
    print(f"without data ({len(without)}): " + (", ".join(map(str, without)) or "none"))
    return 0
