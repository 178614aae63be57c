-- 0010: coverage beside every figure. A trend that moves because a source blocked half the crawl
-- is an outage, not a market change: each collection records, per source and date, what the
-- source reported, what was collected, what was blocked or quarantined and whether a cap was hit.

CREATE TABLE jobreqs.source_coverage (
    source               text        NOT NULL,
    coverage_date        date        NOT NULL,
    run_id               text        NOT NULL,
    -- 'collected': the collection ended and wrote its snapshot; 'failed': it was blocked
    -- throughout (nothing usable, the lake's snapshot left as it was)
    status               text        NOT NULL CHECK (status IN ('collected', 'failed')),
    reported             integer     CHECK (reported >= 0),
    listed               integer     CHECK (listed >= 0),
    collected            integer     NOT NULL CHECK (collected >= 0),
    blocked              integer     NOT NULL DEFAULT 0 CHECK (blocked >= 0),
    blocked_lost         integer     NOT NULL DEFAULT 0 CHECK (blocked_lost >= 0),
    quarantined          integer     NOT NULL DEFAULT 0 CHECK (quarantined >= 0),
    normalise_quarantined integer    NOT NULL DEFAULT 0 CHECK (normalise_quarantined >= 0),
    cap_hit              boolean     NOT NULL DEFAULT false,
    coverage             numeric(6,4) NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    detail               jsonb       NOT NULL DEFAULT '{}',
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, coverage_date)
);

COMMENT ON TABLE jobreqs.source_coverage IS
    'One row per source and date, written by the collection task (scrape_indeed, upwork_fetch); a re-collection replaces it, a backfill that re-processes the lake''s snapshot keeps it.';
COMMENT ON COLUMN jobreqs.source_coverage.reported IS
    'What the source said was available: Indeed, the sum of the result counts its searches reported (searches overlap, so an upper bound); Upwork, NULL (its search total is not per day).';
COMMENT ON COLUMN jobreqs.source_coverage.listed IS
    'Distinct postings the searches listed (Indeed); NULL when the source has no listing step.';
COMMENT ON COLUMN jobreqs.source_coverage.coverage IS
    'Share of what the source served that was collected (0..1). Indeed: searches answered x organic cards read of the counts it serves (its 1,000 cap applied) x postings collected of those listed. Upwork: share of the day''s 24 hours of publish times read without a gap.';

-- The coverage mart: one row per source (and 'all') and date, beside its usual level.
CREATE VIEW jobreqs.coverage_daily AS
WITH per_source AS (
    SELECT source, coverage_date, status, reported, listed, collected, blocked, blocked_lost,
           quarantined + normalise_quarantined AS quarantined, cap_hit, coverage::float8 AS coverage
    FROM jobreqs.source_coverage
),
with_usual AS (
    SELECT p.*, u.usual_coverage, u.usual_collected, u.usual_days
    FROM per_source p
    LEFT JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY q.coverage) AS usual_coverage,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY q.collected) AS usual_collected,
               count(*)::integer AS usual_days
        FROM per_source q
        WHERE q.source = p.source
          AND q.coverage_date >= p.coverage_date - 28 AND q.coverage_date < p.coverage_date
    ) u ON true
),
flagged AS (
    SELECT w.*,
           -- well below: under 80% of the usual level, judged once 3 earlier dates exist
           COALESCE(w.usual_days >= 3 AND w.coverage < 0.8 * w.usual_coverage, false) AS below_usual
    FROM with_usual w
)
SELECT source, coverage_date, status, reported, listed, collected, blocked, blocked_lost, quarantined,
       cap_hit, coverage, usual_coverage, usual_collected, usual_days, below_usual
FROM flagged
UNION ALL
SELECT 'all', coverage_date,
       CASE WHEN bool_or(status = 'failed') THEN 'failed' ELSE 'collected' END,
       sum(reported)::integer, sum(listed)::integer, sum(collected)::integer, sum(blocked)::integer,
       sum(blocked_lost)::integer, sum(quarantined)::integer, bool_or(cap_hit),
       min(coverage), min(usual_coverage), sum(usual_collected), min(usual_days), bool_or(below_usual)
FROM flagged
GROUP BY coverage_date;

COMMENT ON VIEW jobreqs.coverage_daily IS
    'Coverage per source and date (source ''all'': every source of the date) beside its usual level: the median of the 28 dates before it. The trends page draws it under the chart and warns on below_usual dates; the export carries the same numbers.';
COMMENT ON COLUMN jobreqs.coverage_daily.source IS 'Source, or ''all'' (the weakest source''s coverage, the sums of the counts).';
COMMENT ON COLUMN jobreqs.coverage_daily.coverage_date IS 'The date collected.';
COMMENT ON COLUMN jobreqs.coverage_daily.status IS '''collected'', or ''failed'' when the collection was blocked throughout.';
COMMENT ON COLUMN jobreqs.coverage_daily.reported IS 'What the source reported available (see source_coverage.reported).';
COMMENT ON COLUMN jobreqs.coverage_daily.listed IS 'Distinct postings the searches listed.';
COMMENT ON COLUMN jobreqs.coverage_daily.collected IS 'Postings collected into the raw zone.';
COMMENT ON COLUMN jobreqs.coverage_daily.blocked IS 'Block answers met (Cloudflare challenges, block pages), retries included.';
COMMENT ON COLUMN jobreqs.coverage_daily.blocked_lost IS 'Pages given up after blocks.';
COMMENT ON COLUMN jobreqs.coverage_daily.quarantined IS 'Records quarantined at collection and at normalise.';
COMMENT ON COLUMN jobreqs.coverage_daily.cap_hit IS 'A search reported more than the source serves (Indeed 1,000; Upwork offset 5,000).';
COMMENT ON COLUMN jobreqs.coverage_daily.coverage IS 'Share of what the source served that was collected, 0..1 (''all'': the lowest source).';
COMMENT ON COLUMN jobreqs.coverage_daily.usual_coverage IS 'Median coverage of the 28 dates before (NULL without any).';
COMMENT ON COLUMN jobreqs.coverage_daily.usual_collected IS 'Median postings collected on the 28 dates before.';
COMMENT ON COLUMN jobreqs.coverage_daily.usual_days IS 'Earlier dates the usual level is the median of.';
COMMENT ON COLUMN jobreqs.coverage_daily.below_usual IS 'Coverage under 80% of the usual level (judged once 3 earlier dates exist); ''all'': any source below.';
