"""``jobreqs sandbox-month``: a month of the daily DAG on the sandboxes, then its trends on the page.

    jobreqs sandbox-month [--days 30] [--end YYYY-MM-DD] [--upwork-jobs 300]
                          [--screenshot FILE] [--serve] [--port N] [--block FROM..TO[:SHARE]]

Runs ``jobreqs_daily`` (through ``dag.test()``, as ``jobreqs run`` does) for each of the ``--days``
dates ending on ``--end`` (default: yesterday, UTC), every registered sandbox serving that date
(``jobreqs.sandboxes``: new postings every day, a technology mix drifting over weeks), into the
embedded warehouse and lake (or the configured ones). A date already run is run again and lands
the same rows. It then prints each source's postings per day and the technologies that moved
most, and the trends page of the month: ``--screenshot FILE`` saves it as a PNG (Playwright and
Debian's Chromium), ``--serve`` keeps it on ``http://127.0.0.1:PORT/jobreqs-trends/`` until
interrupted. In ``jobreqs ui`` the same page is "Technology trends", with the month's dates as
its period. ``--block`` simulates an Indeed block on some dates (the sandbox challenges a share of
the search pages past the first on every request): the page's coverage strip and warnings show those dates.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

from jobreqs import airflow_env
from jobreqs.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=30, help="how many dates (default 30)")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None,
                        help="the last date YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--upwork-jobs", type=int, default=300, help="jobs a day in the sandbox Upwork (default 300)")
    parser.add_argument("--screenshot", type=Path, help="save the month's trends page as this PNG")
    parser.add_argument("--serve", action="store_true", help="serve the trends page until interrupted")
    parser.add_argument("--port", type=int, default=0, help="port of the trends page (default: a free one)")
    parser.add_argument("--block", type=_block_spec, default=None, metavar="FROM..TO[:SHARE]",
                        help="simulate a block on Indeed: on dates FROM..TO the sandbox challenges SHARE "
                             "(default 1.0) of the search pages past the first on every request (the coverage "
                             "strip shows it)")


def _block_spec(text: str) -> tuple[dt.date, dt.date, float]:
    """``2026-11-10..2026-11-16[:0.5]`` -> (first, last, share); the share defaults to 1.0."""
    period, _, share = text.partition(":")
    first, sep, last = period.partition("..")
    try:
        block = (dt.date.fromisoformat(first), dt.date.fromisoformat(last if sep else first), float(share or 1.0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not FROM..TO[:SHARE] with ISO dates: {text!r}") from None
    if not 0 < block[2] <= 1 or block[1] < block[0]:
        raise argparse.ArgumentTypeError(f"the share must be in (0, 1] and TO not before FROM: {text!r}")
    return block


def dates(days: int, end: dt.date | None = None) -> list[dt.date]:
    end = end or dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    return [end - dt.timedelta(days=n) for n in reversed(range(days))]


def run_days(days: list[dt.date], upwork_jobs: int, out=sys.stdout,
             block: tuple[dt.date, dt.date, float] | None = None) -> dict[dt.date, str]:
    """Run the daily DAG for each date on the sandboxes; return each date's run state. ``block``:
    (first, last, share) of a simulated Indeed block."""
    from airflow.dag_processing.dagbag import DagBag

    from jobreqs import runner, sandboxes

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag("jobreqs_daily")
    states = {}
    for day in days:
        began = time.monotonic()
        options: dict[str, dict] = {"upwork": {"jobs": upwork_jobs}}
        if block and block[0] <= day <= block[1]:
            options["indeed"] = {"blocked_share": block[2]}
        with sandboxes.serving(day, options=options):
            dag_run = runner.test_run(dag, day, {"sources": sandboxes.registered()},
                                      out=io.StringIO())  # one line per date, not per task
        states[day] = str(dag_run.state)
        print(f"{day}  {states[day]:<8} {time.monotonic() - began:6.1f} s", file=out, flush=True)
    return states


def month_figures(first: dt.date, last: dt.date) -> dict:
    """Postings per source and day, and the technologies whose share moved most over the month."""
    from jobreqs import warehouse

    with warehouse.connect() as conn:
        per_day = conn.execute(
            """SELECT source, posting_date, count(*) FROM jobreqs.postings
               WHERE posting_date BETWEEN %s AND %s GROUP BY 1, 2 ORDER BY 1, 2""", (first, last)).fetchall()
        # share of the postings naming each technology: the first and the last week of the month
        moves = conn.execute(
            """WITH weeks AS (
                   SELECT p.source, p.source_id, CASE WHEN p.posting_date < %(first)s + 7 THEN 'first'
                                                      WHEN p.posting_date > %(last)s - 7 THEN 'last' END AS week
                   FROM jobreqs.postings p WHERE p.posting_date BETWEEN %(first)s AND %(last)s),
               totals AS (SELECT week, count(*) AS n FROM weeks WHERE week IS NOT NULL GROUP BY 1),
               counts AS (
                   SELECT w.week, t.technology, count(*) AS n FROM weeks w
                   JOIN jobreqs.posting_technologies t ON (t.source, t.source_id) = (w.source, w.source_id)
                   WHERE w.week IS NOT NULL GROUP BY 1, 2)
               SELECT c.technology,
                      coalesce(max(c.n::float / t.n) FILTER (WHERE c.week = 'first'), 0) AS first_share,
                      coalesce(max(c.n::float / t.n) FILTER (WHERE c.week = 'last'), 0) AS last_share
               FROM counts c JOIN totals t USING (week) GROUP BY 1
               HAVING count(*) FILTER (WHERE c.n >= 5) > 0
               ORDER BY abs(coalesce(max(c.n::float / t.n) FILTER (WHERE c.week = 'last'), 0)
                            - coalesce(max(c.n::float / t.n) FILTER (WHERE c.week = 'first'), 0)) DESC
               LIMIT 8""", {"first": first, "last": last}).fetchall()
    sources: dict[str, dict[str, int]] = {}
    for source, day, count in per_day:
        sources.setdefault(source, {})[day.isoformat()] = count
    return {"postings": sources, "moves": [(t, a, b) for t, a, b in moves]}


def coverage_lines(first: dt.date, last: dt.date) -> list[tuple[str, str]]:
    """Each source's coverage per date, as one line of percentages (the coverage mart)."""
    from jobreqs import coverage, warehouse

    with warehouse.connect() as conn:
        found = coverage.rows(conn, first, last)
    lines: dict[str, list[str]] = {}
    for r in found:
        lines.setdefault(r["source"], []).append(f"{r['coverage_date'][5:]} {r['coverage']:.0%}{'!' if r['below_usual'] else ''}")
    return sorted((source, "  ".join(cells)) for source, cells in lines.items())


