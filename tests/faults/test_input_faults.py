"""Cases 4 and 5 of issue 11: a NUL byte in a posting, and JSON nested deeper than the decoder
goes (the Indeed parser, the spider in a real crawl, the ``indeed-parse`` command)."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import subprocess
import sys

import psycopg

from jobreqs import lake
from jobreqs.config import PROJECT_ROOT
from jobreqs.runs import record_stage
from scrapers.indeed.sandbox import SandboxIndeed, load_day, sandbox_server
from tests.faults.conftest import DAY, UPWORK_DAY, figures
from tests.fixtures.raw_day import indeed_record, upwork_record
from transforms.load import load_postings
from transforms.normalise import normalise_day


def _write_raw(root, source: str, records: list[dict], day: dt.date = DAY) -> None:
    path = lake.partition(root, "raw", source, day) / "part-0000.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz:
        gz.write("".join(json.dumps(r) + "\n" for r in records).encode())


def test_case4_nul_bytes_are_removed_at_normalise_and_the_day_loads(lake_root, warehouse):
    indeed = [indeed_record(f"nul{i}", f"Data\x00 Engineer {i}", f"Python\x00 and SQL.\x00 Team {i}.",
                            ["data engineer"], DAY, company="Ac\x00me") for i in range(5)]
    indeed += [indeed_record("clean", "Analyst", "Tableau and Excel.", ["data analyst"], DAY)]
    upwork = [upwork_record(f"u{i}", f"Scraper\x00 {i}", "Scrapy\x00 and Python.", DAY, skills=["Py\x00thon"])
              for i in range(3)]
    upwork.append(upwork_record("lone", "Lone surrogate \ud800 title", "Rust and Go.", DAY))
    _write_raw(lake_root, "indeed", indeed)
    _write_raw(lake_root, "upwork", upwork)
    stats = normalise_day(lake_root, DAY)
    assert stats["postings"] == {"indeed": 6, "upwork": 4} and stats["quarantined"] == {"indeed": 0, "upwork": 0}
    assert stats["chars_removed"] == {"indeed": 20, "upwork": 10}
    with psycopg.connect(warehouse) as conn:
        loaded = load_postings(conn, lake.read_partition(lake.partition(lake_root, "staging", "postings", DAY)))
        titles = [t for (t,) in conn.execute("SELECT title FROM jobreqs.postings ORDER BY title")]
        # the stage's record keeps working with a NUL in its message and stats
        record_stage(conn, run_id="r", dag_id="d", day=DAY, stage="normalise",
                     stats={"odd\x00key": "va\x00lue"}, message="bad\x00 line")
    assert loaded["postings_upserted"] == 10 and not any("\x00" in t for t in titles)
    figures("case4-normalise", postings=10, loaded=loaded["postings_upserted"], chars_removed=stats["chars_removed"])


def test_case4_nul_bytes_in_the_upwork_search_do_not_stop_the_fetch_copy(upwork_day, lake_root, warehouse):
    from scrapers.upwork.fetch import upwork_fetch
    from tests.upwork.conftest import truth

    url = upwork_day(jobs=300, arrivals=0, late_arrivals=0, before=10, nul_rate=0.1, malformed_rate=0)
    result = upwork_fetch(lake_root, UPWORK_DAY)
    expected = set(truth(url)["window_ids"])
    with psycopg.connect(warehouse) as conn:
        ids = {i for (i,) in conn.execute("SELECT id FROM jobreqs.upwork_jobs")}
        titles = [t for (t,) in conn.execute("SELECT title || description FROM jobreqs.upwork_jobs")]
    assert ids == expected and result["fetched"] == 300 and result["chars_removed"] > 0
    assert not any("\x00" in t for t in titles)
    figures("case4-fetch", jobs=300, fetched=result["fetched"], chars_removed=result["chars_removed"])


def _deep_day(variants: dict[int, str]) -> tuple[dict, dict[str, str]]:
    day = copy.deepcopy(load_day())
    full = [p for p in day["postings"] if p["variant"] == "full"]
    chosen = {}
    for index, variant in variants.items():
        full[index]["variant"] = variant
        chosen[full[index]["job_key"]] = variant
    return day, chosen


def test_case5_deep_json_in_a_crawl_is_rescued_or_quarantined_never_lost(lake_root):
    from scrapers.indeed.run import scrape_indeed

    day, chosen = _deep_day({0: "deep_json", 1: "deep_json_only", 2: "deep_json_only"})
    expected = SandboxIndeed(day).expected
    with sandbox_server(day=day) as url:
        manifest = scrape_indeed(lake_root, DAY, ["data scientist", "data analyst", "data engineer"], ["remote"],
                                 base_url=url)
    written = {r["job_key"] for r in lake.read_partition(lake.partition(lake_root, "raw", "indeed", DAY))}
    quarantined = {q["job_key"]: q["reason"] for q in lake.read_partition(lake.partition(lake_root, "quarantine",
                                                                                          "indeed", DAY))}
    every_key = set(expected["keywords"])
    assert written | set(quarantined) == every_key and not written & set(quarantined)  # nothing lost or doubled
    rescued = [k for k, v in chosen.items() if v == "deep_json"]
    lost_models = [k for k, v in chosen.items() if v == "deep_json_only"]
    assert set(rescued) <= written
    assert all("nests too deeply" in quarantined[k] for k in lost_models)
    assert manifest["quarantined"] == len(quarantined) == len(expected["malformed"])
    figures("case5-crawl", postings=len(every_key), written=len(written), quarantined=len(quarantined),
            deep_pages=len(chosen), lost=len(every_key - written - set(quarantined)))


def test_case5_indeed_parse_quarantines_a_deep_page_and_goes_on(tmp_path):
    deep = tmp_path / "deep.html"
    deep.write_text('<html><script>window._initialData={"a": ' + "[" * 100_000 + "]" * 100_000 + "};</script></html>")
    search = tmp_path / "search.html"
    search.write_text('<html><script>window.mosaic.providerData["mosaic-provider-jobcards"]={"metaData": '
                      + "[" * 100_000 + "]" * 100_000 + '};</script><div class="job_seen_beacon"><h2 class="jobTitle">'
                      '<a data-jk="abc123" href="/viewjob?jk=abc123">Data Engineer</a></h2></div></html>')
    good = PROJECT_ROOT / "tests" / "indeed" / "fixtures" / "job_model.html"
    result = subprocess.run([sys.executable, "-m", "jobreqs.cli", "indeed-parse", str(deep), str(search), str(good)],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert lines[0]["kind"] == "quarantine" and "nests too deeply" in lines[0]["reason"]
    assert lines[1]["kind"] == "card" and lines[1]["source"] == "dom" and lines[1]["job_key"] == "abc123"
    assert lines[-1]["file"] == str(good) and lines[-1]["kind"] != "quarantine"
    figures("case5-cli", files=3, lines=len(lines), exit_code=result.returncode)
