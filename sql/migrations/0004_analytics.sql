-- 0004: trend marts for SQL clients and the trends page.
--
-- Layers, in the style of dbt's example projects:
--   staging  posting_slices                      (view)   every posting in every slice it belongs to
--   marts    postings_daily                      (matview) the denominator: postings per day and slice
--            technology_daily                    (matview) postings asking for a technology, and share
--            category_daily                      (matview) the same for technology categories
--            technology_trends                   (matview) rolling 7/28-day shares, WoW and MoM change
--            technology_period_shares            (matview) calendar weeks and months, change vs the previous one
--            technology_pairs                    (matview) co-occurrence of technology pairs per month
--            technology_first_seen               (view)    the first day each technology appeared
--            technology_salaries                 (view)    salary ranges, one row per period and currency
--            run_summary                         (view)    what each pipeline run did
-- Materialised views are refreshed by the DAG's publish stage (transforms.marts.refresh_marts), in
-- the order above, CONCURRENTLY: each has a unique index, so readers never wait on a refresh.
--
-- A "slice" is a (source, keyword) pair. source is 'indeed', 'upwork' or 'all'; keyword is a
-- search keyword, '(none)' for postings that no keyword search found, or 'all'. A posting found by
-- two keywords counts once in each keyword's slice and once in the 'all' slice, so never add up
-- the rows of different keywords: filter on one slice (source = 'all' AND keyword = 'all' for
-- "every posting").

-- staging ------------------------------------------------------------------------------------

CREATE VIEW jobreqs.posting_slices AS
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
CROSS JOIN LATERAL (VALUES (pk.keyword), ('all')) AS k (slice_keyword);

COMMENT ON VIEW jobreqs.posting_slices IS
    'Staging: one row per posting and slice it belongs to (its source and all; each keyword that found it, or (none), and all).';
COMMENT ON COLUMN jobreqs.posting_slices.source IS 'Source of the posting (indeed, upwork).';
COMMENT ON COLUMN jobreqs.posting_slices.source_id IS 'Id of the posting at its source.';
COMMENT ON COLUMN jobreqs.posting_slices.posting_date IS 'Day the trends count the posting on (postings.posting_date).';
COMMENT ON COLUMN jobreqs.posting_slices.slice_source IS 'Source of the slice: the posting''s source, or all.';
COMMENT ON COLUMN jobreqs.posting_slices.slice_keyword IS 'Keyword of the slice: a search keyword that found the posting, (none) if none did, or all.';

-- postings_daily ------------------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.postings_daily AS
SELECT s.posting_date,
       s.slice_source  AS source,
       s.slice_keyword AS keyword,
       count(*)::integer AS postings,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM jobreqs.posting_technologies pt
           WHERE pt.source = s.source AND pt.source_id = s.source_id))::integer AS postings_with_technology
FROM jobreqs.posting_slices s
GROUP BY s.posting_date, s.slice_source, s.slice_keyword;
CREATE UNIQUE INDEX postings_daily_key ON jobreqs.postings_daily (posting_date, source, keyword);

COMMENT ON MATERIALIZED VIEW jobreqs.postings_daily IS
    'Mart: number of postings per day and slice, the denominator of every share. Refreshed by publish.';
COMMENT ON COLUMN jobreqs.postings_daily.posting_date IS 'Day (postings.posting_date).';
COMMENT ON COLUMN jobreqs.postings_daily.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.postings_daily.keyword IS 'Search keyword, (none), or all.';
COMMENT ON COLUMN jobreqs.postings_daily.postings IS 'Postings in the slice that day.';
COMMENT ON COLUMN jobreqs.postings_daily.postings_with_technology IS 'Of those, postings with at least one canonical technology.';

-- technology_daily ----------------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.technology_daily AS
SELECT s.posting_date,
       s.slice_source  AS source,
       s.slice_keyword AS keyword,
       pt.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       count(*)::integer AS postings,
       d.postings AS total_postings,
       count(*)::numeric / d.postings AS share
FROM jobreqs.posting_slices s
JOIN jobreqs.posting_technologies pt ON pt.source = s.source AND pt.source_id = s.source_id
LEFT JOIN jobreqs.technologies t ON t.name = pt.technology
JOIN jobreqs.postings_daily d
  ON d.posting_date = s.posting_date AND d.source = s.slice_source AND d.keyword = s.slice_keyword
