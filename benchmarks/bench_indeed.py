"""Benchmark of the Indeed scraper: parse time per page, and postings per second against the sandbox.

    python -m benchmarks.bench_indeed [--postings 1000] [--repeat 200]

Part 1 parses sandbox-rendered search and job pages in memory (no network): milliseconds per page.
Part 2 runs the real crawl (subprocess, real HTTP, no politeness delays) on a synthetic sandbox
search of N postings (at most 1,000: Indeed's cap) and reports postings per second, both for the
crawl alone and for the whole scrape_indeed stage (process start and lake copy included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from scrapers.indeed.parsing import decode_body, parse_job_page, parse_search_page
from scrapers.indeed.sandbox import SandboxIndeed, sandbox_server


def _time_per_call(func, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, statistics.mean(samples) * 1000


def bench_parsing(repeat: int) -> None:
    site = SandboxIndeed()
    search = site.search_page("data scientist", "remote", 0)
    dom_search = site.search_page("data engineer", "remote", 10)
    key = next(p["job_key"] for p in site.day["postings"] if p["variant"] == "full")
    job = site.answer(f"/viewjob?jk={key}")[2]
    ld_key = next(p["job_key"] for p in site.day["postings"] if p["variant"] == "dom_only")
    dom_job = site.answer(f"/viewjob?jk={ld_key}")[2]
    url = f"https://www.indeed.com/viewjob?jk={key}"
    cases = [
        ("search page, card model (12 cards)", search, lambda b: parse_search_page(decode_body(b), "https://www.indeed.com")),
        ("search page, DOM fallback", dom_search, lambda b: parse_search_page(decode_body(b), "https://www.indeed.com")),
        ("job page, _initialData model", job, lambda b: parse_job_page(decode_body(b), url)),
        ("job page, DOM fallback", dom_job, lambda b: parse_job_page(decode_body(b), url)),
    ]
    print(f"parse time per page (median / mean of {repeat} runs):")
    for name, body, parse in cases:
        median, mean = _time_per_call(lambda: parse(body), repeat)
        print(f"  {name:<38} {len(body) / 1024:7.1f} KiB  {median:7.3f} ms / {mean:7.3f} ms")


def bench_crawl(postings: int) -> None:
    from airflow.sdk import ObjectStoragePath

    from scrapers.indeed.run import scrape_indeed

    with sandbox_server() as url, tempfile.TemporaryDirectory() as lake:
        start = time.perf_counter()
        manifest = scrape_indeed(ObjectStoragePath(Path(lake).as_uri()), dt.date.today(), [f"synthetic {postings}"],
                                 ["remote"], base_url=url)
        wall = time.perf_counter() - start
    n = manifest["postings"]
    crawl = manifest["elapsed_seconds"]
    print(f"crawl against the sandbox: {n} postings, {manifest['requests']} requests "
          f"({manifest['search_pages']} search pages, {manifest['job_pages']} job pages)")
    print(f"  crawl only:          {crawl:7.2f} s  {n / crawl:7.1f} postings/s  {manifest['requests'] / crawl:7.1f} requests/s")
    print(f"  whole stage:         {wall:7.2f} s  {n / wall:7.1f} postings/s  (process start, lake copy included)")
    print(f"  crawl process peak memory: {manifest['memory_peak_mb']} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1000, help="postings in the synthetic search (cap 1000)")
    parser.add_argument("--repeat", type=int, default=200, help="parse repetitions per page kind")
    args = parser.parse_args()
    import logging

    logging.getLogger("scrapers.indeed.run").setLevel(logging.WARNING)  # the crawl's own log is long
    bench_parsing(args.repeat)
    bench_crawl(args.postings)


if __name__ == "__main__":
    main()
