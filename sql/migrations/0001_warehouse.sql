-- 0001: the warehouse's base tables and its two roles.
-- Natural keys everywhere: a posting is (source, source_id); loads are upserts on those keys,
-- so re-running a date leaves the same rows.

-- Roles are cluster-wide: create them only where they do not exist yet.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jobreqs_pipeline') THEN
        CREATE ROLE jobreqs_pipeline NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jobreqs_reader') THEN
        -- LOGIN for SQL clients; its password is set by the operator (README), never in code.
        CREATE ROLE jobreqs_reader LOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS jobreqs;
-- Secrets (the Upwork token cache) live apart: the reader role gets no USAGE on this schema.
CREATE SCHEMA IF NOT EXISTS jobreqs_private;

CREATE TABLE jobreqs.postings (
    source              text        NOT NULL CHECK (source IN ('indeed', 'upwork')),
    source_id           text        NOT NULL,
    url                 text,
    title               text        NOT NULL,
    company             text,
    location            text,
    is_remote           boolean,
    posted_at           timestamptz,
    -- The logical date of the run that first found the posting: the day the trends count it on.
    posting_date        date        NOT NULL,
    salary_min          numeric,
    salary_max          numeric,
    -- As published: hour, day, week, month, year, or project (an Upwork fixed budget). Never converted.
    salary_period       text CHECK (salary_period IN ('hour', 'day', 'week', 'month', 'year', 'project')),
    salary_currency     text,
    salary_is_estimate  boolean,
    job_types           text[]      NOT NULL DEFAULT '{}',
    skills              text[]      NOT NULL DEFAULT '{}',
    description_text    text        NOT NULL,
    content_hash        text        NOT NULL,
    -- Filled by the classify stage.
    kept_text           text,
    kept_ratio          real,
    tokens_before       integer,
    tokens_after        integer,
    classifier_version  text,
    -- Filled by the extract stage.
    extraction_backend  text,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, source_id)
);
CREATE INDEX postings_posting_date_idx ON jobreqs.postings (posting_date);

-- Every search keyword (and location) that found a posting.
CREATE TABLE jobreqs.posting_keywords (
    source          text NOT NULL,
    source_id       text NOT NULL,
    keyword         text NOT NULL,
    search_location text NOT NULL DEFAULT '',
    PRIMARY KEY (source, source_id, keyword, search_location),
    FOREIGN KEY (source, source_id) REFERENCES jobreqs.postings ON DELETE CASCADE
);

-- The taxonomy: canonical technologies and every alias that maps to one.
CREATE TABLE jobreqs.technologies (
    name      text PRIMARY KEY,
    category  text NOT NULL
);

CREATE TABLE jobreqs.technology_aliases (
    alias       text PRIMARY KEY,
    technology  text NOT NULL REFERENCES jobreqs.technologies ON DELETE CASCADE
);

-- One row per canonical technology per posting.
CREATE TABLE jobreqs.posting_technologies (
    source      text NOT NULL,
    source_id   text NOT NULL,
    technology  text NOT NULL,
    PRIMARY KEY (source, source_id, technology),
    FOREIGN KEY (source, source_id) REFERENCES jobreqs.postings ON DELETE CASCADE
);
CREATE INDEX posting_technologies_technology_idx ON jobreqs.posting_technologies (technology);

-- Raw terms the taxonomy could not map, one row per (term, posting): counts and examples are
-- derived from it (view unmapped_terms_for_review), so re-running a date changes nothing.
CREATE TABLE jobreqs.unmapped_terms (
    term        text NOT NULL,
    source      text NOT NULL,
    source_id   text NOT NULL,
    first_seen  date NOT NULL,
    PRIMARY KEY (term, source, source_id),
    FOREIGN KEY (source, source_id) REFERENCES jobreqs.postings ON DELETE CASCADE
);

-- Extraction results by (content hash of the text sent, backend/model, prompt version):
-- no text is ever sent to a paid backend twice.
CREATE TABLE jobreqs.extraction_cache (
    content_hash    text NOT NULL,
    model           text NOT NULL,
    prompt_version  text NOT NULL,
    terms           jsonb NOT NULL,
    tokens_in       integer,
    tokens_out      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (content_hash, model, prompt_version)
);

-- What each stage of each run did.
CREATE TABLE jobreqs.pipeline_runs (
    run_id        text        NOT NULL,
    dag_id        text        NOT NULL,
    logical_date  date        NOT NULL,
    stage         text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('success', 'skipped', 'failed')),
    stats         jsonb       NOT NULL DEFAULT '{}',
    message       text,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, stage)
);
CREATE INDEX pipeline_runs_logical_date_idx ON jobreqs.pipeline_runs (logical_date);

CREATE VIEW jobreqs.unmapped_terms_for_review AS
SELECT term,
       count(*)                                   AS postings,
       min(first_seen)                            AS first_seen,
       max(first_seen)                            AS last_seen,
       (array_agg(source || ':' || source_id ORDER BY first_seen DESC))[1:5] AS example_postings
FROM jobreqs.unmapped_terms
GROUP BY term;