GROUP BY s.posting_date, s.slice_source, s.slice_keyword, pt.technology, t.category, d.postings;
CREATE UNIQUE INDEX technology_daily_key ON jobreqs.technology_daily (posting_date, source, keyword, technology);
CREATE INDEX technology_daily_slice ON jobreqs.technology_daily (source, keyword, posting_date);

COMMENT ON MATERIALIZED VIEW jobreqs.technology_daily IS
    'Mart: per day, slice and technology, how many postings ask for the technology and their share of the slice''s postings. Only technologies asked for that day have a row (absent = 0).';
COMMENT ON COLUMN jobreqs.technology_daily.posting_date IS 'Day (postings.posting_date).';
COMMENT ON COLUMN jobreqs.technology_daily.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_daily.keyword IS 'Search keyword, (none), or all.';
COMMENT ON COLUMN jobreqs.technology_daily.technology IS 'Canonical technology name (technologies.name).';
COMMENT ON COLUMN jobreqs.technology_daily.category IS 'Its taxonomy category (technologies.category), uncategorised if the taxonomy has none.';
COMMENT ON COLUMN jobreqs.technology_daily.postings IS 'Postings in the slice that day that ask for the technology.';
COMMENT ON COLUMN jobreqs.technology_daily.total_postings IS 'All postings in the slice that day (postings_daily.postings).';
COMMENT ON COLUMN jobreqs.technology_daily.share IS 'postings / total_postings, a fraction between 0 and 1.';

-- category_daily ------------------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.category_daily AS
SELECT s.posting_date,
       s.slice_source  AS source,
       s.slice_keyword AS keyword,
       COALESCE(t.category, 'uncategorised') AS category,
       count(DISTINCT s.source || ':' || s.source_id)::integer AS postings,
       count(DISTINCT pt.technology)::integer AS technologies,
       d.postings AS total_postings,
       count(DISTINCT s.source || ':' || s.source_id)::numeric / d.postings AS share
FROM jobreqs.posting_slices s
JOIN jobreqs.posting_technologies pt ON pt.source = s.source AND pt.source_id = s.source_id
LEFT JOIN jobreqs.technologies t ON t.name = pt.technology
JOIN jobreqs.postings_daily d
  ON d.posting_date = s.posting_date AND d.source = s.slice_source AND d.keyword = s.slice_keyword
GROUP BY s.posting_date, s.slice_source, s.slice_keyword, COALESCE(t.category, 'uncategorised'), d.postings;
CREATE UNIQUE INDEX category_daily_key ON jobreqs.category_daily (posting_date, source, keyword, category);

COMMENT ON MATERIALIZED VIEW jobreqs.category_daily IS
    'Mart: per day, slice and technology category, how many postings ask for at least one technology of the category, and their share.';
COMMENT ON COLUMN jobreqs.category_daily.posting_date IS 'Day (postings.posting_date).';
COMMENT ON COLUMN jobreqs.category_daily.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.category_daily.keyword IS 'Search keyword, (none), or all.';
COMMENT ON COLUMN jobreqs.category_daily.category IS 'Taxonomy category (technologies.category), uncategorised for technologies without one.';
COMMENT ON COLUMN jobreqs.category_daily.postings IS 'Postings in the slice that day asking for at least one technology of the category (each posting once).';
COMMENT ON COLUMN jobreqs.category_daily.technologies IS 'Distinct technologies of the category asked for in the slice that day.';
COMMENT ON COLUMN jobreqs.category_daily.total_postings IS 'All postings in the slice that day.';
COMMENT ON COLUMN jobreqs.category_daily.share IS 'postings / total_postings, a fraction between 0 and 1.';

