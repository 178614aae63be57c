-- 0016: the six materialised marts become tables that publish keeps up to date incrementally
-- (transforms.marts.update_marts, issue 14): a run recomputes the daily rows of the dates it
-- touched and the rolling/period rows whose windows hold those dates, instead of refreshing every
-- mart from all of history. Same names, columns, comments and unique keys: readers (the trends
-- page, exports, docs/example_queries.sql, SQL clients) see no difference. A full rebuild stays
-- available (`jobreqs rebuild-marts`, transforms.marts.refresh_marts).

-- Dates whose marts must be recomputed: written by the load (the posting dates it touched) and by
-- whatever else changes the base tables; consumed by publish. `version` lets a publish remove only
-- the marks it processed (a load that re-marks a date meanwhile keeps it pending).
CREATE SEQUENCE jobreqs.mart_pending_version;
CREATE TABLE jobreqs.mart_pending_dates (
    posting_date  date   PRIMARY KEY,
    version       bigint NOT NULL DEFAULT nextval('jobreqs.mart_pending_version'),
    marked_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE jobreqs.mart_pending_dates IS
    'Posting dates whose marts publish has yet to recompute (marked by the load, cleared by publish).';

DO $$
DECLARE
    mart text;
    populated boolean;
    col record;
BEGIN
    FOREACH mart IN ARRAY ARRAY['technology_pairs', 'technology_period_shares', 'technology_trends',
                                'category_daily', 'technology_daily', 'postings_daily'] LOOP
        EXECUTE format('CREATE TABLE jobreqs.%I AS SELECT * FROM jobreqs.%I WITH NO DATA', mart || '__new', mart);
        SELECT c.relispopulated INTO populated FROM pg_class c
        WHERE c.oid = format('jobreqs.%I', mart)::regclass;
        IF populated THEN  -- keep what readers see until the first publish
            EXECUTE format('INSERT INTO jobreqs.%I SELECT * FROM jobreqs.%I', mart || '__new', mart);
        END IF;
        EXECUTE format('COMMENT ON TABLE jobreqs.%I IS %L', mart || '__new',
                       replace(obj_description(format('jobreqs.%I', mart)::regclass, 'pg_class'),
                               'Refreshed by publish.', 'Kept up to date by publish.'));
        FOR col IN SELECT a.attname, col_description(a.attrelid, a.attnum) AS doc FROM pg_attribute a
                   WHERE a.attrelid = format('jobreqs.%I', mart)::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
            EXECUTE format('COMMENT ON COLUMN jobreqs.%I.%I IS %L', mart || '__new', col.attname, col.doc);
        END LOOP;
    END LOOP;
END
$$;

-- technology_first_seen reads technology_daily: dropped with it, created again below.
DROP MATERIALIZED VIEW jobreqs.technology_pairs, jobreqs.technology_period_shares,
    jobreqs.technology_trends, jobreqs.category_daily, jobreqs.technology_daily,
    jobreqs.postings_daily CASCADE;

ALTER TABLE jobreqs.postings_daily__new RENAME TO postings_daily;
ALTER TABLE jobreqs.technology_daily__new RENAME TO technology_daily;
ALTER TABLE jobreqs.category_daily__new RENAME TO category_daily;
ALTER TABLE jobreqs.technology_trends__new RENAME TO technology_trends;
ALTER TABLE jobreqs.technology_period_shares__new RENAME TO technology_period_shares;
ALTER TABLE jobreqs.technology_pairs__new RENAME TO technology_pairs;

ALTER TABLE jobreqs.postings_daily ADD CONSTRAINT postings_daily_key PRIMARY KEY (posting_date, source, keyword);
ALTER TABLE jobreqs.technology_daily ADD CONSTRAINT technology_daily_key PRIMARY KEY (posting_date, source, keyword, technology);
CREATE INDEX technology_daily_slice ON jobreqs.technology_daily (source, keyword, posting_date);
ALTER TABLE jobreqs.category_daily ADD CONSTRAINT category_daily_key PRIMARY KEY (posting_date, source, keyword, category);
ALTER TABLE jobreqs.technology_trends ADD CONSTRAINT technology_trends_key PRIMARY KEY (posting_date, source, keyword, technology);
CREATE INDEX technology_trends_slice ON jobreqs.technology_trends (source, keyword, posting_date);
ALTER TABLE jobreqs.technology_period_shares ADD CONSTRAINT technology_period_shares_key
    PRIMARY KEY (period, period_start, source, keyword, technology);
ALTER TABLE jobreqs.technology_pairs ADD CONSTRAINT technology_pairs_key PRIMARY KEY (month, source, technology_a, technology_b);

-- Every stored date once: the first publish after this migration recomputes all of history with
-- the incremental code, whatever the old views held.
INSERT INTO jobreqs.mart_pending_dates (posting_date) SELECT DISTINCT posting_date FROM jobreqs.postings;

CREATE VIEW jobreqs.technology_first_seen AS
SELECT source, technology,
       min(category) AS category,
       min(posting_date) AS first_seen,
       max(posting_date) AS last_seen,
       (array_agg(postings ORDER BY posting_date))[1] AS postings_on_first_day,
       sum(postings)::integer AS total_postings,
       count(*)::integer AS days_seen
FROM jobreqs.technology_daily
WHERE keyword = 'all'
GROUP BY source, technology;

COMMENT ON VIEW jobreqs.technology_first_seen IS
    'Per source and technology, the first day a posting asked for it (as of the last publish). New technologies: WHERE first_seen >= current_date - 7.';
COMMENT ON COLUMN jobreqs.technology_first_seen.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_first_seen.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.technology_first_seen.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.technology_first_seen.first_seen IS 'First posting_date on which a posting asked for it.';
COMMENT ON COLUMN jobreqs.technology_first_seen.last_seen IS 'Last posting_date on which a posting asked for it.';
COMMENT ON COLUMN jobreqs.technology_first_seen.postings_on_first_day IS 'Postings asking for it on first_seen.';
COMMENT ON COLUMN jobreqs.technology_first_seen.total_postings IS 'Postings asking for it over the whole history.';
COMMENT ON COLUMN jobreqs.technology_first_seen.days_seen IS 'Days on which at least one posting asked for it.';
