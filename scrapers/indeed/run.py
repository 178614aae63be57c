"""The ``scrape_indeed`` stage: crawl Indeed (or the sandbox) for day D into the lake.

Writes ``raw/indeed/dt=D/part-0000.jsonl.gz`` (every record validates against
``jobreqs.schemas.IndeedRawPosting``), ``raw/indeed/dt=D/_manifest.json`` and
``quarantine/indeed/dt=D/part-0000.jsonl.gz``; a re-run replaces them. Returns the manifest.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from jobreqs import temporaries
from jobreqs.config import INDEED_PROXY_CONN_ID, PROJECT_ROOT
from jobreqs.lake import list_files, partition, replace_partition, write_bytes_atomic
# (not scrapers.indeed.crawl: the Airflow worker never needs Scrapy's engine in its own process)
from scrapers.indeed.pipelines import MANIFEST_FILE, POSTINGS_FILE, QUARANTINE_FILE
from scrapers.indeed.settings import INDEED_BASE_URL as DEFAULT_BASE_URL

logger = logging.getLogger(__name__)

#: Settings for a crawl of a server on this machine (the sandbox): no politeness delays.
LOOPBACK_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_BACKOFF_BASE": 0.2,
                     "INDEED_BLOCK_BACKOFF": 0.2,
                     "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16}


def default_base_url() -> str:
    """``JOBREQS_INDEED_BASE_URL`` or Indeed's US site (another country site: set the variable,
    e.g. https://uk.indeed.com)."""
    return os.environ.get("JOBREQS_INDEED_BASE_URL") or DEFAULT_BASE_URL


