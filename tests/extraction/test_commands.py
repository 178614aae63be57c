"""The commands (extract, eval-extract, promote-term) and the warehouse sync."""

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from transforms.clean_up_cli import promote
from transforms.taxonomy import TAXONOMY_FILE, load_taxonomy, taxonomy_from_data
from jobreqs.runs import record_stage
from transforms.taxonomy_sync import sync_taxonomy

ROOT = Path(__file__).resolve().parents[2]


def jobreqs(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "jobreqs.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_extract_command_reads_and_writes_json_lines():
    stdin = '{"id": "a", "text": "Python, Django and PostgreSQL"}\nnot json\n{"id": "b", "text": "We excel at care."}\n'
    res = jobreqs("extract", "--backend", "local", stdin=stdin)
    assert res.returncode == 1 and "line 2" in res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines == [{"id": "a", "technologies": ["django", "postgresql", "python"]}, {"id": "b", "technologies": []}]


def test_eval_extract_scores_a_gold_file(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "text": "Python and Docker", "techs": ["docker", "python"]},
        {"id": "2", "text": "Java on AWS", "techs": ["java", "kubernetes"]},
    ]) + "\n")
    res = jobreqs("eval-extract", "--gold", str(gold), "--json")
    result = json.loads(res.stdout)
    assert (result["true_positives"], result["false_positives"], result["false_negatives"]) == (3, 1, 1)
    assert result["precision"] == 0.75 and result["recall"] == 0.75
    assert result["top_misses"] == [["kubernetes", 1]] and result["top_false_hits"] == [["aws", 1]]


def test_promote_term_as_alias_and_as_new_technology(tmp_path):
    tax_file = tmp_path / "taxonomy.json"
    shutil.copy(TAXONOMY_FILE, tax_file)
    promoted = tmp_path / "promoted.yml"
    assert promote("fastifyish", category="framework or library", taxonomy_file=tax_file, promoted_file=promoted)["action"] == "new"
    assert promote("pgsql9", to="Postgres", taxonomy_file=tax_file, promoted_file=promoted)["technology"] == "postgresql"
    tax = taxonomy_from_data(json.loads(tax_file.read_text()))
    assert tax.canonical("fastifyish") == "fastifyish" and tax.canonical("PGSQL9") == "postgresql"
    assert tax.local_aliases["fastifyish"] == "fastifyish"
    assert "fastifyish" in promoted.read_text()
    with pytest.raises(ValueError, match="already maps"):
        promote("golang", to="go", taxonomy_file=tax_file, promoted_file=promoted)
    with pytest.raises(ValueError, match="no technology"):
        promote("zzz", to="not-a-tech", taxonomy_file=tax_file, promoted_file=promoted)


def test_sync_taxonomy_is_idempotent_and_records_runs(warehouse):
    first = sync_taxonomy(warehouse)
    second = sync_taxonomy(warehouse)
    tax = load_taxonomy()
    with psycopg.connect(warehouse) as conn:
        n_tech = conn.execute("SELECT count(*) FROM jobreqs.technologies").fetchone()[0]
        n_alias = conn.execute("SELECT count(*) FROM jobreqs.technology_aliases").fetchone()[0]
        assert conn.execute("SELECT technology FROM jobreqs.technology_aliases WHERE alias = 'golang'").fetchone()[0] == "go"
    assert n_tech == len(tax.categories) and n_alias == len(tax.aliases)
    assert first["technologies_written"] == n_tech and second["technologies_written"] == 0
    assert second["aliases_written"] == 0 and second["aliases_deleted"] == 0
    with psycopg.connect(warehouse) as conn:
        for stats in ({"tokens_in": 10, "cost_usd": 0.1}, {"tokens_in": 12, "cost_usd": 0.2}):
            record_stage(conn, run_id="run1", dag_id="jobreqs_daily", day=dt.date(2026, 11, 21),
                         stage="extract", stats=stats)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("SELECT stats FROM jobreqs.pipeline_runs").fetchall()
    assert rows == [({"tokens_in": 12, "cost_usd": 0.2},)]


def test_extract_command_with_the_openai_backend(fake_openai):
    stdin = '{"id": "a", "text": "Terraform and Ansible on Azure. [[429]]"}\n{"id": "b", "text": ""}\n'
    res = jobreqs("extract", "--backend", "openai", "--no-warehouse-cache", "--stats", stdin=stdin)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines == [{"id": "a", "technologies": ["ansible", "azure", "terraform"]}, {"id": "b", "technologies": []}]
    stats = json.loads(res.stderr.strip().splitlines()[-1])
    assert stats["sent"] == 1 and stats["tokens_in"] > 0 and stats["model"] == "gpt-4o-mini"
    assert "test-key" not in res.stderr + res.stdout  # the key never reaches the output or logs
