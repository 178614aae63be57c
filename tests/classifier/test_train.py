"""Retraining writes a new version only when the candidate beats the current one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.classifier import artifact
from models.classifier.train import TrainConfig, threshold_for_recall, train_classifier

# small and fast: a tenth of the training split, no name columns (clearly weaker than the default)
WEAK = TrainConfig(train_fraction=0.1, use_lexicon=False, unknown_names=False, max_iter=300)


def test_threshold_for_recall():
    y = np.array([1, 1, 1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.3, 0.2, 0.5, 0.1])
    assert threshold_for_recall(y, s, 1.0) == 0.2
    assert threshold_for_recall(y, s, 0.75) == 0.3  # one of four positives may be missed
    with pytest.raises(ValueError):
        threshold_for_recall(np.zeros(3), s[:3], 0.98)


def test_new_version_only_when_better(tmp_path):
    first = train_classifier(WEAK, rebuild_data=False, directory=tmp_path)
    assert first["published"] and first["version"] == "v1" and first["current"] is None
    metrics = json.loads((tmp_path / "v1" / "metrics.json").read_text())
    assert metrics["recall"] >= 0.98 and metrics["train_size"] < 1000

    again = train_classifier(WEAK, rebuild_data=False, directory=tmp_path)  # same model: not better
    assert not again["published"] and again["version"] == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "v1"]

    better = train_classifier(TrainConfig(), rebuild_data=False, directory=tmp_path)
    assert better["published"] and better["version"] == "v2"
    assert better["candidate"]["precision_at_target_recall"] > better["current"]["precision_at_target_recall"]
    assert artifact.current_version(tmp_path) == "v2"

    worse = train_classifier(WEAK, rebuild_data=False, directory=tmp_path)
    assert not worse["published"] and artifact.current_version(tmp_path) == "v2"
    assert not (tmp_path / "v3").exists()
    assert json.dumps(worse)  # the summary is plain JSON (it goes to XCom)
