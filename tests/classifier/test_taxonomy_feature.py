"""The classifier's taxonomy column and the labels it is trained on: office, business and
engineering software counts like developer tools, from the taxonomy, not from a list of names."""

from __future__ import annotations

import json

import pytest

from jobreqs.config import SOURCE_DATA_DIR
from models.classifier import dataset, features
from transforms.extract.local import local_extractor
from transforms.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def counter():
    return features.TaxonomyMatchCounter(features.taxonomy_features(load_taxonomy())).fit([])


def test_counts_what_the_local_extractor_finds_per_paragraph(counter):
    paragraphs = [
        "Proficient in MS Office (Excel, Outlook) and SAP.",
        "You will go to the office and excel in customer care.",   # ordinary words: context rules
        "Secrets in Azure Key Vault",
        "",
        "Python",
    ]
    assert counter.transform(paragraphs).toarray().ravel().tolist() == [4, 0, 1, 0, 1]


def test_chunks_do_not_change_the_counts(counter):
    lines = []
    for line in map(json.loads, (SOURCE_DATA_DIR / "eval" / "skillspan_dev_techs.jsonl").open(encoding="utf-8")):
        lines += line["text"].split("\n")
    together = counter.transform(lines).toarray().ravel()
    assert together.sum() > 300
    one_by_one = [len(local_extractor().find(line)) for line in lines]
    # scanned together, a context rule may see a neighbouring paragraph's name: only ever more
    assert sum(together) >= sum(one_by_one)
    assert sum(t != o for t, o in zip(together, one_by_one)) <= len(lines) // 50


def test_the_model_keeps_office_business_and_engineering_software(model):
    kept = [
        "Proficiency in Microsoft Office, especially Excel and Outlook.",
        "Experience with SAP and QuickBooks is an advantage.",
        "You model parts in AutoCAD and SolidWorks.",
        "Build dashboards in Power BI; knowledge of DAX.",
        "Ethernet, CAN bus and Modbus on our controllers.",
        "We run on Azure: Key Vault, Service Bus and Functions.",
    ]
    dropped = [
        "You will greet customers at the front desk and answer the phone.",
        "We offer a friendly team, a pension scheme and free lunch.",
        "You excel in a fast-paced environment and go the extra mile.",
    ]
    scores = model.scores(kept + dropped)
    assert all(s >= model.threshold for s in scores[:len(kept)]), list(zip(kept, scores))
    assert all(s < model.threshold for s in scores[len(kept):]), list(zip(dropped, scores[len(kept):]))


def test_the_model_carries_the_taxonomy_it_was_trained_with(model):
    union = model.pipeline.named_steps["counts"]
    taxonomy = dict(union.transformer_list)["taxonomy"].taxonomy
    assert taxonomy["match"]["azure key vault"] == "azure key vault"
    assert taxonomy["match"]["microsoft excel"] == "excel"


def test_sentences_are_labelled_by_the_taxonomy_too():
    row = {"tokens": "Good command of MS Office and SAP".split(), "tags_knowledge": ["O"] * 7}
    label, reason = dataset.label_sentence(row, {}, set(), local_extractor())
    assert (label, reason) == (1, "taxonomy:microsoft office")
    row = {"tokens": "You will excel in a fast paced team".split(), "tags_knowledge": ["O"] * 8}
    assert dataset.label_sentence(row, {}, set(), local_extractor()) == (0, "none")


def test_the_multi_occupation_set_was_never_trained_on():
    rows = [json.loads(line) for line in (SOURCE_DATA_DIR / "eval" / "multi_occupation.jsonl").open(encoding="utf-8")]
    assert len(rows) == 100 and len({r["family"] for r in rows}) >= 8
    trained = {r["posting"] for r in dataset.read_dataset() if r["split"] == "train"}
    heldout = {r["posting"] for r in dataset.read_dataset() if r["split"] == "heldout"}
    assert not {r["id"] for r in rows} & trained
    assert {r["id"] for r in rows if r["split"] == "train-heldout"} == heldout
    for row in rows:
        assert {c for _, c in row["spans"]} == set(row["techs"]), row["id"]
        assert all(surface in row["text"] for surface, _ in row["spans"]), row["id"]
