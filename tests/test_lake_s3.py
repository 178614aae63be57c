"""The lake on S3: the same stages, through ``aws_default``, against moto's S3 server over HTTP."""

import datetime as dt
import json

import boto3
import psycopg
import pytest

from jobreqs import lake
from tests.fixtures.raw_day import write_raw_day
from transforms.load import load_postings
from transforms.normalise import normalise_day
from transforms.publish import publish_day

DAY = dt.date(2026, 11, 20)
BUCKET = "jobreqs-lake"


@pytest.fixture
def s3_lake(s3_endpoint, monkeypatch):
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": creds["aws_access_key_id"], "password": creds["aws_secret_access_key"],
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}}))
    monkeypatch.setenv("JOBREQS_LAKE_URL", f"s3://{BUCKET}/lake")
    client = boto3.client("s3", endpoint_url=s3_endpoint, **creds)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_stages_read_and_write_s3(s3_lake, warehouse):
    root = lake.lake_root()
    assert root.protocol == "s3"
    write_raw_day(root, DAY)
    stats = normalise_day(root, DAY)
    assert stats["postings"] == {"indeed": 4, "upwork": 2}
    staged = lake.partition(root, "staging", "postings", DAY)
    # Paths handed between tasks as strings resolve back to the same S3 objects.
    assert len(list(lake.read_partition(lake.lake_root(str(staged))))) == 6
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, lake.read_partition(staged))
        publish_day(conn, root, DAY)
    keys = sorted(o["Key"] for o in s3_lake.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert f"lake/curated/postings/dt={DAY}/postings.parquet" in keys
    assert f"lake/quarantine/indeed/dt={DAY}/normalise.jsonl.gz" in keys
    assert not [k for k in keys if k.rsplit("/", 1)[-1].startswith(".")], "no temporary object left behind"


def test_replacing_a_partition_on_s3_drops_stale_files(s3_lake):
    root = lake.lake_root()
    part = lake.partition(root, "raw", "indeed", DAY)
    lake.write_jsonl_gz(part / "part-0007.jsonl.gz", [{"old": True}])
    lake.replace_partition(part, [{"new": True}])
    assert [p.name for p in lake.list_files(part)] == ["part-0000.jsonl.gz"]
    assert list(lake.read_partition(part)) == [{"new": True}]
