"""Warehouse side of the taxonomy and of the clean-up stage's review queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from psycopg.types.json import Jsonb

from jobreqs.warehouse import connect
from transforms.taxonomy import Taxonomy, load_taxonomy


def sync_taxonomy(conninfo: str | None = None, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Make ``jobreqs.technologies`` / ``technology_aliases`` equal to the taxonomy (idempotent:
    upserts what changed, deletes what the taxonomy no longer has), in one transaction.
    Aliases are stored normalised (the lookup key clean-up uses). Returns counts."""
    tax = taxonomy or load_taxonomy()
    with connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE tmp_tech (name text PRIMARY KEY, category text NOT NULL) ON COMMIT DROP")
        cur.execute("CREATE TEMP TABLE tmp_alias (alias text PRIMARY KEY, technology text NOT NULL) ON COMMIT DROP")
        with cur.copy("COPY tmp_tech (name, category) FROM STDIN") as copy:
            for name, category in tax.categories.items():
                copy.write_row((name, category))
        with cur.copy("COPY tmp_alias (alias, technology) FROM STDIN") as copy:
            for alias, name in tax.aliases.items():
                copy.write_row((alias, name))
        cur.execute("""INSERT INTO jobreqs.technologies (name, category) SELECT name, category FROM tmp_tech
                       ON CONFLICT (name) DO UPDATE SET category = EXCLUDED.category
                       WHERE technologies.category IS DISTINCT FROM EXCLUDED.category""")
        upserted_techs = cur.rowcount
        cur.execute("DELETE FROM jobreqs.technology_aliases a WHERE NOT EXISTS "
                    "(SELECT 1 FROM tmp_alias t WHERE t.alias = a.alias AND t.technology = a.technology)")
        deleted_aliases = cur.rowcount
        cur.execute("DELETE FROM jobreqs.technologies t WHERE NOT EXISTS (SELECT 1 FROM tmp_tech n WHERE n.name = t.name)")
        deleted_techs = cur.rowcount
        cur.execute("""INSERT INTO jobreqs.technology_aliases (alias, technology) SELECT alias, technology FROM tmp_alias
                       ON CONFLICT (alias) DO NOTHING""")
        inserted_aliases = cur.rowcount
    return {"taxonomy_version": tax.version, "technologies": len(tax.categories), "aliases": len(tax.aliases),
            "technologies_written": upserted_techs, "technologies_deleted": deleted_techs,
            "aliases_written": inserted_aliases, "aliases_deleted": deleted_aliases}


def load_unmapped_terms(records: Iterable[dict[str, Any]], logical_date: dt.date | str,
                        conninfo: str | None = None) -> dict[str, int]:
    """Insert one ``jobreqs.unmapped_terms`` row per (term, posting) of cleaned records (the
    postings must already be loaded: foreign key). Re-running a date adds nothing. Streams."""
    day = dt.date.fromisoformat(str(logical_date)[:10])
    rows = 0
    with connect(conninfo) as conn, conn.cursor() as cur:
        batch: list[tuple[str, str, str, dt.date]] = []

        def flush() -> None:
            nonlocal rows
            if batch:
                cur.executemany("INSERT INTO jobreqs.unmapped_terms (term, source, source_id, first_seen)"
                                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", batch)
                rows += len(batch)
                batch.clear()

        for r in records:
            for term in r.get("unmapped_terms") or ():
                batch.append((term, r["source"], str(r["source_id"]), day))
            if len(batch) >= 1000:
                flush()
        flush()
    return {"unmapped_rows_offered": rows}


def record_stage_run(run_id: str, dag_id: str, logical_date: dt.date | str, stage: str,
                     stats: dict[str, Any], status: str = "success", message: str | None = None,
                     conninfo: str | None = None) -> None:
    """Upsert the stage's row in ``jobreqs.pipeline_runs`` (e.g. extract: tokens in/out, cost)."""
    with connect(conninfo) as conn:
        conn.execute(
            """INSERT INTO jobreqs.pipeline_runs (run_id, dag_id, logical_date, stage, status, stats, message)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (run_id, stage) DO UPDATE SET status = EXCLUDED.status, stats = EXCLUDED.stats,
                   message = EXCLUDED.message, recorded_at = now()""",
            (run_id, dag_id, str(logical_date)[:10], stage, status, Jsonb(stats), message))