def is_loopback(base_url: str) -> bool:
    return (urlparse(base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def proxy_environment(conn_id: str = INDEED_PROXY_CONN_ID) -> dict[str, str]:
    """Environment for the crawl's proxy middleware, from the Airflow connection ``indeed_proxy``
    (password = API key; extra ``{"api": "scrapeops"|"zyte", "endpoint": URL, "options": {...}}``,
    options being the API's own, e.g. ``{"country": "us"}``). Empty when the connection does not
    exist or has no key: the crawl then goes direct."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return {}
    if not conn.password:
        logger.info("connection %s has no key (password): no proxy API", conn_id)
        return {}
    extra = conn.extra_dejson or {}
    env = {"JOBREQS_INDEED_PROXY_KEY": conn.password, "JOBREQS_INDEED_PROXY_API": str(extra.get("api", "scrapeops"))}
    if extra.get("endpoint"):
        env["JOBREQS_INDEED_PROXY_ENDPOINT"] = str(extra["endpoint"])
    if isinstance(extra.get("options"), dict):
        env["JOBREQS_INDEED_PROXY_OPTIONS"] = json.dumps(extra["options"])
    logger.info("crawl goes through the %s proxy API (connection %s)", env["JOBREQS_INDEED_PROXY_API"], conn_id)
    return env


def _records(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _die_with_parent() -> None:
    """In the crawl's child process: be killed when the task process dies (even by SIGKILL), so a
    killed task never leaves an orphan crawl writing into a folder the next run sweeps (Linux)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_crawl(out_dir: Path, keywords: list[str], locations: list[str], base_url: str,
               max_pages: int | None, settings: dict, timeout: float | None, day: dt.date) -> None:
    command = [sys.executable, "-m", "scrapers.indeed.crawl", "--out", str(out_dir), "--base-url", base_url,
               "--day", day.isoformat()]
    command += [a for k in keywords for a in ("--keyword", k)]
    command += [a for loc in locations for a in ("--location", loc)]
    if max_pages is not None:
        command += ["--max-pages", str(max_pages)]
    command += [a for name, value in settings.items() for a in ("--set", f"{name}={json.dumps(value)}")]
    env = {**os.environ, **proxy_environment()}  # the key travels in the environment only
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    tail: list[str] = []
    with subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8", errors="replace", preexec_fn=_die_with_parent) as process:
        assert process.stderr is not None
        for line in process.stderr:  # relay the crawl's log (already redacted by the child)
            line = line.rstrip()
            logger.info("crawl: %s", line)
            tail = (tail + [line])[-40:]
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    if code != 0 or not (out_dir / MANIFEST_FILE).exists():
        raise RuntimeError(f"Indeed crawl failed (exit code {code}); last log lines:\n" + "\n".join(tail))


class CrawlBlocked(RuntimeError):
    """The crawl collected nothing usable because it was blocked (or failed) throughout; the
    manifest says what it met (the coverage of the date records it)."""

    def __init__(self, message: str, manifest: dict):
        super().__init__(message)
        self.manifest = manifest


def scrape_indeed(lake_root, day: dt.date | str, keywords: list[str], locations: list[str],
                  base_url: str | None = None, max_pages: int | None = None, *,
                  settings: dict | None = None, timeout: float | None = 6 * 3600) -> dict:
    """Crawl the searches ``keywords x locations`` (postings of the last day) and replace the
    lake's Indeed snapshot of ``day`` with the result; return the manifest (small, JSON-able).

    ``lake_root`` is an ``ObjectStoragePath`` (file:// or s3://). The crawl runs in a subprocess
    into the stage's local working folder (:func:`jobreqs.temporaries.work_dir`: a killed crawl's
    folder is swept by the next run); its files are then streamed into the lake atomically.
    ``settings`` overrides Scrapy settings; a loopback base URL (the sandbox) drops the politeness
    delays. Raises RuntimeError when the crawl process fails, or collects nothing because it was
    blocked or failed throughout (``CrawlBlocked``, with the manifest; the lake is then left
    unchanged)."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day  # a ds string works too
    base_url = (base_url or default_base_url()).rstrip("/")
    overrides = {**(LOOPBACK_SETTINGS if is_loopback(base_url) else {}), **(settings or {})}
    with temporaries.work_dir("scrape_indeed") as out_dir:
        logger.info("crawling %s for %s: keywords %s x locations %s", base_url, day, keywords, locations)
        _run_crawl(out_dir, list(keywords), list(locations), base_url, max_pages, overrides, timeout, day)
        manifest = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("stop_message"):
            # A wall of Cloudflare challenges or a proxy API that refused the key: the message says
            # what to configure; the lake's snapshot is left as it was.
            raise CrawlBlocked(f"Indeed crawl of {base_url} collected nothing usable: {manifest['stop_message']} "
                               f"The lake's snapshot for {day} is left unchanged.", manifest)
        if manifest["postings"] == 0 and (manifest["errors"] or manifest["blocked"]):
            # A crawl that was blocked or failed throughout must not replace a good snapshot.
            raise CrawlBlocked(
                f"Indeed crawl of {base_url} collected nothing ({manifest['blocked']} block pages, "
                f"{manifest['errors']} errors); the lake's snapshot for {day} is left unchanged", manifest)
        raw_dir = partition(lake_root, "raw", "indeed", day)
        quarantine_dir = partition(lake_root, "quarantine", "indeed", day)
        written = replace_partition(raw_dir, _records(out_dir / POSTINGS_FILE))
        quarantined = sum(1 for _ in _records(out_dir / QUARANTINE_FILE))
        if quarantined:
            replace_partition(quarantine_dir, _records(out_dir / QUARANTINE_FILE))
        else:
            for stale in list_files(quarantine_dir):
                stale.unlink()
    manifest.update({
        "source": "indeed",
        "day": day.isoformat(),
        "sandbox": is_loopback(base_url),
        "postings": written,
        "quarantined": quarantined,
        "raw_path": str(raw_dir),
        "quarantine_path": str(quarantine_dir) if quarantined else None,
    })
    write_bytes_atomic(raw_dir / "_manifest.json", json.dumps(manifest, indent=1).encode("utf-8"))
    logger.info("Indeed %s: %d postings, %d duplicates, %d blocked, %d quarantined, %d errors%s",
                day, written, manifest["duplicates"], manifest["blocked"], quarantined, manifest["errors"],
                " (cap hit)" if manifest["cap_hit"] else "")
    return manifest
