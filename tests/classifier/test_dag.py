"""The retraining DAG parses cleanly, without importing scikit-learn or the training code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("jobreqs_train_classifier")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"sklearn", "skops", "models", "transforms"})
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "found": dag is not None,
    "timetable": None if dag is None else type(dag.timetable).__name__,
    "tasks": [] if dag is None else sorted(dag.task_ids),
    "params": [] if dag is None else sorted(dag.params.keys()),
    "heavy": heavy,
}))
"""


def test_train_dag_imports(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dags" / "jobreqs_train_classifier.py")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {} and result["found"]
    assert result["tasks"] == ["build_training_data", "train_and_publish"]
    assert result["params"] == ["C", "min_df", "target_recall"]
    assert result["timetable"] == "NullTimetable"  # schedule=None: manual runs only
    assert result["heavy"] == []  # parsing imports no training code
