-- 0015: the same job on two sources (a company's job board and Indeed, say) is linked by a
-- normalised key (company, title, location) and counted once in the 'all' slice of the marts.

-- One part of the key: lower case, punctuation to spaces, runs of spaces to one; a company loses
-- its legal form (Inc, LLC, GmbH...), a location its postcode and country, and any location
-- naming remote work is 'remote' (boards and Indeed word it differently: "Remote", "Remote in
-- United States"). Letters outside a-z count as punctuation. NULL when nothing is left.
CREATE FUNCTION jobreqs.duplicate_key_part(value text, kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NULLIF(btrim(regexp_replace(
        CASE
            WHEN kind = 'location' AND lower(value) ~ '\mremote\M' THEN 'remote'
            WHEN kind = 'company' THEN regexp_replace(regexp_replace(lower(value), '[^a-z0-9]+', ' ', 'g'),
                '\m(inc|llc|ltd|limited|corp|corporation|co|gmbh|plc|ag|sa|bv)\M', ' ', 'g')
            WHEN kind = 'location' THEN regexp_replace(regexp_replace(lower(value), '[^a-z0-9]+', ' ', 'g'),
                '\m(\d{5}|usa|us|united states|uk|united kingdom)\M', ' ', 'g')
            ELSE regexp_replace(lower(value), '[^a-z0-9]+', ' ', 'g')
        END, '\s+', ' ', 'g')), '')
$$;

-- company | title | location; NULL (never linked) without a company or a title.
ALTER TABLE jobreqs.postings ADD COLUMN duplicate_key text GENERATED ALWAYS AS (
    jobreqs.duplicate_key_part(company, 'company') || '|' || jobreqs.duplicate_key_part(title, 'title') || '|'
    || coalesce(jobreqs.duplicate_key_part(location, 'location'), '')
) STORED;
CREATE INDEX postings_duplicate_key_idx ON jobreqs.postings (duplicate_key, posting_date);

CREATE VIEW jobreqs.posting_duplicates AS
SELECT p.source, p.source_id, p.posting_date, p.duplicate_key,
       c.source AS duplicate_of_source, c.source_id AS duplicate_of_source_id,
       c.posting_date AS duplicate_of_posting_date
FROM jobreqs.postings p
CROSS JOIN LATERAL (
    -- the first posting of another source with the same key, found up to 30 days before
    SELECT q.source, q.source_id, q.posting_date
    FROM jobreqs.postings q
    WHERE q.duplicate_key = p.duplicate_key AND q.source <> p.source
      AND q.posting_date BETWEEN p.posting_date - 30 AND p.posting_date
      AND (q.posting_date, q.source, q.source_id) < (p.posting_date, p.source, p.source_id)
    ORDER BY q.posting_date, q.source, q.source_id
    LIMIT 1
) c
WHERE p.duplicate_key IS NOT NULL;

COMMENT ON VIEW jobreqs.posting_duplicates IS
    'Postings that another source published first (same duplicate_key, found up to 30 days before): counted in their own source''s slices, not again in ''all''.';
COMMENT ON COLUMN jobreqs.posting_duplicates.source IS 'Source of the duplicate.';
COMMENT ON COLUMN jobreqs.posting_duplicates.source_id IS 'Its id at that source.';
COMMENT ON COLUMN jobreqs.posting_duplicates.posting_date IS 'Its posting_date.';
COMMENT ON COLUMN jobreqs.posting_duplicates.duplicate_key IS 'The normalised company | title | location both share.';
COMMENT ON COLUMN jobreqs.posting_duplicates.duplicate_of_source IS 'Source of the posting it duplicates (the first one found).';
COMMENT ON COLUMN jobreqs.posting_duplicates.duplicate_of_source_id IS 'Id of that posting at its source.';
COMMENT ON COLUMN jobreqs.posting_duplicates.duplicate_of_posting_date IS 'posting_date of that posting.';

-- The slices as in 0004, but a duplicate is left out of the 'all' source slices.
CREATE OR REPLACE VIEW jobreqs.posting_slices AS
WITH posting_keyword AS (
    SELECT p.source, p.source_id, p.posting_date,
           COALESCE(k.keyword, '(none)') AS keyword
    FROM jobreqs.postings p
    LEFT JOIN (SELECT DISTINCT source, source_id, keyword FROM jobreqs.posting_keywords) k
           ON k.source = p.source AND k.source_id = p.source_id
)
SELECT DISTINCT pk.source, pk.source_id, pk.posting_date, s.slice_source, k.slice_keyword
FROM posting_keyword pk
CROSS JOIN LATERAL (VALUES (pk.source), ('all')) AS s (slice_source)
CROSS JOIN LATERAL (VALUES (pk.keyword), ('all')) AS k (slice_keyword)
WHERE s.slice_source <> 'all'
   OR NOT EXISTS (SELECT 1 FROM jobreqs.posting_duplicates d
                  WHERE d.source = pk.source AND d.source_id = pk.source_id);

COMMENT ON VIEW jobreqs.posting_slices IS
    'Staging: one row per posting and slice it belongs to (its source and all; each keyword that found it, or (none), and all). A posting another source published first (posting_duplicates) is in its source''s slices only, so ''all'' counts the job once.';
