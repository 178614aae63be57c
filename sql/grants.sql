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

-- Advisory locks serialise the pipeline (migrations, the Upwork token, enrich leases): nobody
-- else may take them, or a SQL client could stall the pipeline by holding a key. The functions
-- belong to the bootstrap superuser, so only a superuser can revoke them from PUBLIC; otherwise
-- the pipeline's locks are taken with a lock timeout (jobreqs.warehouse, scrapers.upwork.token)
-- and a notice says what an administrator should run. Function privileges are per database:
-- this changes the warehouse database only (never share it with Airflow's metadata database).
DO $$
DECLARE
    f regprocedure;
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'pg_catalog' AND p.proname LIKE 'pg\_%advisory%' LOOP
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO jobreqs_pipeline', f);
        END LOOP;
    ELSE
        RAISE NOTICE 'not a superuser: advisory-lock functions stay executable by PUBLIC; as a superuser, '
                     'run sql/grants.sql once in this database to revoke them';
    END IF;
END
$$;

-- The reader (SQL clients, the trends page's own login) cannot hold the database hostage:
-- statements and idle transactions end after a while, and its connections are counted. The
-- trends page acting as the reader through SET ROLE sets the same timeouts itself.
DO $$
BEGIN
    EXECUTE format('ALTER ROLE jobreqs_reader IN DATABASE %I SET statement_timeout = %L', current_database(), '120s');
    EXECUTE format('ALTER ROLE jobreqs_reader IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '300s');
    EXECUTE format('ALTER ROLE jobreqs_reader IN DATABASE %I SET lock_timeout = %L', current_database(), '30s');
    ALTER ROLE jobreqs_reader CONNECTION LIMIT 20;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot alter role jobreqs_reader (needs CREATEROLE): its timeouts and connection limit are not set';
END
$$;
