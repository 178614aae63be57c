-- 0011: data-quality checks after load (jobreqs_daily's dq_* tasks, the common-sql provider's
-- check operators). Every check records its result here, passed or not, whatever its severity:
-- a 'fail' check that does not pass fails its task (and keeps the date from being published);
-- a 'warn' check that does not pass is recorded and its task succeeds.

CREATE TABLE jobreqs.quality_checks (
    run_id       text        NOT NULL,
    check_date   date        NOT NULL,
    check_name   text        NOT NULL,
    severity     text        NOT NULL CHECK (severity IN ('fail', 'warn')),
    passed       boolean     NOT NULL,
    -- what was measured and what it was held to (NULL when the check has no single figure)
    value        double precision,
    threshold    text,
    message      text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, check_name)
);
CREATE INDEX quality_checks_date_idx ON jobreqs.quality_checks (check_date, check_name);

-- The latest result of each check for each date (a re-run of the date replaces what is shown).
CREATE VIEW jobreqs.quality_checks_latest AS
SELECT DISTINCT ON (check_date, check_name)
       check_date, check_name, severity, passed, value, threshold, message, run_id, recorded_at
FROM jobreqs.quality_checks
ORDER BY check_date, check_name, recorded_at DESC;

COMMENT ON VIEW jobreqs.quality_checks_latest IS
    'The latest result of every data-quality check per date (tasks dq_* of jobreqs_daily); the trends page shows them.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.check_date IS 'The date the check is about (the run''s logical date).';
COMMENT ON COLUMN jobreqs.quality_checks_latest.check_name IS 'The check (its task id).';
COMMENT ON COLUMN jobreqs.quality_checks_latest.severity IS '''fail'': a miss fails the run; ''warn'': a miss is recorded only.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.passed IS 'Whether the date passed the check.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.value IS 'The figure measured (a count, a share), when the check has one.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.threshold IS 'What the figure was held to.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.message IS 'Why the check did not pass (the operator''s own message).';
COMMENT ON COLUMN jobreqs.quality_checks_latest.run_id IS 'The run that checked.';
COMMENT ON COLUMN jobreqs.quality_checks_latest.recorded_at IS 'When.';
