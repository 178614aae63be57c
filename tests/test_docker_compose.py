"""docker-compose.yaml parses and agrees with the code: services, connection ids, mounted folders.
(Docker has no engine on the CI machine; where Debian's docker-compose is installed, its own
``config`` command validates the file too.)"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from jobreqs import config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}
SECRETS = ["POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]


def test_services_of_a_production_like_stack():
    services = COMPOSE["services"]
    assert AIRFLOW_COMPONENTS | {"postgres", "minio", "airflow-init"} <= set(services)
    for name in AIRFLOW_COMPONENTS:
        assert services[name]["build"] == "." and name.replace("-", " ").split()[0] in " ".join(services[name]["command"])
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_connection_ids_are_the_ones_the_code_reads():
    env = COMPOSE["services"]["scheduler"]["environment"]
    conn_ids = {key.removeprefix("AIRFLOW_CONN_").lower() for key in env if key.startswith("AIRFLOW_CONN_")}
    assert {config.WAREHOUSE_CONN_ID, config.AWS_CONN_ID, config.OPENAI_CONN_ID} <= conn_ids
    assert env["JOBREQS_LAKE_URL"].startswith("s3://")


def test_mounted_folders_exist_and_image_installs_requirements():
    for volume in COMPOSE["services"]["scheduler"]["volumes"]:
        host, container = volume.split(":")[:2]
        assert (ROOT / host).is_dir(), host
        assert container.startswith("/opt/jobreqs/")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert (ROOT / "docker" / "postgres-init.sh").exists()


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "docker-compose.yaml").read_text()
    for name in SECRETS:
        assert f"${{{name}" in text  # every secret comes from the environment


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_docker_compose_config_validates():
    env = dict(os.environ, **{name: "placeholder-for-validation" for name in SECRETS})
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
