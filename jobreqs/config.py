"""Where things live and which settings the pipeline reads.

Settings come from the environment (``JOBREQS_*``) or from Airflow (connections, Variables, DAG
params); nothing secret lives here. Defaults are the embedded, offline ones that a fresh clone runs
on: an embedded Postgres and a lake folder under the project's git-ignored ``.state/``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Source data shipped with the project (SkillSpan, the dev gold, O*NET, Linguist; see data/README.md).
SOURCE_DATA_DIR = PROJECT_ROOT / "data"

#: Connection ids the code reads (see README "Configuring real services").
WAREHOUSE_CONN_ID = "jobreqs_warehouse"
AWS_CONN_ID = "aws_default"
OPENAI_CONN_ID = "openai_default"
INDEED_PROXY_CONN_ID = "indeed_proxy"
UPWORK_CONN_ID = "upwork_api"
#: The Upwork OAuth app (login = client id, password = secret) when upwork_api is in visitor mode.
UPWORK_OAUTH_CONN_ID = "upwork_oauth"

#: Warehouse schema that holds the pipeline's tables.
WAREHOUSE_SCHEMA = "jobreqs"


def state_dir() -> Path:
    """The project-local folder for embedded state (Postgres data, local lake, Airflow home)."""
    path = Path(os.environ.get("JOBREQS_STATE_DIR", PROJECT_ROOT / ".state")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def lake_url() -> str:
    """Root URL of the lake: ``file:///...`` by default, ``s3://bucket/prefix`` in production."""
    return os.environ.get("JOBREQS_LAKE_URL") or (state_dir() / "lake").as_uri()


def lake_conn_id() -> str | None:
    """Airflow connection used for a remote lake (``aws_default`` unless overridden)."""
    return os.environ.get("JOBREQS_LAKE_CONN_ID", AWS_CONN_ID)