-- technology_trends ---------------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.technology_trends AS
WITH slice_days AS (
    -- Days on which the slice has postings, with the postings of each rolling window.
    SELECT posting_date, source, keyword, postings AS total_postings,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW)            AS total_7d,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '13 days' PRECEDING AND INTERVAL '7 days' PRECEDING) AS total_7d_prev,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW)           AS total_28d,
           sum(postings) OVER (PARTITION BY source, keyword ORDER BY posting_date
               RANGE BETWEEN INTERVAL '55 days' PRECEDING AND INTERVAL '28 days' PRECEDING) AS total_28d_prev
    FROM jobreqs.postings_daily
),
tech_spans AS (
    -- From the first day a technology was asked for in a slice to 55 days after the last.
    SELECT source, keyword, technology, min(posting_date) AS first_day, max(posting_date) + 55 AS last_day
    FROM jobreqs.technology_daily
    GROUP BY source, keyword, technology
),
grid AS (
    -- Every slice day of each span, with the technology's postings that day (0 when none), so
    -- that each window sum below is complete and drops to zero stay visible (fallers).
    SELECT d.*, s.technology, COALESCE(t.postings, 0) AS postings
    FROM tech_spans s
    JOIN slice_days d
      ON d.source = s.source AND d.keyword = s.keyword AND d.posting_date BETWEEN s.first_day AND s.last_day
    LEFT JOIN jobreqs.technology_daily t
      ON t.posting_date = d.posting_date AND t.source = d.source
     AND t.keyword = d.keyword AND t.technology = s.technology
),
windowed AS (
    SELECT g.*,
           sum(postings) OVER w_tech_7       AS postings_7d,
           sum(postings) OVER w_tech_7_prev  AS postings_7d_prev,
           sum(postings) OVER w_tech_28      AS postings_28d,
           sum(postings) OVER w_tech_28_prev AS postings_28d_prev
    FROM grid g
    WINDOW w AS (PARTITION BY source, keyword, technology ORDER BY posting_date),
           w_tech_7       AS (w RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW),
           w_tech_7_prev  AS (w RANGE BETWEEN INTERVAL '13 days' PRECEDING AND INTERVAL '7 days' PRECEDING),
           w_tech_28      AS (w RANGE BETWEEN INTERVAL '27 days' PRECEDING AND CURRENT ROW),
           w_tech_28_prev AS (w RANGE BETWEEN INTERVAL '55 days' PRECEDING AND INTERVAL '28 days' PRECEDING)
)
SELECT w.posting_date, w.source, w.keyword, w.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       w.postings::integer AS postings,
       w.total_postings::integer AS total_postings,
       w.postings::numeric / w.total_postings AS share,
       w.postings_7d::integer AS postings_7d,
       w.total_7d::integer AS total_postings_7d,
       w.postings_7d::numeric / w.total_7d AS share_7d,
       w.postings_28d::integer AS postings_28d,
       w.total_28d::integer AS total_postings_28d,
       w.postings_28d::numeric / w.total_28d AS share_28d,
       CASE WHEN w.total_7d_prev > 0 THEN COALESCE(w.postings_7d_prev, 0) END::integer AS postings_7d_prev_week,
       COALESCE(w.postings_7d_prev, 0)::numeric / NULLIF(w.total_7d_prev, 0) AS share_7d_prev_week,
       w.postings_7d::numeric / w.total_7d
           - COALESCE(w.postings_7d_prev, 0)::numeric / NULLIF(w.total_7d_prev, 0) AS wow_change,
       CASE WHEN w.total_28d_prev > 0 THEN COALESCE(w.postings_28d_prev, 0) END::integer AS postings_28d_prev_month,
       COALESCE(w.postings_28d_prev, 0)::numeric / NULLIF(w.total_28d_prev, 0) AS share_28d_prev_month,
       w.postings_28d::numeric / w.total_28d
           - COALESCE(w.postings_28d_prev, 0)::numeric / NULLIF(w.total_28d_prev, 0) AS mom_change
FROM windowed w
LEFT JOIN jobreqs.technologies t ON t.name = w.technology
-- Only days on which the technology was asked for in the 56 days up to them.
WHERE w.postings_28d > 0 OR w.postings_28d_prev > 0;
CREATE UNIQUE INDEX technology_trends_key ON jobreqs.technology_trends (posting_date, source, keyword, technology);
CREATE INDEX technology_trends_slice ON jobreqs.technology_trends (source, keyword, posting_date);

COMMENT ON MATERIALIZED VIEW jobreqs.technology_trends IS
    'Mart: per day, slice and technology, rolling 7- and 28-day shares and their week-over-week and month-over-month change. Windows are calendar days ending on posting_date (7d = that day and the 6 before; 28d likewise); a row exists for each day the slice has postings and the technology was asked for in the 56 days up to it. Changes are differences of shares (0.05 = 5 percentage points).';
