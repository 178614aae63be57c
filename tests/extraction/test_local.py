"""The local extractor and its context rules, on plain strings."""

import pytest

from transforms.extract import extract_postings
from transforms.extract.local import local_extractor


def techs(text: str) -> list[str]:
    return sorted({m.technology for m in local_extractor().find(text)})


@pytest.mark.parametrize("text,expected", [
    ("We use C#/.NET, React.js and Node.js", [".net", "c#", "node.js", "react"]),
    ("Apache Kafka and spring-boot on k8s", ["kafka", "kubernetes", "spring boot"]),
    ("C/C++ and Python 3 on ARM Cortex-M", ["arm", "c", "c++", "python"]),
    ("Java JEE, *nix, . NET core", [".net", "java", "java ee", "unix"]),
    ("Tags: javascript angular react-redux angular-ngrx-data", ["angular", "javascript", "ngrx", "react", "redux"]),
    ("amazon-web-services and google-cloud-platform", ["aws", "gcp"]),
    ("Statistics in R and Python; Go microservices", ["go", "python", "r"]),
    ("Testing with jest/enzyme and Selenium", ["enzyme", "jest", "selenium"]),
    ("MS Excel, Microsoft Word and PowerPoint", ["excel", "powerpoint", "word"]),
])
def test_finds_technologies(text, expected):
    assert techs(text) == expected


@pytest.mark.parametrize("text", [
    "You will go to our office and excel in customer care.",
    "Our R&D team will react quickly to a swift change.",
    "Vitamin C and grade C results; spark joy; rust on metal.",
    "Access to the building; make a difference; unity of purpose.",
    "Royal Dutch Shell; Apache helicopters; a spring semester.",
    "multi-node clusters of people; data processing and machine learning models.",
])
def test_ordinary_words_are_not_technologies(text):
    assert techs(text) == []


def test_spans_point_into_the_original_text():
    text = "Stack: Ünïcode prose – then PostgreSQL, “Docker” and Go/Rust."
    for m in local_extractor().find(text):
        assert text[m.start:m.end] == m.surface
    assert techs(text) == ["docker", "go", "postgresql", "rust"]


def test_longest_match_wins_and_sub_products_do_not_add_parents():
    found = local_extractor().find("Spring Boot with Azure Cosmos DB and Java Mission Control")
    assert [m.technology for m in found] == ["spring boot", "azure cosmos db", "java mission control"]


def test_extract_postings_passes_records_through():
    records = [
        {"source": "indeed", "source_id": "1", "kept_text": "Python and Django", "title": "x"},
        {"source": "upwork", "source_id": "2", "description_text": "Only description: Terraform on AWS"},
        {"source": "upwork", "source_id": "3", "kept_text": ""},
    ]
    out = list(extract_postings(iter(records)))
    assert [r["raw_terms"] for r in out] == [["Python", "Django"], ["Terraform", "AWS"], []]
    assert all(r["extraction_backend"] == "local" for r in out) and out[0]["title"] == "x"


def test_a_record_without_text_is_a_clear_error():
    with pytest.raises(ValueError, match="neither kept_text nor description_text"):
        list(extract_postings([{"source": "indeed", "source_id": "9"}]))
    with pytest.raises(ValueError, match="unknown extraction backend"):
        list(extract_postings([], backend="spacy"))
