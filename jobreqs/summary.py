"""The short report ``jobreqs run`` prints: what ran, rows landed, lake files, how to query."""

from __future__ import annotations

import datetime as dt

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from jobreqs import lake, warehouse

TABLES = ["postings", "posting_keywords", "posting_technologies", "technologies", "unmapped_terms",
          "upwork_jobs", "upwork_clients", "pipeline_runs"]
#: What a table's count is, where its name alone misleads (``technologies`` is the taxonomy).
TABLE_LABELS = {"technologies": "technologies (the taxonomy)"}


def _table_counts(conn, day: dt.date) -> list[tuple[str, int]]:
    present = {r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'jobreqs'").fetchall()}
    return [(t, conn.execute(sql.SQL("SELECT count(*) FROM jobreqs.{}").format(sql.Identifier(t))).fetchone()[0])
            for t in TABLES if t in present]


# The figures of each stage worth a line in the summary (all are in jobreqs.pipeline_runs.stats).
_HIGHLIGHTS = {
    "scrape_indeed": ("postings", "duplicates", "blocked", "quarantined", "errors"),
    "upwork_fetch": ("fetched", "quarantined", "pages", "coverage"),
    "upwork_enrich": ("enriched", "failed", "remaining"),
    "normalise": ("postings_total",),
    "classify": ("tokens_before", "tokens_after", "reduction"),
    "extract": ("backend", "sent", "cache_hits", "tokens_in", "tokens_out", "cost_usd"),
    "clean_up": ("technologies", "removed_terms", "unmapped_terms"),
}
#: A figure's words in the summary, where its key alone misleads.
_LABELS = {("clean_up", "technologies"): "posting-technology pairs"}


def _highlights(stage: str, stats: dict) -> str:
    return ", ".join(f"{_LABELS.get((stage, key), key)} {stats[key]}"
                     for key in _HIGHLIGHTS.get(stage, ()) if key in stats)


def reader_conninfo(conninfo: str) -> str:
    """The same server and database, as the read-only role (no password shown)."""
    parts = conninfo_to_dict(conninfo)
    parts.pop("password", None)
    parts["user"] = "jobreqs_reader"
    return make_conninfo(**parts)


def _mtime(path) -> float:
    """A lake file's modification time, local or S3 (``inf`` when the store does not say: such a
    file is never marked as older)."""
    try:
        info = path.stat()
    except (OSError, ValueError):
        return float("inf")
    if hasattr(info, "st_mtime"):
        return float(info.st_mtime)
    moment = info.get("mtime") or info.get("LastModified") if isinstance(info, dict) else None
    if isinstance(moment, dt.datetime):
        return moment.timestamp()
    return float(moment) if isinstance(moment, (int, float)) else float("inf")


def render(dag_run, day: dt.date, elapsed: float, notes: list[str]) -> str:
    lines = [f"jobreqs_daily for {day}: {dag_run.state} in {elapsed:.0f} s"]
    states = [f"{ti.task_id}={ti.state}" for ti in sorted(dag_run.get_task_instances(), key=lambda t: t.task_id)]
    lines.append("  tasks: " + ", ".join(states))
    lines += [f"  {note}" for note in notes]
    conninfo = warehouse.warehouse_conninfo()
    with warehouse.connect(conninfo) as conn:
        day_postings = conn.execute(
            "SELECT source, count(*) FROM jobreqs.postings WHERE posting_date = %s GROUP BY 1 ORDER BY 1",
            (day,)).fetchall()
        counts = _table_counts(conn, day)
        runs = conn.execute(
            "SELECT stage, status, message, stats FROM jobreqs.pipeline_runs WHERE run_id = %s ORDER BY recorded_at",
            (dag_run.run_id,)).fetchall()
    lines.append(f"  warehouse ({warehouse.describe(conninfo)}):")
    lines.append("    postings for this date: " + (", ".join(f"{s} {n}" for s, n in day_postings) or "none"))
    lines.append("    rows per table (every date): " + ", ".join(f"{TABLE_LABELS.get(t, t)} {n}" for t, n in counts))
    for stage, status, message, stats in runs:
        if message:
            lines.append(f"    {stage} ({status}): {message}")
        elif highlights := _highlights(stage, stats):
            lines.append(f"    {stage}: {highlights}")
    root = lake.lake_root()
    run_start = dag_run.start_date.timestamp() if getattr(dag_run, "start_date", None) else None
    earlier = 0
    lines.append(f"  lake ({root}), this date's files:")
    for zone in ("raw", "quarantine", "staging", "curated"):
        zone_dir = root / zone
        if not zone_dir.exists():
            continue
        for name_dir in sorted(zone_dir.iterdir(), key=lambda p: p.name):
            part = name_dir / f"dt={day}"
            files = [p for p in lake.list_files(part, "*") if p.is_file()]
            if files:
                names = []
                for p in files:
                    old = run_start is not None and _mtime(p) < run_start - 1
                    earlier += old
                    names.append(p.name + (" (earlier run)" if old else ""))
                lines.append(f"    {zone}/{name_dir.name}/dt={day}/: " + ", ".join(names))
    if earlier:
        lines.append(f"    ({earlier} files marked 'earlier run' were written before this run started: kept, not replaced)")
    lines.append("  query it:")
    lines.append(f'    psql "{reader_conninfo(conninfo)}" -c "SELECT technology, count(*) FROM '
                 'jobreqs.posting_technologies GROUP BY 1 ORDER BY 2 DESC LIMIT 20"')
    lines.append("    curated Parquet: pyarrow.parquet.read_table('<lake>/curated/postings/dt=<date>/postings.parquet')")
    return "\n".join(lines)
