"""Cross-source duplicates: the same job on two sources shares a normalised (company, title,
location) key, is linked to the posting found first, and counts once in the 'all' slice."""

from __future__ import annotations

import datetime as dt

import psycopg

from transforms.load import load_postings

DAY = dt.date(2026, 11, 4)


def posting(source, source_id, company, title, location, day=DAY, technologies=("python",)):
    return {"source": source, "source_id": source_id, "title": title, "company": company, "location": location,
            "posting_date": day.isoformat(), "description_text": "text", "content_hash": f"h-{source_id}",
            "technologies": list(technologies), "extraction_backend": "local"}


def test_the_same_job_on_two_sources_is_linked_and_counted_once_in_all(warehouse):
    from transforms.marts import refresh_marts

    records = [
        posting("indeed", "i1", "Globex", "Senior Data Engineer", "Austin, TX 78701"),
        posting("greenhouse", "globex:1", "Globex Inc.", "Senior  Data-Engineer", "Austin, TX"),  # same job
        posting("lever", "hooli:1", "Hooli", "Data Scientist", "Remote in United States"),
        posting("indeed", "i2", "Hooli, LLC", "Data Scientist", "Remote", DAY + dt.timedelta(days=3)),  # same, later
        posting("hn", "42", "Hooli", "Data Scientist", "Remote", DAY + dt.timedelta(days=45)),  # too late: its own
        posting("ashby", "x:1", "Initech", "Data Analyst", "Boston, MA"),
        posting("indeed", "i3", "Initech", "Data Analyst", "Boston, MA"),  # same source twice below: not linked
        posting("indeed", "i4", "Initech", "Data Analyst", "Boston, MA"),
        posting("hn", "43", None, "Data Analyst", "Boston, MA"),  # no company: never linked
    ]
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, records)
        pairs = conn.execute(
            """SELECT source, source_id, duplicate_of_source, duplicate_of_source_id
               FROM jobreqs.posting_duplicates ORDER BY 1, 2""").fetchall()
        keys = dict(conn.execute("SELECT source_id, duplicate_key FROM jobreqs.postings").fetchall())
        refresh_marts(conn)
        daily = dict(conn.execute(
            "SELECT source, postings FROM jobreqs.postings_daily WHERE posting_date = %s AND keyword = 'all'",
            (DAY,)).fetchall())
        tech = conn.execute(
            """SELECT postings FROM jobreqs.technology_daily
               WHERE posting_date = %s AND source = 'all' AND keyword = 'all' AND technology = 'python'""",
            (DAY,)).fetchone()[0]
    assert keys["i1"] == keys["globex:1"] == "globex|senior data engineer|austin tx"
    assert keys["hooli:1"] == keys["i2"] == "hooli|data scientist|remote"
    assert keys["43"] is None
    # (d1, greenhouse) sorts before (d1, indeed); Initech's first is Ashby's, both Indeed copies link to it
    assert pairs == [("indeed", "i1", "greenhouse", "globex:1"), ("indeed", "i2", "lever", "hooli:1"),
                     ("indeed", "i3", "ashby", "x:1"), ("indeed", "i4", "ashby", "x:1")]
    on_day = [r for r in records if r["posting_date"] == DAY.isoformat()]
    assert daily["indeed"] == 3 and daily["greenhouse"] == 1
    assert daily["all"] == tech == len(on_day) - 3  # i1, i3 and i4 counted under their source only


def test_the_trends_page_and_exports_offer_the_new_sources(warehouse, monkeypatch):
    import sys
    from pathlib import Path

    from fastapi.testclient import TestClient
    from psycopg.rows import dict_row

    from transforms import marts

    records = [posting(source, f"{source}-1", "Globex", "Data Engineer", "Remote")
               for source in ("indeed", "hn", "greenhouse", "lever", "ashby")]
    with psycopg.connect(warehouse) as conn:
        load_postings(conn, records)
        marts.refresh_marts(conn)
    with psycopg.connect(warehouse, row_factory=dict_row) as conn:
        options = marts.filter_options(conn)
        exported = {r["source"]: r["postings"] for r in marts.trend_rows(conn, DAY, DAY, keyword="all")}
    assert options["sources"] == ["ashby", "greenhouse", "hn", "indeed", "lever"]
    assert options["source_labels"]["hn"] == "Hacker News (Who is hiring?)"
    assert exported == {"all": 1, "ashby": 1, "greenhouse": 1, "hn": 1, "indeed": 1, "lever": 1}

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "plugins"))
    from jobreqs_trends.app import create_app

    page = TestClient(create_app(require_login=False)).get("/", params={"start": DAY, "end": DAY})
    sys.modules.pop("jobreqs_trends.app", None)
    assert page.status_code == 200
    for label in ("Hacker News (Who is hiring?)", "Greenhouse boards", "Lever boards", "Ashby boards"):
        assert label in page.text
