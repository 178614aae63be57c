-- 0002: Upwork: the token cache (private), the jobs as fetched, and their clients' statistics.

-- One cached bearer token per mode. In jobreqs_private: the reader role cannot see it.
CREATE TABLE jobreqs_private.upwork_tokens (
    mode           text        PRIMARY KEY CHECK (mode IN ('oauth', 'visitor')),
    access_token   text        NOT NULL,
    -- OAuth2 refresh tokens rotate: the newest one is kept here.
    refresh_token  text,
    expires_at     timestamptz NOT NULL,
    obtained_at    timestamptz NOT NULL DEFAULT now(),
    -- A token is only reused against the API it was obtained from.
    base_url       text        NOT NULL
);

-- Every job the search returned, one row per Upwork job id; upserted by fetch, claimed by enrich.
CREATE TABLE jobreqs.upwork_jobs (
    id                    text        PRIMARY KEY,
    ciphertext            text,
    url                   text,
    title                 text        NOT NULL,
    description           text        NOT NULL,
    skills                text[]      NOT NULL DEFAULT '{}',
    published_at          timestamptz NOT NULL,
    job_type              text CHECK (job_type IN ('hourly', 'fixed')),
    hourly_min            numeric,
    hourly_max            numeric,
    fixed_budget          numeric,
    currency              text,
    experience_level      text,
    duration              text,
    category              text,
    client_country        text,
    -- The logical date whose window first returned the job.
    first_seen_date       date        NOT NULL,
    fetched_at            timestamptz NOT NULL,
    -- Enrichment bookkeeping: a job is enriched only when its upwork_clients row landed.
    enrich_tries          integer     NOT NULL DEFAULT 0,
    enrich_last_error     text,
    enriched_at           timestamptz,
    enrich_path           text CHECK (enrich_path IN ('fast', 'fallback')),
    -- A worker's lease on the job: others skip it until then (a crashed worker's lease runs out).
    enrich_claimed_until  timestamptz
);
CREATE INDEX upwork_jobs_published_at_idx ON jobreqs.upwork_jobs (published_at);
CREATE INDEX upwork_jobs_first_seen_date_idx ON jobreqs.upwork_jobs (first_seen_date);
CREATE INDEX upwork_jobs_to_enrich_idx ON jobreqs.upwork_jobs (published_at DESC) WHERE enriched_at IS NULL;

-- The statistics of each job's client, as the job-details endpoints gave them.
-- Joined to postings by postings.source = 'upwork' AND postings.source_id = upwork_clients.job_id.
CREATE TABLE jobreqs.upwork_clients (
    job_id                text        PRIMARY KEY REFERENCES jobreqs.upwork_jobs ON DELETE CASCADE,
    client_country        text,
    client_city           text,
    member_since          date,
    jobs_posted           integer,
    open_jobs             integer,
    total_spent           numeric,
    total_hires           integer,
    active_hires          integer,
    avg_hourly_rate_paid  numeric,
    total_paid_hours      numeric,
    payment_verified      boolean,
    rating                numeric,
    reviews_count         integer,
    -- Share of the client's posted jobs that led to a hire (0..1).
    hire_rate             numeric,
    enriched_at           timestamptz NOT NULL
);
