"""``jobreqs classify`` and ``jobreqs train-classifier`` run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def jobreqs(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobreqs.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_classify_reads_and_writes_json_lines(model, gold_postings):
    lines = [json.dumps({"id": p["id"], "text": p["text"]}) for p in gold_postings[:5]]
    lines.insert(2, json.dumps({"id": "html-1", "text": "<h2>Stack</h2><ul><li>We run Kubernetes on AWS.</li></ul>"}))
    done = jobreqs("classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == [gold_postings[0]["id"], gold_postings[1]["id"], "html-1",
                                      *(p["id"] for p in gold_postings[2:5])]
    for record in out:
        assert set(record) == {"id", "kept_text", "kept_ratio", "model_version"}
        assert record["model_version"] == model.version and 0 <= record["kept_ratio"] <= 1
    assert "Kubernetes" in out[2]["kept_text"]


def test_classify_reports_bad_lines_and_keeps_going():
    done = jobreqs("classify", stdin='{"id": 1, "text": "Senior Java developer"}\nnot json\n{"id": 3}\n')
    assert done.returncode == 1
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [1]
    errors = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [e["line"] for e in errors] == [2, 3]


def test_train_classifier_command_writes_a_version(tmp_path, capsys):
    # in process (the subprocess path is the same main(); it is exercised by the classify tests)
    from jobreqs.cli import main

    assert main(["train-classifier", "--no-rebuild", "--artifacts", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["published"] and result["version"] == "v1"
    assert (tmp_path / "v1" / "model.skops").exists() and (tmp_path / "CURRENT").read_text().strip() == "v1"
