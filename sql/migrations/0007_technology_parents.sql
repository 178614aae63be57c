-- 0007: the taxonomy's hierarchy. A technology may have a parent, the technology it rolls up to
-- (Azure Key Vault -> Azure, Amazon S3 -> AWS, Power BI -> Microsoft Power Platform); most have
-- none. Written by the sync_taxonomy task (transforms/taxonomy_sync.py) from taxonomy.json.
-- (0006 is left to the marts restructure that is under way on another branch.)
ALTER TABLE jobreqs.technologies
    ADD COLUMN parent text REFERENCES jobreqs.technologies (name) ON DELETE SET NULL,
    ADD CONSTRAINT technologies_parent_not_self CHECK (parent <> name);
CREATE INDEX technologies_parent_idx ON jobreqs.technologies (parent);
