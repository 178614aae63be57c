-- Re-applied after every migrate: idempotent grants for the two roles.
-- The pipeline role writes the jobreqs schema and owns the token cache; the reader role reads
-- the jobreqs schema (tables, views, marts) and nothing else: no writes, no jobreqs_private.
GRANT USAGE ON SCHEMA jobreqs, jobreqs_private TO jobreqs_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA jobreqs TO jobreqs_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA jobreqs_private TO jobreqs_pipeline;

GRANT USAGE ON SCHEMA jobreqs TO jobreqs_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA jobreqs TO jobreqs_reader;
REVOKE ALL ON SCHEMA jobreqs_private FROM jobreqs_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA jobreqs_private FROM jobreqs_reader;

-- Nobody but owners creates objects in the public schema (the default before Postgres 15 let
-- every role, the reader included, do so).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
