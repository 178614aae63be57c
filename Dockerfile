# The image every Airflow component of docker-compose.yaml runs: Airflow and the project's
# dependencies from requirements.txt, the project installed in /opt/jobreqs.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/jobreqs/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/jobreqs/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/jobreqs
COPY requirements.txt pyproject.toml ./
RUN pip install -r requirements.txt
COPY . .
RUN pip install --no-deps -e .