COMMENT ON COLUMN jobreqs.technology_trends.posting_date IS 'Last day of the windows.';
COMMENT ON COLUMN jobreqs.technology_trends.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_trends.keyword IS 'Search keyword, (none), or all.';
COMMENT ON COLUMN jobreqs.technology_trends.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.technology_trends.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.technology_trends.postings IS 'Postings that day asking for the technology (0 when none did).';
COMMENT ON COLUMN jobreqs.technology_trends.total_postings IS 'All postings in the slice that day.';
COMMENT ON COLUMN jobreqs.technology_trends.share IS 'postings / total_postings.';
COMMENT ON COLUMN jobreqs.technology_trends.postings_7d IS 'Postings asking for the technology in the 7 days ending on posting_date.';
COMMENT ON COLUMN jobreqs.technology_trends.total_postings_7d IS 'All postings in the slice in those 7 days.';
COMMENT ON COLUMN jobreqs.technology_trends.share_7d IS 'Rolling 7-day share: postings_7d / total_postings_7d.';
COMMENT ON COLUMN jobreqs.technology_trends.postings_28d IS 'Postings asking for the technology in the 28 days ending on posting_date.';
COMMENT ON COLUMN jobreqs.technology_trends.total_postings_28d IS 'All postings in the slice in those 28 days.';
COMMENT ON COLUMN jobreqs.technology_trends.share_28d IS 'Rolling 28-day share: postings_28d / total_postings_28d.';
COMMENT ON COLUMN jobreqs.technology_trends.postings_7d_prev_week IS 'Postings asking for the technology in the 7 days one week earlier (days -13..-7); NULL when the slice had no postings then.';
COMMENT ON COLUMN jobreqs.technology_trends.share_7d_prev_week IS 'The 7-day share one week earlier (days -13..-7); NULL when the slice had no postings then.';
COMMENT ON COLUMN jobreqs.technology_trends.wow_change IS 'Week-over-week change: share_7d - share_7d_prev_week (NULL when that is NULL).';
COMMENT ON COLUMN jobreqs.technology_trends.postings_28d_prev_month IS 'Postings asking for the technology in the 28 days before the 28-day window (days -55..-28); NULL when the slice had no postings then.';
COMMENT ON COLUMN jobreqs.technology_trends.share_28d_prev_month IS 'The 28-day share 28 days earlier (days -55..-28); NULL when the slice had no postings then.';
COMMENT ON COLUMN jobreqs.technology_trends.mom_change IS 'Month-over-month change (28-day months): share_28d - share_28d_prev_month.';

-- technology_period_shares --------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.technology_period_shares AS
WITH kinds (period, step) AS (VALUES ('week', INTERVAL '1 week'), ('month', INTERVAL '1 month')),
period_totals AS (
    SELECT k.period, k.step, date_trunc(k.period, d.posting_date::timestamp)::date AS period_start,
           d.source, d.keyword,
           sum(d.postings)::integer AS total_postings,
           count(*)::integer AS days_with_postings
    FROM jobreqs.postings_daily d CROSS JOIN kinds k
    GROUP BY 1, 2, 3, 4, 5
),
period_counts AS (
    SELECT k.period, date_trunc(k.period, t.posting_date::timestamp)::date AS period_start,
           t.source, t.keyword, t.technology, sum(t.postings)::integer AS postings
    FROM jobreqs.technology_daily t CROSS JOIN kinds k
    GROUP BY 1, 2, 3, 4, 5
),
grid AS (
    -- This period's technologies and last period's, so that a drop to zero shows as a change.
    SELECT period, period_start, source, keyword, technology FROM period_counts
    UNION
    SELECT c.period, (c.period_start + k.step)::date, c.source, c.keyword, c.technology
    FROM period_counts c JOIN kinds k USING (period)
)
SELECT g.period, g.period_start,
       (g.period_start + cur.step - INTERVAL '1 day')::date AS period_end,
       g.source, g.keyword, g.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       COALESCE(c.postings, 0) AS postings,
       cur.total_postings,
       COALESCE(c.postings, 0)::numeric / cur.total_postings AS share,
       cur.days_with_postings,
       rank() OVER (PARTITION BY g.period, g.period_start, g.source, g.keyword
                    ORDER BY COALESCE(c.postings, 0) DESC)::integer AS rank,
       CASE WHEN prev.total_postings IS NOT NULL THEN COALESCE(p.postings, 0) END AS prev_postings,
       prev.total_postings AS prev_total_postings,
       COALESCE(p.postings, 0)::numeric / prev.total_postings AS prev_share,
       COALESCE(c.postings, 0)::numeric / cur.total_postings
           - COALESCE(p.postings, 0)::numeric / prev.total_postings AS change
