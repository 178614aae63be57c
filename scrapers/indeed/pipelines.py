"""The output pipeline: postings to ``postings.jsonl.gz``, the rest to ``quarantine.jsonl.gz``.

Items stream to disk as they come (memory stays flat). A posting's keywords are only complete
when the crawl ends (a later search may find it again), so postings first go to a local spool
file; at close the spool is read back once, each record gets its final keywords from the spider,
is validated against ``jobreqs.schemas.IndeedRawPosting``, and lands in the postings file or,
when it does not validate, in the quarantine with the validation error as its reason.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
from pathlib import Path

from pydantic import ValidationError

from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.items import IndeedPostingItem, QuarantineItem

logger = logging.getLogger(__name__)

POSTINGS_FILE = "postings.jsonl.gz"
QUARANTINE_FILE = "quarantine.jsonl.gz"
MANIFEST_FILE = "manifest.json"  # written by scrapers.indeed.crawl from the crawl's stats
_SPOOL_FILE = ".postings.spool.jsonl"


def _default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(record: dict) -> str:
    """One JSON line (same form as jobreqs.lake.dumps; not imported from there so the crawl
    process does not pay for importing Airflow)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_default)


def _gzip_text(path: Path):
    return io.TextIOWrapper(gzip.GzipFile(filename=str(path), mode="wb", mtime=0), encoding="utf-8", newline="\n")


class IndeedOutputPipeline:
    def __init__(self, out_dir: str, stats):
        self.out_dir = Path(out_dir)
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        out_dir = crawler.settings.get("INDEED_OUTPUT_DIR")
        if not out_dir:
            raise ValueError("INDEED_OUTPUT_DIR must name the folder the crawl writes to")
        return cls(out_dir, crawler.stats)

    def open_spider(self, spider=None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.spool = (self.out_dir / _SPOOL_FILE).open("w", encoding="utf-8")
        self.quarantine = _gzip_text(self.out_dir / QUARANTINE_FILE)

    def process_item(self, item, spider=None):
        if isinstance(item, QuarantineItem):
            self._quarantine(dict(item))
        elif isinstance(item, IndeedPostingItem):
            self.spool.write(dumps(dict(item)) + "\n")
            self.stats.inc_value("indeed/postings_spooled")
        return item

    def _quarantine(self, record: dict) -> None:
        record.setdefault("quarantined_at", dt.datetime.now(dt.timezone.utc))
        self.quarantine.write(dumps(record) + "\n")
        self.stats.inc_value("indeed/quarantined")
        self.stats.inc_value(f"indeed/quarantined/{record.get('kind', 'record')}")

    def close_spider(self, spider) -> None:
        self.spool.close()
        keywords: dict[str, list[str]] = getattr(spider, "found", {})
        written: set[str] = set()
        spool = self.out_dir / _SPOOL_FILE
        with _gzip_text(self.out_dir / POSTINGS_FILE) as out, spool.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                key = record.get("job_key")
                record["keywords"] = list(keywords.get(key) or record.get("keywords") or [])
                if key in written:  # cannot happen while the spider requests each key once
                    self.stats.inc_value("indeed/duplicates_dropped")
                    continue
                try:
                    posting = IndeedRawPosting.model_validate(record)
                except ValidationError as exc:
                    reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                    self._quarantine({"kind": "record", "reason": f"schema: {reason}", "url": record.get("url"),
                                      "job_key": key, "keywords": record["keywords"],
                                      "search_location": record.get("search_location"),
                                      "excerpt": line[:2000]})
                    continue
                out.write(dumps(posting.model_dump(mode="json")) + "\n")
                written.add(key)
        spool.unlink()
        self.quarantine.close()
        self.stats.set_value("indeed/postings", len(written))
        logger.info("wrote %d postings to %s", len(written), self.out_dir / POSTINGS_FILE)
