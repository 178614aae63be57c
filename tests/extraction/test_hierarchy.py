"""The taxonomy's hierarchy: products with a parent, the most specific name extracted, roll-ups."""

import json
import shutil

import pytest

from models.taxonomy import build_taxonomy
from transforms.extract.evaluate import evaluate
from transforms.extract.local import local_extractor
from transforms.taxonomy import load_taxonomy


def techs(text: str) -> list[str]:
    return sorted({m.technology for m in local_extractor().find(text)})


@pytest.mark.parametrize("text,expected", [
    # the product's full name wins over its platform's (longest match)
    ("Secrets live in Azure Key Vault; messages on Azure Service Bus", ["azure key vault", "azure service bus"]),
    ("Experience with Azure API Management and the Azure CLI", ["azure api management", "azure cli"]),
    # bare product names count when the platform is named nearby, written as names
    ("Azure (Functions, Service Bus, Key Vault, Logic Apps)",
     ["azure", "azure functions", "azure key vault", "azure logic apps", "azure service bus"]),
    ("AWS services including Lambda, RDS and S3", ["amazon rds", "amazon s3", "aws", "aws lambda"]),
    ("Google Cloud Storage, Compute Engine and BigQuery on GCP",
     ["bigquery", "gcp", "google cloud storage", "google compute engine"]),
    # AWS's catalogue (botocore) names the services nobody curated
    ("Translate documents with Amazon Translate and store them in AWS Storage Gateway",
     ["amazon translate", "aws storage gateway"]),
    ("Dashboards in Power BI with DAX; flows in Power Automate", ["dax", "power automate", "power bi"]),
    ("Spatial queries in PostGIS, geometry with Shapely and GeoPandas", ["geopandas", "postgis", "shapely"]),
    ("Storefronts on Spree Commerce, Shopify Plus and WooCommerce", ["shopify plus", "spree commerce", "woocommerce"]),
])
def test_reports_the_most_specific_name(text, expected):
    assert techs(text) == expected


@pytest.mark.parametrize("text", [
    "Our functions and services bus you to the office.",          # bare names without their platform
    "Open your AWS account and contact AWS support.",             # catalogue names that are plain words
    "Any service bus or key vault will do.",                      # lowercase bare names
    "Hand out a leaflet; a shopping spree; a stripe of paint.",
])
def test_bare_or_ordinary_names_are_not_products(text):
    assert techs(text) in ([], ["aws"])


def test_parents_and_roll_up():
    tax = load_taxonomy()
    assert tax.parents["azure key vault"] == "azure"
    assert tax.parents["amazon s3"] == "aws"
    assert tax.parents["power bi"] == "microsoft power platform"
    assert tax.parents["excel"] == "microsoft office"
    assert tax.ancestors("python") == [] and tax.top("python") == "python"
    # a posting naming Azure Key Vault counts for Azure too, once
    assert tax.roll_up(["azure key vault", "azure", "amazon s3"]) == {"azure key vault", "azure", "amazon s3", "aws"}
    for name, parent in tax.parents.items():
        assert parent in tax.categories, (name, parent)


def test_evaluation_scores_both_levels(tmp_path):
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "1", "text": "We run on Azure Key Vault and Python", "techs": ["azure key vault", "python"]},
        # the gold says "azure", the text names a product: a product-level miss, a parent-level hit
        {"id": "2", "text": "Deploy with Azure Functions", "techs": ["azure"]},
    ]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate(gold)
    assert (result["true_positives"], result["false_positives"], result["false_negatives"]) == (2, 1, 1)
    parent = result["parent"]
    assert (parent["true_positives"], parent["false_positives"], parent["false_negatives"]) == (3, 0, 0)


def test_build_refuses_unknown_or_looping_parents():
    with pytest.raises(ValueError, match="not a technology"):
        build_taxonomy.check_parents({"a": {"parent": "b"}})
    with pytest.raises(ValueError, match="loop"):
        build_taxonomy.check_parents({"a": {"parent": "b"}, "b": {"parent": "a"}})


def test_aws_catalogue_names():
    row = {"service_id": "ssm", "abbreviation": "Amazon SSM", "full_name": "Amazon Simple Systems Manager (SSM)"}
    assert build_taxonomy.aws_service_names(row) == ["Amazon SSM", "Amazon Simple Systems Manager"]
    row = {"service_id": "route53", "abbreviation": "Route 53", "full_name": "Amazon Route 53"}
    assert build_taxonomy.aws_service_names(row) == ["Amazon Route 53"]
    row = {"service_id": "sesv2", "abbreviation": "Amazon SES V2", "full_name": "Amazon Simple Email Service"}
    assert build_taxonomy.aws_service_names(row) == ["Amazon SES", "Amazon Simple Email Service", "Amazon Simple Email"]
    assert build_taxonomy.aws_service_names({"service_id": "x", "abbreviation": "", "full_name": "Access Analyzer"}) == []


def test_committed_taxonomy_is_the_build_output(tmp_path):
    """taxonomy.json is what the build makes from data/ and curated/ (nobody edits it by hand)."""
    pytest.importorskip("wordfreq")
    shared = tmp_path / "data"
    shutil.copytree(build_taxonomy.SOURCE_DATA_DIR, shared)
    built = build_taxonomy.build(shared)
    committed = json.loads(build_taxonomy.TAXONOMY_DIR.joinpath("taxonomy.json").read_text(encoding="utf-8"))
    assert built["version"] == committed["version"]


def test_sync_writes_parents(warehouse):
    import psycopg

    from transforms.taxonomy_sync import sync_taxonomy

    sync_taxonomy(warehouse)
    tax = load_taxonomy()
    with psycopg.connect(warehouse) as conn:
        rows = dict(conn.execute("SELECT name, parent FROM jobreqs.technologies WHERE parent IS NOT NULL").fetchall())
    assert rows == tax.parents
    assert sync_taxonomy(warehouse)["technologies_written"] == 0  # parents unchanged: nothing rewritten


def test_rolled_up_view_counts_each_posting_once_per_parent(warehouse):
    import datetime as dt

    import psycopg

    from transforms.load import load_postings
    from transforms.taxonomy_sync import sync_taxonomy

    sync_taxonomy(warehouse)
    base = {"source": "indeed", "title": "Engineer", "posting_date": dt.date(2026, 11, 21),
            "description_text": "x", "content_hash": "h"}
    records = [
        {**base, "source_id": "1", "technologies": ["azure key vault", "azure service bus", "python"]},
        {**base, "source_id": "2", "technologies": ["azure", "azure functions"]},
        {**base, "source_id": "3", "technologies": ["excel"]},
    ]
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, records)
        rows = conn.execute("SELECT source_id, technology, named FROM jobreqs.posting_technologies_rolled_up "
                            "ORDER BY 1, 2").fetchall()
        shares = dict(conn.execute("SELECT technology, count(*) FROM jobreqs.posting_technologies_rolled_up "
                                   "GROUP BY 1").fetchall())
    assert rows == [
        ("1", "azure", False), ("1", "azure key vault", True), ("1", "azure service bus", True), ("1", "python", True),
        ("2", "azure", True), ("2", "azure functions", True),
        ("3", "excel", True), ("3", "microsoft office", False),
    ]
    assert shares["azure"] == 2 and shares["microsoft office"] == 1
