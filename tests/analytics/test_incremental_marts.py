"""Incremental publish (issue 14): the marts kept up to date date by date, re-runs of old dates
included, hold exactly the rows a full rebuild derives from all of history."""

import datetime as dt
import random

import psycopg
from psycopg import sql

from transforms.load import load_postings
from transforms.marts import MARTS, affected, refresh_marts, update_marts

START = dt.date(2026, 1, 1)
TECHS = ["python", "sql", "spark", "excel", "aws", "dbt", "airflow", "tableau", "rust", "go", "kafka", "snowflake"]
KEYWORDS = ["data engineer", "data analyst", "data scientist"]


def day_records(day: dt.date, seed: int, refound: list[str] = ()) -> list[dict]:
    """The postings a run of ``day`` loads (random technologies and keywords from ``seed``), plus
    postings of earlier days found again (``refound`` ids, with another keyword)."""
    rng = random.Random(seed)
    records = []
    for i in range(12):
        source = "upwork" if i % 4 == 0 else "indeed"
        records.append({
            "source": source, "source_id": f"{day:%m%d}-{i}", "title": "Engineer", "posting_date": day.isoformat(),
            "description_text": "text", "content_hash": f"h{i}",
            "keywords": [] if source == "upwork" else rng.sample(KEYWORDS, rng.choice((1, 1, 2))),
            "technologies": rng.sample(TECHS[: 4 + day.month * 2], rng.randint(0, 4)), "unmapped_terms": [],
        })
    for source_id in refound:
        records.append({"source": "indeed", "source_id": source_id, "title": "Engineer", "posting_date": day.isoformat(),
                        "description_text": "text", "content_hash": "h", "keywords": ["machine learning"],
                        "technologies": ["python", "kafka"], "unmapped_terms": []})
    return records


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    out = {}
    for mart in MARTS:
        out[mart] = sorted(conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("jobreqs", mart))).fetchall(),
                           key=repr)
    conn.commit()
    return out


def test_incremental_publish_equals_a_full_rebuild(warehouse):
    days = [START + dt.timedelta(days=i) for i in range(80) if i % 9 != 4]  # with gaps: windows span them
    with psycopg.connect(warehouse) as conn:
        conn.execute("INSERT INTO jobreqs.technologies (name, category) SELECT t, 'cat' || length(t) FROM unnest(%s::text[]) t",
                     (TECHS,))
        conn.commit()
        for n, day in enumerate(days):
            load_postings(conn, day_records(day, n))
            update_marts(conn, [day])  # the DAG's publish of the run
        # A re-run of an old date with other results, finding again postings of other days: one
        # of the day before (a keyword more), one first found later (its date moves back to this one).
        old = days[20]
        refound = [f"{days[19]:%m%d}-1", f"{days[40]:%m%d}-2"]
        load_postings(conn, day_records(old, 999, refound))
        result = update_marts(conn, [old])
        assert {days[19].isoformat(), old.isoformat(), days[40].isoformat()} <= set(result["dates"])
        # ...and a re-run of the last date, unchanged.
        load_postings(conn, day_records(days[-1], len(days) - 1))
        update_marts(conn, [days[-1]])
        assert conn.execute("SELECT count(*) FROM jobreqs.mart_pending_dates").fetchone()[0] == 0
        incremental = snapshot(conn)
        refresh_marts(conn)
        full = snapshot(conn)
    assert all(incremental[m] for m in MARTS)  # every mart has rows: the comparison means something
    for mart in MARTS:
        assert incremental[mart] == full[mart], mart
    moved = [r for r in full["technology_daily"] if r[0] == old and r[1] == "all" and r[2] == "machine learning"]
    assert moved and all(r[3] in ("python", "kafka") for r in moved)


def test_one_date_recomputes_bounded_stretches():
    """What a day's publish reads does not grow with history: the day and the 30 after it (whose
    cross-source duplicates it may change), their trend windows (55 days before), their weeks and
    months and the next ones, their months of pairs."""
    p = affected([dt.date(2026, 3, 18)])
    assert (p["dates"][0], p["dates"][-1], len(p["dates"])) == (dt.date(2026, 3, 18), dt.date(2026, 4, 17), 31)
    assert (p["trend_days"][0], p["trend_days"][-1], len(p["trend_days"])) == (dt.date(2026, 3, 18), dt.date(2026, 6, 11), 86)
    assert len(p["context"]) == 141
    assert (p["weeks"][0], p["weeks"][-1], len(p["weeks"])) == (dt.date(2026, 3, 16), dt.date(2026, 4, 20), 6)
    assert p["months"] == [dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]
    assert (p["pair_days"][0], p["pair_days"][-1]) == (dt.date(2026, 3, 1), dt.date(2026, 4, 30))
    assert (p["period_days"][0], p["period_days"][-1]) == (dt.date(2026, 2, 1), dt.date(2026, 5, 31))
