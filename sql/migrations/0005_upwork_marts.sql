-- 0005: Upwork client statistics by technology.
-- Expects jobreqs.upwork_clients from 0002_upwork (one row per Upwork job: job_id = postings.source_id
-- of source 'upwork'; columns client_country, total_spent, hire_rate, avg_hourly_rate_paid,
-- payment_verified, rating, reviews_count, total_hires, enriched_at).
-- A plain view: always current, nothing to refresh.

CREATE VIEW jobreqs.upwork_clients_by_technology AS
SELECT pt.technology,
       COALESCE(t.category, 'uncategorised') AS category,
       count(*)::integer AS jobs,
       count(c.job_id)::integer AS jobs_with_client_stats,
       avg(CASE WHEN c.payment_verified THEN 1.0 WHEN NOT c.payment_verified THEN 0.0 END) AS payment_verified_share,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.total_spent) AS median_total_spent,
       avg(c.total_spent) AS avg_total_spent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.hire_rate) AS median_hire_rate,
       avg(c.hire_rate) AS avg_hire_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.avg_hourly_rate_paid) AS median_avg_hourly_rate_paid,
       avg(c.rating) AS avg_rating,
       avg(c.total_hires) AS avg_total_hires,
       count(DISTINCT c.client_country)::integer AS client_countries,
       mode() WITHIN GROUP (ORDER BY c.client_country) AS top_client_country,
       min(p.posting_date) AS first_posting_date,
       max(p.posting_date) AS last_posting_date
FROM jobreqs.postings p
JOIN jobreqs.posting_technologies pt ON pt.source = p.source AND pt.source_id = p.source_id
LEFT JOIN jobreqs.upwork_clients c ON c.job_id = p.source_id
LEFT JOIN jobreqs.technologies t ON t.name = pt.technology
WHERE p.source = 'upwork'
GROUP BY pt.technology, COALESCE(t.category, 'uncategorised');

COMMENT ON VIEW jobreqs.upwork_clients_by_technology IS
    'Per technology, statistics of the Upwork clients whose jobs ask for it (all history; one row per job, so a client with several jobs counts several times). Aggregates skip jobs without client statistics.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.technology IS 'Canonical technology name.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.category IS 'Its taxonomy category, uncategorised if none.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.jobs IS 'Upwork jobs asking for the technology.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.jobs_with_client_stats IS 'Of those, jobs whose client statistics have been fetched (upwork_clients row).';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.payment_verified_share IS 'Fraction of those jobs whose client has a verified payment method.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.median_total_spent IS 'Median of the clients'' total spend on Upwork (USD, as Upwork reports it).';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.avg_total_spent IS 'Mean of the clients'' total spend.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.median_hire_rate IS 'Median client hire rate: share of the client''s posted jobs that led to a hire (0..1).';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.avg_hire_rate IS 'Mean client hire rate (0..1).';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.median_avg_hourly_rate_paid IS 'Median of the clients'' average hourly rate paid.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.avg_rating IS 'Mean client rating (freelancers'' reviews of the client).';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.avg_total_hires IS 'Mean of the clients'' total hires.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.client_countries IS 'Distinct client countries.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.top_client_country IS 'Most frequent client country.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.first_posting_date IS 'Earliest posting_date of those jobs.';
COMMENT ON COLUMN jobreqs.upwork_clients_by_technology.last_posting_date IS 'Latest posting_date of those jobs.';
