"""Re-derivation: when the taxonomy or the classifier changes, the dates whose technology rows
came from other versions are derived again from the lake, and only those dates are published.

Every technology row records the taxonomy and classifier versions that produced it (migration
0012); every posting records its classifier version. ``affected_dates`` finds the dates holding a
row of other versions (or of no recorded version); ``rederive_day`` re-runs classify, extract,
clean-up and load for one date from the lake's ``staging/postings/dt=D`` (what normalise wrote,
so nothing is collected again); ``publish_dates`` refreshes the marts once and rewrites the
curated files of those dates only. The DAG ``jobreqs_rederive`` runs them, one mapped task per
date (the shards), when ``jobreqs_daily`` publishes (its Asset event) or by hand.

Limitation: a posting with no technology row carries no taxonomy version, so a taxonomy change
reaches it only through a date that also holds a row of the old version (or a run by hand with
``first``/``last``).
"""

from __future__ import annotations

import datetime as dt
import logging

from jobreqs import lake, warehouse
from jobreqs.pipeline import RunContext, run_classify, run_clean_up, run_extract, run_load

log = logging.getLogger(__name__)

DAG_ID = "jobreqs_rederive"
#: The Asset whose events trigger ``jobreqs_rederive`` (emitted by ``jobreqs_daily``'s publish).
ASSET_URI = "jobreqs://warehouse/posting_technologies"


def current_versions() -> tuple[str, str | None]:
    """(taxonomy version, classifier version) that a derivation now uses."""
    from models.classifier.artifact import current_version
    from transforms.taxonomy import load_taxonomy

    return load_taxonomy().version, current_version()


def affected_dates(conn, taxonomy_version: str, classifier_version: str | None,
                   first: dt.date | None = None, last: dt.date | None = None, limit: int = 366) -> list[dt.date]:
    """The posting dates (oldest first, at most ``limit``) holding a posting classified by another
    classifier version or a technology row of other versions."""
    rows = conn.execute(
        """SELECT DISTINCT p.posting_date FROM jobreqs.postings p
           WHERE (%(first)s::date IS NULL OR p.posting_date >= %(first)s::date)
             AND (%(last)s::date IS NULL OR p.posting_date <= %(last)s::date)
             AND (p.classifier_version IS DISTINCT FROM %(classifier)s
                  OR EXISTS (SELECT 1 FROM jobreqs.posting_technologies t
                             WHERE t.source = p.source AND t.source_id = p.source_id
                               AND (t.taxonomy_version IS DISTINCT FROM %(taxonomy)s
                                    OR t.classifier_version IS DISTINCT FROM %(classifier)s)))
           ORDER BY 1 LIMIT %(limit)s""",
        {"first": first, "last": last, "taxonomy": taxonomy_version, "classifier": classifier_version,
         "limit": limit}).fetchall()
    return [r[0] for r in rows]


def rederive_day(day: dt.date, run_id: str, params: dict | None = None) -> dict:
    """Classify, extract, clean up and load ``day`` again from ``staging/postings/dt=day``; each
    stage records its statistics in ``pipeline_runs`` under ``run_id`` (one per date)."""
    ctx = RunContext(run_id=run_id, day=day, params=dict(params or {}), dag_id=DAG_ID)
    staged = lake.partition(lake.lake_root(), "staging", "postings", day)
    if not lake.list_files(staged):
        message = f"no staged postings for {day} in the lake: nothing to derive again"
        ctx.record("rederive", {}, status="skipped", message=message)
        return {"day": day.isoformat(), "changed": False, "message": message}
    classified = run_classify(ctx)
    extracted = run_extract(ctx, classified["path"])
    cleaned = run_clean_up(ctx, extracted["path"])
    loaded = run_load(ctx, cleaned["path"])
    return {"day": day.isoformat(), "changed": True, "postings": classified.get("postings"),
            "posting_technologies": loaded.get("posting_technologies")}


def publish_dates(days: list[dt.date], conninfo: str | None = None) -> dict:
    """Refresh the marts once, then rewrite the curated files of ``days`` only."""
    from transforms.export import publish_curated
    from transforms.marts import refresh_marts
    from transforms.publish import publish_day

    root = lake.lake_root()
    with warehouse.connect(conninfo) as conn:
        refreshed = refresh_marts(conn)
        files = {}
        for day in sorted(days):
            files[day.isoformat()] = publish_day(conn, root, day)["files"] + [publish_curated(conn, day, root)["path"]]
    return {"dates": [d.isoformat() for d in sorted(days)], "refresh_seconds": refreshed["seconds"], "files": files}
