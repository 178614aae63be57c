#!/bin/bash
# First start of the compose Postgres: the Airflow metadata database and the warehouse, each
# with its own login. The warehouse's tables and roles come from `jobreqs migrate` (airflow-init).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres \
     -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE jobreqs LOGIN CREATEROLE PASSWORD :'pw';
CREATE DATABASE warehouse OWNER jobreqs;
SQL
