"""Fixtures of the classifier tests: the committed model, real postings from the project's data/."""

from __future__ import annotations

import json

import pytest

from models.classifier import artifact
from jobreqs.config import SOURCE_DATA_DIR


@pytest.fixture(scope="session")
def model() -> artifact.Classifier:
    """The committed current version, loaded the way the stage loads it."""
    return artifact.load(directory=artifact.ARTIFACTS_DIR)


@pytest.fixture(scope="session")
def gold_postings() -> list[dict]:
    """The 58 SkillSpan dev postings with their gold technologies (never used for training)."""
    with (SOURCE_DATA_DIR / "eval" / "skillspan_dev_techs.jsonl").open(encoding="utf-8") as f:
        return [{**row, "description_text": row["text"]} for row in map(json.loads, f)]
