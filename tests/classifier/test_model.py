"""The committed artefact: it loads safely, its recorded metrics meet the issue's targets, and the
data recipe it was trained on rebuilds byte for byte."""

from __future__ import annotations

import json
import shutil

import pytest
import sklearn
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models.classifier import artifact, dataset


def test_current_version_loads_and_scores(model):
    assert model.version == artifact.current_version(artifact.ARTIFACTS_DIR)
    scores = model.scores(["Experience with Python, Django and PostgreSQL", "We offer a friendly team and free lunch"])
    assert scores[0] >= model.threshold > scores[1]
    assert model.scores([]).shape == (0,)


def test_recorded_metrics_meet_the_targets(model):
    metrics = json.loads((artifact.ARTIFACTS_DIR / model.version / artifact.METRICS_FILE).read_text())
    assert metrics["target_recall"] >= 0.98 and metrics["recall"] >= 0.98
    for key in ("precision", "f1", "roc_auc", "threshold", "class_balance", "train_size", "heldout_size"):
        assert key in metrics
    assert metrics["roc_auc"] >= 0.95 and metrics["precision"] >= 0.5
    assert 0 < metrics["threshold"] < 1 and metrics["threshold"] == model.threshold
    assert metrics["sklearn_version"] == sklearn.__version__
    assert metrics["train_size"] > 3500 and metrics["class_balance"]["heldout"]["positive"] >= 100


def test_dataset_rebuilds_byte_for_byte(tmp_path, model):
    summary = dataset.build_dataset(tmp_path / "paragraphs.jsonl")
    assert (tmp_path / "paragraphs.jsonl").read_bytes() == dataset.DATASET_PATH.read_bytes()
    assert (tmp_path / "lexicon.txt").read_bytes() == dataset.LEXICON_PATH.read_bytes()
    assert summary["sha256"] == model.metrics["dataset_sha256"]
    heldout_postings = {r["posting"] for r in dataset.read_dataset() if r["split"] == "heldout"}
    train_postings = {r["posting"] for r in dataset.read_dataset() if r["split"] == "train"}
    assert heldout_postings and not heldout_postings & train_postings  # split by posting


def _copy_current(tmp_path, model):
    shutil.copytree(artifact.ARTIFACTS_DIR / model.version, tmp_path / model.version)
    (tmp_path / artifact.CURRENT_FILE).write_text(model.version)
    return tmp_path / model.version


def test_another_sklearn_version_is_refused(tmp_path, model):
    folder = _copy_current(tmp_path, model)
    metrics = json.loads((folder / artifact.METRICS_FILE).read_text())
    metrics["sklearn_version"] = "0.24.2"
    (folder / artifact.METRICS_FILE).write_text(json.dumps(metrics))
    with pytest.raises(artifact.ArtifactError, match="scikit-learn 0.24.2"):
        artifact.load(directory=tmp_path)


def test_untrusted_types_are_refused(tmp_path, model):
    folder = _copy_current(tmp_path, model)
    evil = Pipeline([("step", FunctionTransformer(func=print))])
    sio.dump(evil, folder / artifact.MODEL_FILE)
    with pytest.raises(artifact.ArtifactError, match="untrusted types"):
        artifact.load(directory=tmp_path)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(artifact.ArtifactError, match="train-classifier"):
        artifact.load(directory=tmp_path)
