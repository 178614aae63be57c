"""Case 13 of issue 11: the smaller ones (trends page dates and ranges, CSV formulas, classifier
artefacts, Indeed posted_at drift, a truncated search page, a long Retry-After)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import math
import shutil
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from jobreqs import lake
from models.classifier import artifact
from tests.faults.conftest import DAY, UPWORK_DAY, figures
from tests.fixtures.raw_day import indeed_record
from transforms.load import load_postings
from transforms.normalise import normalise_day


@pytest.fixture
def page(warehouse, lake_root):
    """The trends app over a warehouse holding a posting whose search keyword is a formula."""
    from plugins.jobreqs_trends.app import create_app
    from transforms.marts import refresh_marts

    records = [indeed_record(f"k{i}", "Analyst", "Python and SQL with Excel.", ["=HYPERLINK(\"http://x\",\"y\")"],
                             DAY - dt.timedelta(days=i % 9)) for i in range(12)]
    path = lake.partition(lake_root, "raw", "indeed", DAY) / "part-0000.jsonl.gz"
    lake.write_jsonl_gz(path, records)
    normalise_day(lake_root, DAY, ("indeed",))
    postings = [dict(p, posting_date=r["posted_at"][:10]) for p, r in zip(
        lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)), records)]
    with psycopg.connect(warehouse) as conn:
        conn.execute("INSERT INTO jobreqs.technologies VALUES ('python', 'language'), ('sql', 'language'), "
                     "('+cmd', '@SUM(1)') ON CONFLICT DO NOTHING")
        load_postings(conn, ({**p, "technologies": ["python", "sql", "+cmd"], "unmapped_terms": []} for p in postings))
    with psycopg.connect(warehouse, autocommit=True) as conn:
        refresh_marts(conn)
    return TestClient(create_app(require_login=False, conninfo=warehouse))


def test_case13_trends_page_dates_out_of_range_and_unbounded_ranges_are_400(page):
    statuses = {}
    for query in ("start=0001-01-02", "end=9999-12-31", "start=0001-01-01&end=0001-01-05",
                  "start=2000-01-01&end=2100-12-31", "start=2026-13-01", "end=1999-12-31"):
        for route in ("/", "/api/trends", "/export.csv", "/export.parquet"):
            statuses[(query, route)] = page.get(f"{route}?{query}").status_code
    assert set(statuses.values()) == {400}
    assert page.get("/api/trends?start=2026-11-01&end=2026-11-20").status_code == 200
    figures("case13-dates", requests=len(statuses), answered_400=sum(s == 400 for s in statuses.values()),
            answered_500=sum(s == 500 for s in statuses.values()))


def test_case13_csv_exports_never_hold_a_cell_a_spreadsheet_runs(page, warehouse, tmp_path):
    from transforms.export import export_trends

    answer = page.get("/export.csv?start=2026-11-01&end=2026-11-20&keyword=all")
    cli = tmp_path / "trends.csv"
    export_trends(dt.date(2026, 11, 1), dt.date(2026, 11, 20), "csv", cli, conninfo=warehouse)
    for text in (answer.text, cli.read_text()):
        rows = list(csv.reader(io.StringIO(text)))
        cells = [c for row in rows[1:] for c in row]
        risky = [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]
        assert rows[1:] and risky == []
        assert any(c == "'+cmd" for c in cells) and any(c == "'@SUM(1)" for c in cells)
    figures("case13-csv", rows=len(rows) - 1, formula_cells=0)


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.fixture
def artefacts(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped classifier artefacts, set as the folder the pipeline reads."""
    folder = tmp_path / "artifacts"
    shutil.copytree(artifact.ARTIFACTS_DIR, folder)
    monkeypatch.setenv("JOBREQS_CLASSIFIER_ARTIFACTS", str(folder))
    return folder


def _current(folder: Path) -> Path:
    return folder / (folder / "CURRENT").read_text().strip()


def test_case13_a_current_pointing_outside_the_artefacts_folder_is_refused(artefacts, tmp_path):
    current = _current(artefacts).name
    shutil.copytree(artefacts / current, tmp_path / "elsewhere")
    refused = 0
    for target in ("../elsewhere", str(tmp_path / "elsewhere"), "v1/../../elsewhere", "..", "v1/"):
        (artefacts / "CURRENT").write_text(target + "\n")
        with pytest.raises(artifact.ArtifactError):
            artifact.load()
        refused += 1
    (artefacts / "CURRENT").write_text(current + "\n")
    assert artifact.load().version == current
    figures("case13-current", tried=refused, refused=refused)


