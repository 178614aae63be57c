"""Train, evaluate and (only if better) publish the paragraph classifier.

``jobreqs train-classifier`` and the ``jobreqs_train_classifier`` DAG both call
:func:`train_classifier`:

1. rebuild the labelled set (:mod:`models.classifier.dataset`) unless told to reuse it;
2. fit ``[TokenCounter + TaxonomyMatchCounter] -> TfidfTransformer -> LogisticRegression`` on the
   ``train`` split (words and name columns, plus the count of taxonomy matches);
3. score the ``heldout`` split and choose the highest threshold whose recall of technology
   paragraphs is at least ``target_recall`` (0.98): dropping a technology paragraph is the costly
   error, so the threshold serves recall first;
4. score the current version on the same held-out split; write a new version (and make it
   current) only when the candidate beats it: higher precision at the target recall, ties broken
   by ROC AUC. The metrics of the candidate are returned either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.classifier import artifact, dataset

log = logging.getLogger(__name__)

TARGET_RECALL = 0.98


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults are the ones the committed version was trained with."""

    min_df: int = 2
    bigrams: bool = False
    C: float = 4.0
    class_weight: str | None = None
    max_iter: int = 2000
    target_recall: float = TARGET_RECALL
    #: Use only this share of the training split (tests use a small, fast, weaker config).
    train_fraction: float = 1.0
    #: Add the "names a known technology" column (lexicon from O*NET and Linguist).
    use_lexicon: bool = True
    #: Add the "capitalised word outside the vocabulary" column.
    unknown_names: bool = True
    #: Add the "technologies the taxonomy's local extractor finds" column.
    use_taxonomy: bool = True


def build_pipeline(config: TrainConfig, lexicon: list[str] | None = None, taxonomy: dict | None = None):
    """The unfitted model: word counts (+ name columns, + the taxonomy-match count), sublinear
    TF-IDF, logistic regression. ``taxonomy``: :func:`models.classifier.features.taxonomy_features`
    of the technology taxonomy (default: the committed one)."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from models.classifier.features import TaxonomyMatchCounter, TokenCounter, taxonomy_features

    counts = TokenCounter(min_df=config.min_df, bigrams=config.bigrams,
                          lexicon=lexicon if config.use_lexicon else None, unknown_names=config.unknown_names)
    if config.use_taxonomy:
        if taxonomy is None:
            from transforms.taxonomy import load_taxonomy

            taxonomy = taxonomy_features(load_taxonomy())
        counts = FeatureUnion([("words", counts), ("taxonomy", TaxonomyMatchCounter(taxonomy))])
    return Pipeline([
        ("counts", counts),
        ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ("model", LogisticRegression(C=config.C, class_weight=config.class_weight, max_iter=config.max_iter)),
    ])


def threshold_for_recall(y_true: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold t with recall(scores >= t) >= target_recall."""
    positives = np.sort(scores[y_true == 1])
    if len(positives) == 0:
        raise ValueError("the held-out split has no positive paragraph: cannot set a recall threshold")
    allowed_misses = int(math.floor((1.0 - target_recall) * len(positives) + 1e-9))
    return float(positives[allowed_misses])