FROM grid g
JOIN period_totals cur
  ON cur.period = g.period AND cur.period_start = g.period_start
 AND cur.source = g.source AND cur.keyword = g.keyword
LEFT JOIN period_totals prev
  ON prev.period = g.period AND (prev.period_start + prev.step)::date = g.period_start
 AND prev.source = g.source AND prev.keyword = g.keyword
LEFT JOIN period_counts c
  ON c.period = g.period AND c.period_start = g.period_start AND c.source = g.source
 AND c.keyword = g.keyword AND c.technology = g.technology
LEFT JOIN period_counts p
  ON p.period = g.period AND (p.period_start + cur.step)::date = g.period_start AND p.source = g.source
 AND p.keyword = g.keyword AND p.technology = g.technology
LEFT JOIN jobreqs.technologies t ON t.name = g.technology;
CREATE UNIQUE INDEX technology_period_shares_key
    ON jobreqs.technology_period_shares (period, period_start, source, keyword, technology);

COMMENT ON MATERIALIZED VIEW jobreqs.technology_period_shares IS
    'Mart: per calendar week (ISO, from Monday) or month, slice and technology, the share of postings asking for it, its rank, and the change against the previous week or month. The current period is partial: see days_with_postings.';
COMMENT ON COLUMN jobreqs.technology_period_shares.period IS 'week or month.';
COMMENT ON COLUMN jobreqs.technology_period_shares.period_start IS 'First day of the week (Monday) or month.';
COMMENT ON COLUMN jobreqs.technology_period_shares.period_end IS 'Last day of the week or month.';
COMMENT ON COLUMN jobreqs.technology_period_shares.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_period_shares.keyword IS 'Search keyword, (none), or all.';
COMMENT ON COLUMN jobreqs.technology_period_shares.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.technology_period_shares.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.technology_period_shares.postings IS 'Postings in the period asking for the technology (0: asked for only in the previous period).';
COMMENT ON COLUMN jobreqs.technology_period_shares.total_postings IS 'All postings in the slice in the period.';
COMMENT ON COLUMN jobreqs.technology_period_shares.share IS 'postings / total_postings.';
COMMENT ON COLUMN jobreqs.technology_period_shares.days_with_postings IS 'Days of the period on which the slice has postings (a partial period has fewer).';
COMMENT ON COLUMN jobreqs.technology_period_shares.rank IS 'Rank by postings within the period and slice (1 = most asked for; ties share a rank).';
COMMENT ON COLUMN jobreqs.technology_period_shares.prev_postings IS 'Postings asking for it in the previous period; NULL when the slice had no postings then.';
COMMENT ON COLUMN jobreqs.technology_period_shares.prev_total_postings IS 'All postings in the slice in the previous period; NULL when none.';
COMMENT ON COLUMN jobreqs.technology_period_shares.prev_share IS 'prev_postings / prev_total_postings.';
COMMENT ON COLUMN jobreqs.technology_period_shares.change IS 'share - prev_share (0.05 = 5 percentage points); NULL when there is no previous period.';

-- technology_pairs ----------------------------------------------------------------------------

