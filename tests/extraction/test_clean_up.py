"""Clean-up: aliases, removal rules, compounds, unmapped terms."""

import pytest

from transforms.clean_up import clean_terms, clean_up_postings
from transforms.taxonomy import load_taxonomy


@pytest.mark.parametrize("raw,expected", [
    (["ReactJS", "react.js", "React"], ["react"]),
    (["Postgres", "MS SQL Server", "golang", "K8s", "HTML5", "CSS3"], ["css", "go", "html", "kubernetes", "postgresql", "sql server"]),
    (["c#/.net", "react-redux"], [".net", "c#", "react", "redux"]),
    (["Python 3.11", "Java SE v.8+", "Apache Spark", "Spring framework"], ["java", "python", "spark", "spring"]),
    (["Google Cloud Platform", "Google Docs"], ["gcp", "google docs"]),   # 'google' does not merge them
    (["Python, Java and Go"], ["go", "java", "python"]),
])
def test_aliases_and_compounds_map_to_one_canonical_name(raw, expected):
    techs, unmapped, _ = clean_terms(raw)
    assert techs == expected and unmapped == []


def test_generic_terms_are_removed_whole_not_by_substring():
    techs, unmapped, removed = clean_terms(
        ["machine learning models", "data processing", "analytics", "Agile", "REST APIs", "strong SQL skills",
         "natural language processing", "accounting software", "5+ years"])
    assert techs == [] and unmapped == [] and removed == 9
    tax = load_taxonomy()
    assert not tax.is_removed("apache spark") and tax.is_removed("microservices")


def test_unknown_terms_go_to_review_never_published():
    techs, unmapped, _ = clean_terms(["Python", "FooBarFramework", "Acme Widgets/Python"])
    assert techs == ["python"]
    assert unmapped == ["acme widgets python", "foobarframework"]


def test_clean_up_postings_streams_and_requires_raw_terms():
    out = list(clean_up_postings(iter([{"source": "indeed", "source_id": "1", "raw_terms": ["AWS", "aws", "Amazon Web Services"]}])))
    assert out[0]["technologies"] == ["aws"] and out[0]["unmapped_terms"] == []
    with pytest.raises(ValueError, match="no raw_terms"):
        list(clean_up_postings([{"source": "indeed", "source_id": "2"}]))


def test_taxonomy_has_the_required_shape():
    tax = load_taxonomy()
    assert len(tax.categories) >= 1500
    assert {"language", "database", "operating system", "cloud platform or service"} <= set(tax.categories.values())
    for word in ["go", "r", "c", "spark", "excel", "swift", "rust", "unity", "make", "access"]:
        assert word in tax.ambiguous, word
    assert tax.canonical("Amazon-Web-Services") == "aws" and tax.canonical("nodejs") == "node.js"
