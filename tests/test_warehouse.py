import psycopg
import pytest

from jobreqs.warehouse import migrate


def test_migrate_twice_changes_nothing(create_database):
    conninfo = create_database()
    first = migrate(conninfo)
    assert first and first[0] == "0001_warehouse"
    with psycopg.connect(conninfo) as conn:
        before = conn.execute("SELECT version, checksum, applied_at FROM jobreqs.schema_migrations ORDER BY 1").fetchall()
    assert migrate(conninfo) == []
    with psycopg.connect(conninfo) as conn:
        after = conn.execute("SELECT version, checksum, applied_at FROM jobreqs.schema_migrations ORDER BY 1").fetchall()
    assert before == after


def test_reader_role_reads_but_cannot_write_or_see_private(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS jobreqs_private.probe_secret (v text)")
        conn.execute("SET ROLE jobreqs_reader")
        assert conn.execute("SELECT count(*) FROM jobreqs.postings").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO jobreqs.technologies VALUES ('x', 'tool')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM jobreqs_private.probe_secret")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.reader_was_here (v int)")
        conn.execute("RESET ROLE")
        conn.execute("DROP TABLE jobreqs_private.probe_secret")