CREATE MATERIALIZED VIEW jobreqs.technology_pairs AS
WITH posting_tech AS (
    SELECT pt.source, pt.source_id, pt.technology,
           date_trunc('month', p.posting_date::timestamp)::date AS month
    FROM jobreqs.posting_technologies pt
    JOIN jobreqs.postings p ON p.source = pt.source AND p.source_id = pt.source_id
),
pairs_by_source AS (
    SELECT a.month, a.source, a.technology AS technology_a, b.technology AS technology_b,
           count(*)::integer AS postings_together
    FROM posting_tech a
    JOIN posting_tech b
      ON b.source = a.source AND b.source_id = a.source_id AND a.technology < b.technology
    GROUP BY 1, 2, 3, 4
),
pairs AS (
    -- A posting has one source: the 'all' counts are the sums over sources.
    SELECT * FROM pairs_by_source
    UNION ALL
    SELECT month, 'all', technology_a, technology_b, sum(postings_together)::integer
    FROM pairs_by_source
    GROUP BY month, technology_a, technology_b
),
singles AS NOT MATERIALIZED (
    SELECT period_start AS month, source, technology, postings, total_postings
    FROM jobreqs.technology_period_shares
    WHERE period = 'month' AND keyword = 'all'
)
SELECT p.month, p.source, p.technology_a, p.technology_b, p.postings_together,
       a.postings AS postings_a, b.postings AS postings_b, a.total_postings,
       p.postings_together::numeric / (a.postings + b.postings - p.postings_together) AS jaccard,
       p.postings_together::numeric / a.postings AS share_of_a_with_b,
       p.postings_together::numeric / b.postings AS share_of_b_with_a,
       p.postings_together::numeric * a.total_postings / (a.postings::numeric * b.postings) AS lift
FROM pairs p
-- Inlined (NOT MATERIALIZED) so that these joins use technology_period_shares' unique index.
JOIN singles a ON a.month = p.month AND a.source = p.source AND a.technology = p.technology_a
JOIN singles b ON b.month = p.month AND b.source = p.source AND b.technology = p.technology_b;
CREATE UNIQUE INDEX technology_pairs_key ON jobreqs.technology_pairs (month, source, technology_a, technology_b);

COMMENT ON MATERIALIZED VIEW jobreqs.technology_pairs IS
    'Mart: per calendar month and source, pairs of technologies asked for in the same posting. Each pair once, technology_a < technology_b alphabetically: look a technology up in both columns.';
COMMENT ON COLUMN jobreqs.technology_pairs.month IS 'First day of the calendar month (postings.posting_date).';
COMMENT ON COLUMN jobreqs.technology_pairs.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_pairs.technology_a IS 'First technology of the pair (alphabetically smaller).';
COMMENT ON COLUMN jobreqs.technology_pairs.technology_b IS 'Second technology of the pair.';
COMMENT ON COLUMN jobreqs.technology_pairs.postings_together IS 'Postings that month asking for both.';
COMMENT ON COLUMN jobreqs.technology_pairs.postings_a IS 'Postings that month asking for technology_a.';
COMMENT ON COLUMN jobreqs.technology_pairs.postings_b IS 'Postings that month asking for technology_b.';
COMMENT ON COLUMN jobreqs.technology_pairs.total_postings IS 'All postings that month from the source.';
COMMENT ON COLUMN jobreqs.technology_pairs.jaccard IS 'postings_together / postings asking for either (0..1).';
COMMENT ON COLUMN jobreqs.technology_pairs.share_of_a_with_b IS 'Of the postings asking for technology_a, the fraction that also ask for technology_b.';
COMMENT ON COLUMN jobreqs.technology_pairs.share_of_b_with_a IS 'Of the postings asking for technology_b, the fraction that also ask for technology_a.';
COMMENT ON COLUMN jobreqs.technology_pairs.lift IS 'How much more often the pair occurs than if the two were independent (1 = independent).';

-- technology_first_seen -----------------------------------------------------------------------

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
    'Per source and technology, the first day a posting asked for it (as of the last refresh of technology_daily). New technologies: WHERE first_seen >= current_date - 7.';
COMMENT ON COLUMN jobreqs.technology_first_seen.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_first_seen.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.technology_first_seen.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.technology_first_seen.first_seen IS 'First posting_date on which a posting asked for it.';
COMMENT ON COLUMN jobreqs.technology_first_seen.last_seen IS 'Last posting_date on which a posting asked for it.';
COMMENT ON COLUMN jobreqs.technology_first_seen.postings_on_first_day IS 'Postings asking for it on first_seen.';
COMMENT ON COLUMN jobreqs.technology_first_seen.total_postings IS 'Postings asking for it over the whole history.';
COMMENT ON COLUMN jobreqs.technology_first_seen.days_seen IS 'Days on which at least one posting asked for it.';

-- technology_salaries -------------------------------------------------------------------------

