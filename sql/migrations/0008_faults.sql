-- 0008: what a fault must not cost: money (a run's OpenAI budget), enrichment tries (leases
-- that name their holder), and a job's second chance in the same run.

-- Tokens and dollars reserved by each run's OpenAI requests (the project's own count and
-- prices), shared by all the run's tasks: the budget holds across the batch step, extract and
-- their retries. A reservation is one conditional UPDATE, so two processes never overspend.
CREATE TABLE jobreqs.extraction_spend (
    run_key     text          PRIMARY KEY,   -- the Airflow run id
    tokens      bigint        NOT NULL DEFAULT 0,
    usd         numeric(14,6) NOT NULL DEFAULT 0,
    updated_at  timestamptz   NOT NULL DEFAULT now()
);

-- The holder of an enrich lease: a worker's key, held as a session advisory lock while it
-- lives. A lease whose holder's session is gone (a killed worker) is free at once, whatever
-- enrich_claimed_until says; a clean exit releases its leases itself.
ALTER TABLE jobreqs.upwork_jobs ADD COLUMN enrich_claimed_by bigint;
-- The run (its key) in which a job last failed both paths: no worker of that run tries it again.
ALTER TABLE jobreqs.upwork_jobs ADD COLUMN enrich_failed_run text;
