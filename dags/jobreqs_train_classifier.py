"""Rebuild the classifier's data, train, evaluate, and publish a new version only if it is better.

Triggered by hand (``schedule=None``), from the UI or ``airflow dags trigger jobreqs_train_classifier``;
the same as ``jobreqs train-classifier`` on the command line. Parsing this file imports neither
scikit-learn nor the project's training code and touches no file or connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="jobreqs_train_classifier",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["jobreqs", "classifier"],
    params={
        "C": Param(4.0, type="number", exclusiveMinimum=0, description="inverse regularisation strength"),
        "min_df": Param(2, type="integer", minimum=1, description="minimum paragraphs a word must appear in"),
        "target_recall": Param(0.98, type="number", minimum=0.5, maximum=1.0,
                               description="held-out recall of technology paragraphs the threshold must reach"),
    },
    doc_md=__doc__,
)
def jobreqs_train_classifier():
    @task
    def build_training_data() -> dict:
        """Rebuild ``models/classifier/data/paragraphs.jsonl`` from the SkillSpan/O*NET/Linguist data in ``data/``."""
        from models.classifier.dataset import build_dataset

        return build_dataset()

    @task
    def train_and_publish(data: dict, params: dict | None = None) -> dict:
        """Train on the rebuilt data; write a new version only if it beats the current one."""
        from models.classifier.train import TrainConfig, train_classifier

        params = params or {}
        config = TrainConfig(C=float(params.get("C", 4.0)), min_df=int(params.get("min_df", 2)),
                             target_recall=float(params.get("target_recall", 0.98)))
        result = train_classifier(config, rebuild_data=False)
        candidate = result["candidate"]
        return {
            "published": result["published"],
            "version": result["version"],
            "dataset_sha256": data["sha256"],
            "candidate": {k: candidate[k] for k in ("precision", "recall", "f1", "roc_auc", "threshold",
                                                    "precision_at_target_recall", "train_size")},
            "current_precision_at_target_recall":
                result["current"]["precision_at_target_recall"] if result["current"] else None,
        }

    train_and_publish(build_training_data())


train_classifier_dag = jobreqs_train_classifier()