CREATE VIEW jobreqs.technology_salaries AS
WITH salaried AS (
    SELECT p.source, p.source_id, p.posting_date, p.salary_period, p.salary_currency,
           COALESCE(p.salary_is_estimate, false) AS is_estimate,
           p.salary_min, p.salary_max,
           (COALESCE(p.salary_min, p.salary_max) + COALESCE(p.salary_max, p.salary_min)) / 2 AS salary_mid
    FROM jobreqs.postings p
    WHERE p.salary_period IS NOT NULL AND p.salary_currency IS NOT NULL
      AND (p.salary_min IS NOT NULL OR p.salary_max IS NOT NULL)
)
SELECT s.source_slice AS source, pt.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       sp.salary_period, sp.salary_currency, sp.is_estimate,
       count(*)::integer AS postings,
       min(COALESCE(sp.salary_min, sp.salary_max)) AS lowest,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY sp.salary_mid) AS p25,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY sp.salary_mid) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY sp.salary_mid) AS p75,
       max(COALESCE(sp.salary_max, sp.salary_min)) AS highest,
       avg(sp.salary_min) AS avg_min,
       avg(sp.salary_max) AS avg_max,
       min(sp.posting_date) AS first_posting_date,
       max(sp.posting_date) AS last_posting_date
FROM salaried sp
JOIN jobreqs.posting_technologies pt ON pt.source = sp.source AND pt.source_id = sp.source_id
LEFT JOIN jobreqs.technologies t ON t.name = pt.technology
CROSS JOIN LATERAL (VALUES (sp.source), ('all')) AS s (source_slice)
GROUP BY s.source_slice, pt.technology, COALESCE(t.category, 'uncategorised'),
         sp.salary_period, sp.salary_currency, sp.is_estimate;

COMMENT ON VIEW jobreqs.technology_salaries IS
    'Salary ranges of the postings asking for each technology, as published: one row per pay period, currency and estimate flag, never converted or mixed. Postings without a period or currency are left out. Upwork fixed budgets have salary_period = project.';
COMMENT ON COLUMN jobreqs.technology_salaries.source IS 'indeed, upwork, or all.';
COMMENT ON COLUMN jobreqs.technology_salaries.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.technology_salaries.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.technology_salaries.salary_period IS 'Pay period as published: hour, day, week, month, year, project.';
COMMENT ON COLUMN jobreqs.technology_salaries.salary_currency IS 'Currency as published.';
COMMENT ON COLUMN jobreqs.technology_salaries.is_estimate IS 'True for salaries the source estimated rather than the employer published.';
COMMENT ON COLUMN jobreqs.technology_salaries.postings IS 'Postings with a salary in this period and currency asking for the technology.';
COMMENT ON COLUMN jobreqs.technology_salaries.lowest IS 'Lowest salary_min (salary_max when no minimum).';
COMMENT ON COLUMN jobreqs.technology_salaries.p25 IS '25th percentile of the salary mid-points ((min + max) / 2, or the one bound published).';
COMMENT ON COLUMN jobreqs.technology_salaries.median IS 'Median salary mid-point.';
COMMENT ON COLUMN jobreqs.technology_salaries.p75 IS '75th percentile of the salary mid-points.';
COMMENT ON COLUMN jobreqs.technology_salaries.highest IS 'Highest salary_max (salary_min when no maximum).';
COMMENT ON COLUMN jobreqs.technology_salaries.avg_min IS 'Mean of the published minimums.';
COMMENT ON COLUMN jobreqs.technology_salaries.avg_max IS 'Mean of the published maximums.';
COMMENT ON COLUMN jobreqs.technology_salaries.first_posting_date IS 'Earliest posting_date among them.';
COMMENT ON COLUMN jobreqs.technology_salaries.last_posting_date IS 'Latest posting_date among them.';

-- run_summary ---------------------------------------------------------------------------------

