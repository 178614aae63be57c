"""Run the Indeed spider once, in its own process, into a local folder.

    python -m scrapers.indeed.crawl --out DIR --keyword "data scientist" --location remote \
        [--base-url URL] [--day YYYY-MM-DD] [--max-pages N] [--set NAME=JSON ...]

Writes ``DIR/postings.jsonl.gz``, ``DIR/quarantine.jsonl.gz`` and ``DIR/manifest.json`` (the
counts). Twisted's reactor cannot be restarted inside a long-lived process (an Airflow worker),
so ``scrapers.indeed.run.scrape_indeed`` starts this module as a subprocess for every crawl.
The proxy-API key, when there is one, comes in the environment (see middlewares.ProxyApiMiddleware)
and is redacted from every log line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from scrapers.indeed import settings as project_settings
from scrapers.indeed.pipelines import MANIFEST_FILE
from scrapers.indeed.spiders.indeed import PROXY_API_REFUSED, WALL_OF_BLOCKS, IndeedSpider


def redact_logs(secret: str) -> None:
    """Replace ``secret`` by ``***`` in every log record of this process, whatever its logger or
    handler (a proxy API may carry the key in its URL, and Scrapy logs request URLs). Done in the
    record factory so handlers that Scrapy installs later are covered too."""
    make_record = logging.getLogRecordFactory()
    # The key as given and as it appears URL-encoded in a rewritten request URL.
    forms = sorted({secret, quote_plus(secret), quote(secret, safe="")}, key=len, reverse=True)

    def _redact(text: str) -> str:
        for form in forms:
            text = text.replace(form, "***")
        return text

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return record
        if any(form in message for form in forms):
            record.msg, record.args = _redact(message), ()
        if record.exc_info:  # a traceback may quote the URL too; handlers reuse exc_text
            record.exc_text = _redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


def manifest_from_stats(stats: dict, spider: IndeedSpider) -> dict:
    """The run's counts as a small JSON-able dict."""
    get = lambda key: int(stats.get(key, 0) or 0)  # noqa: E731
    parsed_from = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("indeed/parsed_from/")}
    started, finished = stats.get("start_time"), stats.get("finish_time")
    return {
        "base_url": spider.base_url,
        "keywords": spider.keywords,
        "locations": spider.locations,
        "max_pages": spider.max_pages,
        # requests sent; a request rewritten for the proxy API is counted once
        "requests": get("downloader/request_count") - get("indeed/proxy_rewrites"),
        "proxy_api": get("indeed/proxy_rewrites") > 0,
        "responses": get("downloader/response_count"),
        "retries": get("retry/count"),
        "search_pages": get("indeed/search_pages"),
        "search_pages_dom_fallback": get("indeed/search_pages_dom_fallback"),
        "search_pages_refetched": get("indeed/search_pages_refetched"),
        # pages read from DOM cards after their broken card model stayed broken: cards may be missing
        "search_pages_degraded": get("indeed/search_pages_degraded"),
        "job_pages": get("indeed/job_pages"),
        "pages": get("indeed/search_pages") + get("indeed/job_pages"),
        "cards": get("indeed/cards"),
        "postings": get("indeed/postings"),
        "duplicates": get("indeed/duplicates"),
        "sponsored": get("indeed/sponsored"),
        "sponsored_outside_window": get("indeed/sponsored_outside_window"),
        "odd_fields": get("indeed/odd_fields"),
        "blocked": get("indeed/blocked"),
        "quarantined": get("indeed/quarantined"),
        "errors": get("indeed/errors"),
        "parser_errors": get("indeed/parser_errors"),
        "cap_hit": get("indeed/cap_hit") > 0,
        # Coverage (jobreqs.source_coverage): the totals the searches reported, the part of them
        # Indeed serves (its 1,000 cap), the organic cards read from searches with a total, the
        # searches whose first page was read, and the distinct job keys the searches listed.
        "searches": len(spider.keywords) * len(spider.locations),
        "searches_answered": get("indeed/searches_answered"),
        "searches_without_total": get("indeed/searches_without_total"),
        "reported_total": get("indeed/reported_total"),
        "reachable_total": get("indeed/reachable_total"),
        "organic_cards_of_counted": get("indeed/organic_cards_of_counted"),
        "listed": get("indeed/listed"),
        "blocked_lost": get("indeed/quarantined/blocked"),
        "searches_cut_by_cap": get("indeed/cap_hit"),
        "max_pages_hit": get("indeed/max_pages_hit"),
        "parsed_from": parsed_from,
        "finish_reason": stats.get("finish_reason"),
        # Why the crawl stopped early and what to do (a wall of blocks, a refused proxy key).
        "stop_message": stats.get("indeed/stop_message"),
        "memory_peak_mb": round(get("memusage/max") / 2**20, 1) if stats.get("memusage/max") else None,
        "elapsed_seconds": round((finished - started).total_seconds(), 3) if started and finished else None,
    }


def crawl(out_dir: Path, keywords: list[str], locations: list[str], base_url: str | None = None,
          max_pages: int | None = None, overrides: dict | None = None, day: str | None = None) -> dict:
    """Run one crawl in this process (once per process) and return its manifest."""
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    settings.set("INDEED_OUTPUT_DIR", str(out_dir), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    secret = os.environ.get("JOBREQS_INDEED_PROXY_KEY")
    if secret:
        redact_logs(secret)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(IndeedSpider)
    process.crawl(crawler, keywords=keywords, locations=locations, base_url=base_url, max_pages=max_pages, day=day)
    process.start()
    manifest = manifest_from_stats(crawler.stats.get_stats(), crawler.spider)
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scrapers.indeed.crawl", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the output files")
    parser.add_argument("--keyword", action="append", required=True, help="search keyword (repeatable)")
    parser.add_argument("--location", action="append", required=True, help="search location (repeatable)")
    parser.add_argument("--base-url", help="country site or sandbox URL (default: INDEED_BASE_URL setting)")
    parser.add_argument("--max-pages", type=int, help="at most this many search pages per search")
    parser.add_argument("--day", help="the day collected (YYYY-MM-DD; sponsored cards long before it are skipped)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="override a Scrapy setting, the value as JSON (e.g. DOWNLOAD_DELAY=0)")
    args = parser.parse_args(argv)
    overrides = {}
    for pair in args.set:
        name, _, value = pair.partition("=")
        overrides[name] = json.loads(value)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = crawl(args.out, args.keyword, args.location, args.base_url, args.max_pages, overrides, args.day)
    # A crawl stopped on purpose (wall of blocks, proxy refused) wrote its manifest and message.
    return 0 if manifest["finish_reason"] in ("finished", WALL_OF_BLOCKS, PROXY_API_REFUSED) else 1


if __name__ == "__main__":
    sys.exit(main())
