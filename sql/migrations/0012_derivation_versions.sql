-- 0012: every posting-technology row says what produced it: the taxonomy version that mapped its
-- term and the classifier version that chose the text it was found in. A figure can then say
-- which versions it comes from, and a change of either names the rows (and dates) to derive again.
-- Rows loaded before this migration have NULL: their versions were not recorded.
ALTER TABLE jobreqs.posting_technologies ADD COLUMN taxonomy_version text;
ALTER TABLE jobreqs.posting_technologies ADD COLUMN classifier_version text;
COMMENT ON COLUMN jobreqs.posting_technologies.taxonomy_version IS
    'The taxonomy version (models/taxonomy) whose clean-up mapped this technology; NULL: loaded before it was recorded.';
COMMENT ON COLUMN jobreqs.posting_technologies.classifier_version IS
    'The paragraph classifier version that kept the text the technology was found in; NULL: not recorded.';