def page_query(first: dt.date, last: dt.date, top: int = 8) -> str:
    return "?" + urlencode({"start": first.isoformat(), "end": last.isoformat(), "top": top})


@contextlib.contextmanager
def trends_page(port: int = 0) -> Iterator[str]:
    """The trends page app (the Airflow plugin's), mounted as the api-server mounts it, on
    127.0.0.1; yields its URL."""
    import uvicorn
    from fastapi import FastAPI

    sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
    try:
        from jobreqs_trends.app import create_app
    finally:
        sys.path.remove(str(PROJECT_ROOT / "plugins"))
    parent = FastAPI()
    parent.mount("/jobreqs-trends", create_app(require_login=False))
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(parent, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the trends page did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/jobreqs-trends/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def screenshot(url: str, path: Path) -> None:
    """A full-page PNG of ``url`` once its charts are drawn (Playwright, Debian's Chromium)."""
    from playwright.sync_api import sync_playwright

    path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="networkidle")
            page.wait_for_selector("#trend-chart .main-svg", timeout=30_000)
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()


def run(args: argparse.Namespace) -> int:
    from jobreqs import runlock, runner

    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG" if args.verbose else "WARNING")
    airflow_env.apply()
    days = dates(args.days, args.end)
    began = time.monotonic()
    with runlock.exclusive("sandbox-month"):
        airflow_env.ensure_metadata_db()
        runner.quiet(args.verbose)
        print(f"jobreqs_daily for {days[0]} .. {days[-1]} on the sandboxes ({args.days} dates):", flush=True)
        states = run_days(days, args.upwork_jobs, block=args.block)
    figures = month_figures(days[0], days[-1])
    print(f"\n{sum(s == 'success' for s in states.values())} of {len(days)} runs succeeded "
          f"in {time.monotonic() - began:.0f} s")
    for source, per_day in sorted(figures["postings"].items()):
        counts = [per_day.get(d.isoformat(), 0) for d in days]
        print(f"  {source:<8} {sum(counts):6d} postings on {sum(1 for c in counts if c)} of {len(days)} dates "
              f"({min(counts)}-{max(counts)} a day)")
    print("  technologies that moved most (share of postings, first week -> last week):")
    for technology, first, last in figures["moves"]:
        print(f"    {technology:<22} {first:6.1%} -> {last:6.1%}")
    print("  coverage (share of each day collected; ! = well below its usual level):")
    for source, line in coverage_lines(days[0], days[-1]):
        print(f"    {source:<8} {line}")
    query = page_query(days[0], days[-1])
    if args.screenshot or args.serve:
        with trends_page(args.port) as url:
            if args.screenshot:
                screenshot(url + query, args.screenshot)
                print(f"trends page of the month saved to {args.screenshot}")
            if args.serve:
                print(f"trends page of the month: {url + query}  (Ctrl-C to stop)", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
    else:
        print(f"trends page: `jobreqs ui`, then Technology trends with {query}")
    return 0 if all(s == "success" for s in states.values()) else 1