CREATE VIEW jobreqs.run_summary AS
WITH stage_numbers AS (
    SELECT r.*,
           CASE WHEN jsonb_typeof(r.stats -> 'tokens_in') = 'number' THEN (r.stats ->> 'tokens_in')::numeric END AS tokens_in,
           CASE WHEN jsonb_typeof(r.stats -> 'tokens_out') = 'number' THEN (r.stats ->> 'tokens_out')::numeric END AS tokens_out,
           CASE WHEN jsonb_typeof(r.stats -> 'cost_usd') = 'number' THEN (r.stats ->> 'cost_usd')::numeric END AS cost_usd
    FROM jobreqs.pipeline_runs r
),
runs AS (
    SELECT run_id, min(dag_id) AS dag_id, min(logical_date) AS logical_date,
           min(recorded_at) AS first_recorded_at, max(recorded_at) AS last_recorded_at,
           count(*)::integer AS stages,
           array_agg(stage ORDER BY recorded_at) FILTER (WHERE status = 'failed') AS failed_stages,
           COALESCE(sum(tokens_in), 0) AS llm_tokens_in,
           COALESCE(sum(tokens_out), 0) AS llm_tokens_out,
           COALESCE(sum(cost_usd), 0) AS llm_cost_usd
    FROM stage_numbers
    GROUP BY run_id
)
SELECT r.*,
       p.postings, p.postings_classified,
       p.tokens_before, p.tokens_after,
       p.tokens_after::numeric / NULLIF(p.tokens_before, 0) AS kept_text_ratio,
       p.postings_with_technology,
       (SELECT count(DISTINCT term) FROM jobreqs.unmapped_terms)::integer AS unmapped_terms_waiting
FROM runs r
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS postings,
           count(*) FILTER (WHERE kept_ratio IS NOT NULL)::integer AS postings_classified,
           sum(tokens_before)::bigint AS tokens_before,
           sum(tokens_after)::bigint AS tokens_after,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM jobreqs.posting_technologies pt
               WHERE pt.source = po.source AND pt.source_id = po.source_id))::integer AS postings_with_technology
    FROM jobreqs.postings po
    WHERE po.posting_date = r.logical_date
) p ON true;

COMMENT ON VIEW jobreqs.run_summary IS
    'One row per pipeline run (pipeline_runs.run_id): its stages, LLM tokens and cost from the stages'' stats, and the postings of its logical date.';
COMMENT ON COLUMN jobreqs.run_summary.run_id IS 'Airflow run id.';
COMMENT ON COLUMN jobreqs.run_summary.dag_id IS 'DAG id.';
COMMENT ON COLUMN jobreqs.run_summary.logical_date IS 'The date the run processed.';
COMMENT ON COLUMN jobreqs.run_summary.first_recorded_at IS 'When its first stage recorded its statistics.';
COMMENT ON COLUMN jobreqs.run_summary.last_recorded_at IS 'When its last stage recorded its statistics.';
COMMENT ON COLUMN jobreqs.run_summary.stages IS 'Stages that recorded statistics.';
COMMENT ON COLUMN jobreqs.run_summary.failed_stages IS 'Stages with status failed, in order; NULL when none.';
COMMENT ON COLUMN jobreqs.run_summary.llm_tokens_in IS 'Sum of the numeric stats.tokens_in of its stages (LLM prompt tokens).';
COMMENT ON COLUMN jobreqs.run_summary.llm_tokens_out IS 'Sum of the numeric stats.tokens_out of its stages (LLM completion tokens).';
COMMENT ON COLUMN jobreqs.run_summary.llm_cost_usd IS 'Sum of the numeric stats.cost_usd of its stages (US dollars).';
COMMENT ON COLUMN jobreqs.run_summary.postings IS 'Postings whose posting_date is the run''s logical date.';
COMMENT ON COLUMN jobreqs.run_summary.postings_classified IS 'Of those, postings the classifier has processed (kept_ratio set).';
COMMENT ON COLUMN jobreqs.run_summary.tokens_before IS 'Sum of postings.tokens_before: description tokens before classification.';
COMMENT ON COLUMN jobreqs.run_summary.tokens_after IS 'Sum of postings.tokens_after: tokens of the kept text.';
COMMENT ON COLUMN jobreqs.run_summary.kept_text_ratio IS 'tokens_after / tokens_before: the share of description text kept for extraction.';
COMMENT ON COLUMN jobreqs.run_summary.postings_with_technology IS 'Postings of the date with at least one canonical technology.';
COMMENT ON COLUMN jobreqs.run_summary.unmapped_terms_waiting IS 'Distinct unmapped terms waiting for review now (all dates; see unmapped_terms_for_review).';
