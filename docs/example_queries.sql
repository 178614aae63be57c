-- Example questions answered from the jobreqs marts.
-- Run them as the read-only role, e.g.:
--   psql "postgresql://jobreqs_reader@HOST:5432/DBNAME" -f docs/example_queries.sql
-- Shares are fractions (0.25 = 25 % of the postings of the slice); changes are differences of
-- shares (0.05 = +5 percentage points). "This month" / "this week" means the latest one with data.
-- Slices: source = 'indeed' | 'upwork' | 'all', keyword = a search keyword | '(none)' | 'all'.

-- 1. Top 20 technologies for data engineers this month, and their change since last month.
SELECT rank, technology, category, postings, total_postings,
       round(100 * share, 1)  AS share_pct,
       round(100 * change, 1) AS change_pct_points
FROM jobreqs.technology_period_shares
WHERE period = 'month' AND source = 'all' AND keyword = 'data engineer'
  AND period_start = (SELECT max(period_start) FROM jobreqs.technology_period_shares
                      WHERE period = 'month' AND source = 'all' AND keyword = 'data engineer')
  AND postings > 0
ORDER BY rank, technology
LIMIT 20;

-- 2. Biggest risers and fallers of the last 7 days against the 7 days before (every source),
--    among technologies asked for by at least 2 postings in either week.
SELECT technology, category,
       round(100 * share_7d, 1)           AS share_7d_pct,
       round(100 * share_7d_prev_week, 1) AS prev_week_pct,
       round(100 * wow_change, 1)         AS change_pct_points
FROM jobreqs.technology_trends
WHERE source = 'all' AND keyword = 'all'
  AND posting_date = (SELECT max(posting_date) FROM jobreqs.postings_daily)
  AND wow_change IS NOT NULL
  AND greatest(postings_7d, postings_7d_prev_week) >= 2
ORDER BY abs(wow_change) DESC, technology
LIMIT 20;

-- 3. Technologies that appeared for the first time in the last 30 days of data.
SELECT technology, category, first_seen, postings_on_first_day, total_postings
FROM jobreqs.technology_first_seen
WHERE source = 'all'
  AND first_seen > (SELECT max(posting_date) FROM jobreqs.postings_daily) - 30
ORDER BY first_seen DESC, total_postings DESC, technology;

-- 4. What do employers ask for together with Spark? (latest month, every source)
SELECT CASE WHEN technology_a = 'spark' THEN technology_b ELSE technology_a END AS with_technology,
       postings_together,
       round(100 * CASE WHEN technology_a = 'spark' THEN share_of_a_with_b ELSE share_of_b_with_a END, 1)
           AS pct_of_spark_postings,
       round(lift, 2) AS lift
FROM jobreqs.technology_pairs
WHERE source = 'all' AND 'spark' IN (technology_a, technology_b)
  AND month = (SELECT max(month) FROM jobreqs.technology_pairs)
ORDER BY postings_together DESC, with_technology
LIMIT 15;

-- 5. What does a Python job pay? One row per pay period and currency, never mixed.
SELECT source, salary_period, salary_currency, is_estimate, postings,
       lowest, p25, median, p75, highest
FROM jobreqs.technology_salaries
WHERE technology = 'python'
ORDER BY source, salary_period, salary_currency, is_estimate;

-- 6. On Upwork, which technologies do the biggest-spending clients ask for?
SELECT technology, jobs, jobs_with_client_stats,
       round(median_total_spent)           AS median_client_spend_usd,
       round(100 * avg_hire_rate, 1)       AS avg_hire_rate_pct,
       round(100 * payment_verified_share) AS payment_verified_pct
FROM jobreqs.upwork_clients_by_technology
WHERE jobs_with_client_stats >= 1
ORDER BY median_total_spent DESC NULLS LAST, technology
LIMIT 20;

-- 7. Share of postings asking for each category of technology, week by week, Indeed vs Upwork.
WITH weeks AS (
    SELECT date_trunc('week', posting_date::timestamp)::date AS week, source, sum(postings) AS total_postings
    FROM jobreqs.postings_daily
    WHERE keyword = 'all' AND source IN ('indeed', 'upwork')
    GROUP BY 1, 2
)
SELECT w.week, w.source, c.category, sum(c.postings) AS postings, w.total_postings,
       round(100.0 * sum(c.postings) / w.total_postings, 1) AS share_pct
FROM weeks w
JOIN jobreqs.category_daily c
  ON c.source = w.source AND c.keyword = 'all'
 AND date_trunc('week', c.posting_date::timestamp)::date = w.week
GROUP BY w.week, w.source, c.category, w.total_postings
ORDER BY w.week, w.source, share_pct DESC, c.category;

-- 8. What did the last pipeline run do?
SELECT run_id, logical_date, stages, failed_stages, postings,
       round(kept_text_ratio, 3) AS kept_text_ratio,
       llm_tokens_in, llm_tokens_out, llm_cost_usd, unmapped_terms_waiting
FROM jobreqs.run_summary
ORDER BY last_recorded_at DESC
LIMIT 1;
