"""Warehouse side of the taxonomy and of the clean-up stage's review queue."""

from __future__ import annotations

from typing import Any


from jobreqs.warehouse import connect
from transforms.taxonomy import Taxonomy, load_taxonomy


def sync_taxonomy(conninfo: str | None = None, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Make ``jobreqs.technologies`` (name, category, parent) / ``technology_aliases`` equal to the
    taxonomy (idempotent: upserts what changed, deletes what the taxonomy no longer has), in one
    transaction.
    Aliases are stored normalised (the lookup key clean-up uses). Returns counts."""
    tax = taxonomy or load_taxonomy()
    with connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE tmp_tech (name text PRIMARY KEY, category text NOT NULL, parent text) "
                    "ON COMMIT DROP")
        cur.execute("CREATE TEMP TABLE tmp_alias (alias text PRIMARY KEY, technology text NOT NULL) ON COMMIT DROP")
        with cur.copy("COPY tmp_tech (name, category, parent) FROM STDIN") as copy:
            for name, category in tax.categories.items():
                copy.write_row((name, category, tax.parents.get(name)))
        with cur.copy("COPY tmp_alias (alias, technology) FROM STDIN") as copy:
            for alias, name in tax.aliases.items():
                copy.write_row((alias, name))
        # Parents and children arrive in the same statement: the foreign key is checked at its end.
        cur.execute("""INSERT INTO jobreqs.technologies (name, category, parent)
                       SELECT name, category, parent FROM tmp_tech
                       ON CONFLICT (name) DO UPDATE SET category = EXCLUDED.category, parent = EXCLUDED.parent
                       WHERE (technologies.category, technologies.parent)
                             IS DISTINCT FROM (EXCLUDED.category, EXCLUDED.parent)""")
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
