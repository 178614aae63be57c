-- 0009: Upwork collected more often than daily (its search serves nothing past offset 5,000).
-- Each sweep of the newest jobs, and each daily pass, records the stretch of publish times it
-- read without a gap: a day's coverage is the share of its window those stretches cover.
CREATE TABLE jobreqs.upwork_sweeps (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('sweep', 'daily')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    -- every job published in [oldest_published, newest_published] was read
    oldest_published  timestamptz,
    newest_published  timestamptz,
    -- met jobs collected before (a sweep) or the window's start (a daily pass): no gap behind
    reached_known     boolean     NOT NULL,
    -- stopped by the offset cap
    capped            boolean     NOT NULL,
    pages             integer     NOT NULL,
    new_jobs          integer     NOT NULL
);
CREATE INDEX upwork_sweeps_published_idx ON jobreqs.upwork_sweeps (oldest_published, newest_published);

-- The official search carries each client's statistics: such jobs are enriched by the search.
ALTER TABLE jobreqs.upwork_jobs DROP CONSTRAINT upwork_jobs_enrich_path_check;
ALTER TABLE jobreqs.upwork_jobs ADD CONSTRAINT upwork_jobs_enrich_path_check
    CHECK (enrich_path IN ('fast', 'fallback', 'search'));
