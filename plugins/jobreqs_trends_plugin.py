"""Airflow plugin: the jobreqs technology-trends page in the Airflow UI.

Registers (Airflow 3.1+ plugin interface, checked against airflow 3.3's plugins_manager and
api_fastapi/app.py):
- ``fastapi_apps``: the page's FastAPI app, mounted by the api-server at ``/jobreqs-trends``;
- ``external_views``: a "Technology trends" entry in the UI's navigation that shows the page in
  the UI (``url_route`` -> ``/plugin/jobreqs-trends``); ``href`` is relative to the UI's base URL.

Every route needs a logged-in Airflow user (the UI's session cookie). Set
``JOBREQS_TRENDS_REQUIRE_LOGIN=false`` only for a deployment where the api-server itself is private.
The page reads the warehouse as ``jobreqs_reader``: see transforms.marts.reader_connection.
Nothing connects to a database at import time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin

_PLUGINS = Path(__file__).resolve().parent
# The page package sits beside this file; the project (transforms/, jobreqs/) one level up, for a
# checkout that is not pip-installed.
for _path in (_PLUGINS, _PLUGINS.parent):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from jobreqs_trends.app import create_app  # noqa: E402

URL_PREFIX = "/jobreqs-trends"


def _require_login() -> bool:
    return os.environ.get("JOBREQS_TRENDS_REQUIRE_LOGIN", "true").strip().lower() not in {"0", "false", "no"}


class JobreqsTrendsPlugin(AirflowPlugin):
    name = "jobreqs_trends"
    fastapi_apps = [
        {"app": create_app(require_login=_require_login()), "url_prefix": URL_PREFIX, "name": "jobreqs technology trends"},
    ]
    external_views = [
        {
            "name": "Technology trends",
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "jobreqs-trends",
            "destination": "nav",
        },
    ]