@pytest.mark.parametrize("threshold", [float("nan"), -0.5, 1.5, float("inf"), "0.5", None])
def test_case13_a_threshold_that_is_not_a_probability_is_refused(artefacts, threshold):
    metrics = json.loads((_current(artefacts) / "metrics.json").read_text())
    metrics["threshold"] = threshold
    (_current(artefacts) / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(artifact.ArtifactError, match="threshold"):
        artifact.load()
    assert isinstance(threshold, (str, type(None))) or not (0 <= threshold <= 1) or math.isnan(threshold)


def test_case13_an_artefact_declaring_huge_arrays_is_refused_before_allocating(artefacts):
    model = _current(artefacts) / "model.skops"
    with zipfile.ZipFile(model) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    name = next(n for n in members if n.endswith(".npy"))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (25_000_000,)})
    members[name] = buffer.getvalue() + b"\0" * 64
    with zipfile.ZipFile(model, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    tracemalloc.start()
    try:
        with pytest.raises(artifact.ArtifactError, match="declares"):
            artifact.load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak} bytes were allocated for a refused artefact"
    figures("case13-arrays", artefact_bytes=model.stat().st_size, declared_bytes=25_000_000 * 8, peak_bytes=peak)


def test_case13_indeed_posted_at_does_not_drift_on_a_rescrape(lake_root, warehouse):
    from scrapers.indeed.run import scrape_indeed
    from scrapers.indeed.sandbox import sandbox_server

    first_now = int(time.time() * 1000)
    stored = []
    for now_ms in (first_now, first_now + 3 * 3600 * 1000):  # the same postings, scraped 3 hours later
        with sandbox_server(now_ms=now_ms) as url:
            scrape_indeed(lake_root, DAY, ["data engineer"], ["remote"], base_url=url)
        normalise_day(lake_root, DAY, ("indeed",))
        with psycopg.connect(warehouse) as conn:
            load_postings(conn, lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
            stored.append(dict(conn.execute("SELECT source_id, posted_at FROM jobreqs.postings").fetchall()))
    assert stored[0] and stored[0] == stored[1]
    figures("case13-posted-at", postings=len(stored[0]), moved=sum(stored[0][k] != stored[1][k] for k in stored[0]))


def _truncated_day(times: int) -> dict:
    from scrapers.indeed.sandbox import load_day

    day = copy.deepcopy(load_day())
    day["truncated_search_pages"] = [{"q": "data scientist", "start": 10, "times": times}]
    return day


def test_case13_a_truncated_search_page_is_fetched_again_or_reported_degraded(lake_root, warehouse, monkeypatch):
    from jobreqs.pipeline import RunContext, run_scrape_indeed
    from scrapers.indeed.sandbox import SandboxIndeed, sandbox_server

    today = dt.datetime.now(dt.timezone.utc).date()
    ctx = RunContext(run_id="run-trunc", day=today, params={"keywords": ["data scientist"], "sources": ["indeed"]})
    expected = {k for k, kws in SandboxIndeed(_truncated_day(0)).expected["keywords"].items() if "data scientist" in kws}
    results = {}
    for times in (1, 10):  # a one-off cut: fetched again; a page that stays cut: degraded, said so
        with sandbox_server(day=_truncated_day(times)) as url:
            monkeypatch.setenv("JOBREQS_INDEED_BASE_URL", url)
            manifest = run_scrape_indeed(ctx)
        written = {r["job_key"] for r in lake.read_partition(lake.partition(lake_root, "raw", "indeed", today))}
        quarantined = list(lake.read_partition(lake.partition(lake_root, "quarantine", "indeed", today)))
        with psycopg.connect(warehouse) as conn:
            message = conn.execute("SELECT message FROM jobreqs.pipeline_runs WHERE stage = 'scrape_indeed'").fetchone()[0]
        results[times] = (manifest, written, quarantined, message)
    manifest, written, quarantined, message = results[1]
    assert manifest["search_pages_refetched"] == 1 and manifest["search_pages_degraded"] == 0 and message is None
    assert written | {q["job_key"] for q in quarantined if q["job_key"]} == expected  # nothing lost
    manifest, written, quarantined, message = results[10]
    assert manifest["search_pages_degraded"] == 1 and "degraded" in message
    assert any(q["kind"] == "search_page_degraded" for q in quarantined)
    figures("case13-truncated-page", refetched=results[1][0]["search_pages_refetched"],
            degraded_reported=results[10][0]["search_pages_degraded"], message=message)


def test_case13_a_retry_after_of_300_seconds_is_not_waited_for(upwork_day, lake_root, warehouse):
    from scrapers.upwork.api import UpworkApiError
    from scrapers.upwork.fetch import upwork_fetch

    upwork_day(jobs=300, arrivals=0, late_arrivals=0, before=5, burst_every=3, burst_length=1, retry_after="300")
    started = time.monotonic()
    with pytest.raises(UpworkApiError, match="asked to wait 300s"):
        upwork_fetch(lake_root, UPWORK_DAY)
    elapsed = time.monotonic() - started
    assert elapsed < 30
    assert not lake.list_files(lake.partition(lake_root, "raw", "upwork", UPWORK_DAY))  # nothing half-written
    figures("case13-retry-after", retry_after_seconds=300, task_seconds=round(elapsed, 1))
