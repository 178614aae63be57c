-- 0014: sources that publish openly (issue 16): Hacker News "Who is hiring?" threads and the
-- public job boards of Greenhouse, Lever and Ashby.
ALTER TABLE jobreqs.postings DROP CONSTRAINT postings_source_check;
ALTER TABLE jobreqs.postings ADD CONSTRAINT postings_source_check
    CHECK (source IN ('indeed', 'upwork', 'hn', 'greenhouse', 'lever', 'ashby'));

-- Every date a posting was collected on, once per date: a job board lists a job every day it is
-- open, so its first and last dates say how long it stayed open. (postings.posting_date stays
-- the first date, the day the trends count the posting on.)
CREATE TABLE jobreqs.posting_sightings (
    source     text NOT NULL,
    source_id  text NOT NULL,
    seen_on    date NOT NULL,
    PRIMARY KEY (source, source_id, seen_on),
    FOREIGN KEY (source, source_id) REFERENCES jobreqs.postings ON DELETE CASCADE
);
CREATE INDEX posting_sightings_seen_on_idx ON jobreqs.posting_sightings (seen_on);

CREATE VIEW jobreqs.posting_spans AS
SELECT source, source_id,
       min(seen_on)        AS first_seen,
       max(seen_on)        AS last_seen,
       count(*)::integer   AS days_seen,
       (max(seen_on) - min(seen_on) + 1)::integer AS days_open
FROM jobreqs.posting_sightings
GROUP BY source, source_id;

COMMENT ON TABLE jobreqs.posting_sightings IS
    'One row per posting and date it was collected on (a job board lists an open job every day).';
COMMENT ON VIEW jobreqs.posting_spans IS
    'Per posting: the first and last dates it was collected on, how many dates, and the span in days (how long a board kept it open, as far as the runs saw).';
COMMENT ON COLUMN jobreqs.posting_spans.first_seen IS 'First date the posting was collected on.';
COMMENT ON COLUMN jobreqs.posting_spans.last_seen IS 'Last date the posting was collected on.';
COMMENT ON COLUMN jobreqs.posting_spans.days_seen IS 'Dates it was collected on.';
COMMENT ON COLUMN jobreqs.posting_spans.days_open IS 'last_seen - first_seen + 1.';
COMMENT ON COLUMN jobreqs.posting_spans.source IS 'Source of the posting.';
COMMENT ON COLUMN jobreqs.posting_spans.source_id IS 'Id of the posting at its source.';
