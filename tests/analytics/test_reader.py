"""How the page and the export reach the warehouse: always as jobreqs_reader."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import airflow_conn_json
from transforms.marts import reader_connection


def test_default_is_the_warehouse_connection_acting_as_reader(analytics_warehouse):
    with reader_connection() as conn:
        row = conn.execute("SELECT current_user, session_user, current_setting('default_transaction_read_only') AS ro").fetchone()
        assert row["current_user"] == "jobreqs_reader" and row["ro"] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO jobreqs.technologies VALUES ('x', 'y')")


def test_a_reader_connection_is_preferred_when_defined(analytics_warehouse, monkeypatch):
    reader = make_conninfo(analytics_warehouse, user="jobreqs_reader")
    monkeypatch.setenv("AIRFLOW_CONN_JOBREQS_WAREHOUSE_READER", airflow_conn_json(reader))
    monkeypatch.setenv("AIRFLOW_CONN_JOBREQS_WAREHOUSE", airflow_conn_json(make_conninfo(analytics_warehouse, dbname="no_such_db")))
    with reader_connection() as conn:
        row = conn.execute("SELECT session_user, count(*) AS n FROM jobreqs.technology_daily").fetchone()
    assert row["session_user"] == "jobreqs_reader" and row["n"] > 0


def test_a_user_who_cannot_act_as_reader_gets_a_clear_error(analytics_warehouse):
    role = f"jobreqs_test_outsider_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(analytics_warehouse, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        with pytest.raises(PermissionError, match="GRANT jobreqs_reader TO"):
            with reader_connection(make_conninfo(analytics_warehouse, user=role)):
                pass
    finally:
        with psycopg.connect(analytics_warehouse, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
