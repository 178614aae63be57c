-- 0007: the taxonomy's hierarchy. A technology may have a parent, the technology it rolls up to
-- (Azure Key Vault -> Azure, Amazon S3 -> AWS, Power BI -> Microsoft Power Platform); most have
-- none. Written by the sync_taxonomy task (transforms/taxonomy_sync.py) from taxonomy.json.
-- (0006 is left to the marts restructure that is under way on another branch.)
ALTER TABLE jobreqs.technologies
    ADD COLUMN parent text REFERENCES jobreqs.technologies (name) ON DELETE SET NULL,
    ADD CONSTRAINT technologies_parent_not_self CHECK (parent <> name);
CREATE INDEX technologies_parent_idx ON jobreqs.technologies (parent);

-- Roll-up mart: each posting once per technology it names and once per ancestor of those
-- (a posting naming Azure Key Vault counts for Azure Key Vault and for Azure, once each, however
-- many Azure products it names). `named` says whether the posting names the technology itself.
CREATE VIEW jobreqs.posting_technologies_rolled_up AS
WITH RECURSIVE up (source, source_id, technology, named) AS (
    SELECT source, source_id, technology, true FROM jobreqs.posting_technologies
    UNION
    SELECT up.source, up.source_id, t.parent, false
    FROM up JOIN jobreqs.technologies t ON t.name = up.technology
    WHERE t.parent IS NOT NULL
)
SELECT source, source_id, technology, bool_or(named) AS named
FROM up
GROUP BY source, source_id, technology;
COMMENT ON VIEW jobreqs.posting_technologies_rolled_up IS
    'Each posting once per technology it names and once per ancestor of those (taxonomy parents): a posting naming Azure Key Vault counts for Azure too, once.';
COMMENT ON COLUMN jobreqs.posting_technologies_rolled_up.source IS 'Source of the posting (indeed, upwork).';
COMMENT ON COLUMN jobreqs.posting_technologies_rolled_up.source_id IS 'Id of the posting at its source.';
COMMENT ON COLUMN jobreqs.posting_technologies_rolled_up.technology IS
    'Canonical technology: one the posting names, or an ancestor of one (jobreqs.technologies.parent).';
COMMENT ON COLUMN jobreqs.posting_technologies_rolled_up.named IS
    'True when the posting names the technology itself, false when it counts only through a product of it.';
