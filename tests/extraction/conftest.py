import json

import pytest

from transforms.extract.fake_openai_server import FakeOpenAI


@pytest.fixture
def fake_openai(monkeypatch):
    """A running fake OpenAI server, set as the ``openai_default`` connection."""
    fake = FakeOpenAI(api_key="test-key")
    url = fake.serve()
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT",
                       json.dumps({"conn_type": "openai", "host": url, "password": "test-key"}))
    yield fake
    fake.stop()
