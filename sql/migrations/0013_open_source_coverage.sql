-- 0013: the open sources record their coverage too. collect_hn and collect_greenhouse/lever/ashby
-- write one jobreqs.source_coverage row per date as scrape_indeed and upwork_fetch do
-- (jobreqs/coverage.py: hn_row, ats_row); the table and the mart need no new column, only the
-- descriptions say what each column means for them (docs/marts.md is generated from these).

COMMENT ON TABLE jobreqs.source_coverage IS
    'One row per source and date, written by the collection task (scrape_indeed, upwork_fetch, collect_hn, collect_greenhouse, collect_lever, collect_ashby; a failed collection as status ''failed''); a re-collection replaces it, a backfill that re-processes the lake''s snapshot keeps it.';
COMMENT ON COLUMN jobreqs.source_coverage.reported IS
    'What the source said was available: Indeed, the sum of the result counts its searches reported (searches overlap, so an upper bound); Upwork, NULL (its search total is not per day); Hacker News, the date''s top-level comments on the hiring threads; the job boards, the jobs the boards read answered (Greenhouse''s meta.total, else the jobs returned).';
COMMENT ON COLUMN jobreqs.source_coverage.listed IS
    'Distinct postings listed: Indeed, by its searches; Hacker News, the date''s top-level comments; the job boards, the jobs the boards read answered. NULL when the source has no listing step (Upwork).';
COMMENT ON COLUMN jobreqs.source_coverage.coverage IS
    'Share of what the source served that was collected (0..1; 0 for a failed collection). Indeed: searches answered x organic cards read of the counts it serves (its 1,000 cap applied) x postings collected of those listed. Upwork: share of the day''s 24 hours of publish times read without a gap. Hacker News: comments collected or deleted/dead (no posting to collect) of those listed. Job boards: boards read of those configured x jobs collected or not public of those listed.';

COMMENT ON COLUMN jobreqs.coverage_daily.listed IS 'Distinct postings the source listed (Indeed''s searches, the date''s HN comments, the boards'' jobs).';
COMMENT ON COLUMN jobreqs.coverage_daily.blocked IS 'Indeed: block answers met (Cloudflare challenges, block pages), retries included; Hacker News: comment fetches failed for good; job boards: boards whose request failed for good.';
COMMENT ON COLUMN jobreqs.coverage_daily.blocked_lost IS 'Pages (Indeed), comments (HN) or boards given up after blocks or failed requests.';
COMMENT ON COLUMN jobreqs.coverage_daily.quarantined IS 'Records quarantined at collection and at normalise (job boards: the boards set aside at collection, not found or failed).';
COMMENT ON COLUMN jobreqs.coverage_daily.status IS '''collected'', or ''failed'' when the collection got nothing usable (Indeed blocked throughout, HN''s threads or every board unreadable).';
