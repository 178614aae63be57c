-- 0003: durable memory of OpenAI batches, so a re-run resumes the batch it already submitted
-- (and paid for) instead of submitting the same texts again.
CREATE TABLE jobreqs.extraction_batches (
    batch_key       text        NOT NULL,   -- caller's run key + chunk, e.g. 'jobreqs_daily/2026-11-21/0'
    batch_id        text        NOT NULL,
    input_file_id   text        NOT NULL,
    model           text        NOT NULL,
    prompt_version  text        NOT NULL,
    requests        integer     NOT NULL,
    -- The custom_ids (content hashes) sent: joins results back and knows what to retry.
    custom_ids      jsonb       NOT NULL DEFAULT '[]',
    status          text        NOT NULL DEFAULT 'submitted',  -- submitted | collected | failed
    stats           jsonb       NOT NULL DEFAULT '{}',
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    collected_at    timestamptz,
    PRIMARY KEY (batch_key)
);
CREATE UNIQUE INDEX extraction_batches_batch_id_idx ON jobreqs.extraction_batches (batch_id);