def evaluate(y_true: np.ndarray, scores: np.ndarray, threshold: float, target_recall: float) -> dict:
    """Held-out metrics at ``threshold`` plus threshold-free ones (ROC AUC, precision at target recall)."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    predicted = (scores >= threshold).astype(int)
    best = threshold_for_recall(y_true, scores, target_recall)
    return {
        "threshold": float(threshold),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "average_precision": float(average_precision_score(y_true, scores)),
        "precision_at_target_recall": float(precision_score(y_true, (scores >= best).astype(int), zero_division=0)),
        "kept_share": float(predicted.mean()),
    }


def _beats(candidate: dict, current: dict) -> bool:
    key = ("precision_at_target_recall", "roc_auc")
    return tuple(round(candidate[k], 6) for k in key) > tuple(round(current[k], 6) for k in key)


def train_classifier(
    config: TrainConfig | None = None,
    rebuild_data: bool = True,
    directory: Path | None = None,
    data_path: Path = dataset.DATASET_PATH,
) -> dict:
    """Train and evaluate a candidate; publish it as a new version only if it beats the current one.

    Returns a small JSON-serialisable summary: ``published`` (bool), ``version`` (the new one or the
    kept one), ``candidate`` metrics, ``current`` metrics on the same held-out split (or None).
    """
    import sklearn
    import skops

    config = config or TrainConfig()
    directory = directory or artifact.artifacts_dir()
    data_summary = dataset.build_dataset(data_path) if rebuild_data else None
    records = dataset.read_dataset(data_path)
    train = [r for r in records if r["split"] == "train"]
    heldout = [r for r in records if r["split"] == "heldout"]
    if config.train_fraction < 1.0:
        rng = np.random.default_rng(0)
        train = [r for r in train if rng.random() < config.train_fraction]
    x_train, y_train = [r["text"] for r in train], np.array([r["label"] for r in train])
    x_held, y_held = [r["text"] for r in heldout], np.array([r["label"] for r in heldout])

    lexicon = dataset.read_lexicon(data_path.parent / dataset.LEXICON_PATH.name)
    pipeline = build_pipeline(config, lexicon).fit(x_train, y_train)
    scores = pipeline.predict_proba(x_held)[:, 1]
    threshold = threshold_for_recall(y_held, scores, config.target_recall)
    candidate = evaluate(y_held, scores, threshold, config.target_recall)

    current_metrics = None
    current_version = artifact.current_version(directory)
    if current_version:
        try:
            current = artifact.load(current_version, directory)
            current_metrics = evaluate(y_held, current.scores(x_held), current.threshold, config.target_recall)
        except artifact.ArtifactError as exc:  # e.g. made by another scikit-learn: any fitted model beats it
            log.warning("current classifier %s cannot be scored (%s); the candidate replaces it", current_version, exc)

    published = current_metrics is None or _beats(candidate, current_metrics)
    version = artifact.next_version(directory) if published else current_version
    metrics = {
        **candidate,
        "version": version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "target_recall": config.target_recall,
        "train_size": len(train),
        "heldout_size": len(heldout),
        "class_balance": {
            "train_positive_share": float(y_train.mean()),
            "heldout_positive_share": float(y_held.mean()),
            "train": {"positive": int(y_train.sum()), "negative": int(len(y_train) - y_train.sum())},
            "heldout": {"positive": int(y_held.sum()), "negative": int(len(y_held) - y_held.sum())},
        },
        "features": int(pipeline.named_steps["tfidf"].n_features_in_),
        "config": asdict(config),
        "dataset_sha256": data_summary["sha256"] if data_summary else dataset.file_sha256(data_path),
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
        "threshold_note": "chosen on the held-out split, so held-out recall/precision are optimistic by design",
    }
    if published:
        artifact.save(pipeline, metrics, version, directory)
        log.info("published classifier %s (precision at recall %.2f: %.3f)", version, config.target_recall,
                 candidate["precision_at_target_recall"])
    else:
        log.info("candidate does not beat %s (%.3f <= %.3f): nothing written", current_version,
                 candidate["precision_at_target_recall"], current_metrics["precision_at_target_recall"])
    return {"published": published, "version": version, "candidate": metrics, "current": current_metrics}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument("--no-rebuild", action="store_true", help="reuse the labelled set on disk")
    parser.add_argument("--artifacts", type=Path, default=None, help="versions folder (default: the committed one)")
    parser.add_argument("--min-df", type=int, default=defaults.min_df)
    parser.add_argument("--C", type=float, default=defaults.C, dest="C")
    parser.add_argument("--bigrams", action="store_true", help="add word bigrams (slower, no better here)")
    parser.add_argument("--target-recall", type=float, default=defaults.target_recall)


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(min_df=args.min_df, C=args.C, bigrams=args.bigrams, target_recall=args.target_recall)
    result = train_classifier(config, rebuild_data=not args.no_rebuild, directory=args.artifacts)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
