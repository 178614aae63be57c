"""Coverage beside every figure: how much of each source's date was collected.

The collection tasks (``scrape_indeed``, ``upwork_fetch``, ``collect_hn``, ``collect_greenhouse``,
``collect_lever``, ``collect_ashby``) turn their statistics into one row of
``jobreqs.source_coverage`` per source and date (``record``), a failed collection included; ``normalise`` adds the records it
quarantined (``record_normalise``). The view ``jobreqs.coverage_daily`` (migration 0010) sets each
row beside its usual level (the median of the 28 dates before) and flags the dates well below it;
the trends page draws it under the chart and the export carries it (``rows``).
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def _share(part: int, whole: int) -> float:
    return min(1.0, part / whole) if whole > 0 else 1.0


def indeed_row(manifest: dict, failed: bool = False) -> dict:
    """The coverage of an Indeed crawl from its manifest (``scrapers.indeed.crawl``).

    Coverage multiplies three shares: the searches whose first page was read; of the results the
    answered searches reported (to Indeed's 1,000 cap, which ``cap_hit`` reports apart), the
    organic cards read; of the postings listed, those collected (a job page blocked, broken or
    quarantined is a posting missed). A crawl stopped by a wall of blocks collected nothing
    usable: coverage 0."""
    listed, postings = int(manifest.get("listed") or 0), int(manifest.get("postings") or 0)
    searches = int(manifest.get("searches") or 0)
    answered = int(manifest.get("searches_answered") or 0)
    if failed:
        coverage = 0.0
    else:
        coverage = (_share(answered, searches) * _share(int(manifest.get("organic_cards_of_counted") or 0),
                                                        int(manifest.get("reachable_total") or 0))
                    * (_share(postings, listed) if answered else 0.0))
    return {
        "status": "failed" if failed else "collected",
        "reported": int(manifest.get("reported_total") or 0) if answered else None,
        "listed": listed,
        "collected": 0 if failed else postings,
        "blocked": int(manifest.get("blocked") or 0),
        # pages given up after blocks: quarantined as 'blocked' (counted among the errors)
        "blocked_lost": int(manifest.get("blocked_lost") or 0),
        "quarantined": int(manifest.get("quarantined") or 0),
        "cap_hit": bool(manifest.get("cap_hit")),
        "coverage": round(coverage, 4),
        "detail": {k: manifest.get(k) for k in ("searches", "searches_answered", "searches_without_total",
                                                "reachable_total", "organic_cards_of_counted", "errors",
                                                "stop_message") if manifest.get(k) is not None},
    }


def upwork_row(stats: dict) -> dict:
    """The coverage of an Upwork fetch (``scrapers.upwork.fetch.upwork_fetch``): the share of the
    day's publish times read without a gap; Upwork reports no per-day total."""
    return {
        "status": "collected",
        "reported": None,
        "listed": None,
        "collected": int(stats.get("fetched") or 0) + int(stats.get("swept") or 0),
        "blocked": 0,
        "blocked_lost": 0,
        "quarantined": int(stats.get("quarantined") or 0),
        "cap_hit": bool(stats.get("capped")),
        "coverage": round(float(stats.get("coverage", 1.0)), 4),
        "detail": {k: stats[k] for k in ("gaps", "sweeps", "complete") if k in stats},
    }


def _failed(row: dict, error: BaseException | None) -> dict:
    """A collection that raised: nothing usable for the date (coverage 0), the counts it had."""
    from jobreqs.redact import redact

    detail = dict(row["detail"])
    if error is not None:
        detail["error"] = redact(f"{type(error).__name__}: {error}")[:500]
    return {**row, "status": "failed", "collected": 0, "coverage": 0.0, "detail": detail}


def hn_row(stats: dict, error: BaseException | None = None) -> dict:
    """The coverage of a Hacker News collection (``scrapers.hn.collect.collect_hn``), or of one
    that raised ``error`` (``stats``: what it counted before). Listed: the date's top-level
    comments on the hiring threads. Coverage: the collector's own, the share of them accounted for
    (collected, or deleted/dead, which hold no posting to collect); a comment whose fetch failed
    for good is a blocked request and a comment lost, counted among the quarantined."""
    listed = int(stats.get("listed") or 0)
    row = {
        "status": "collected",
        "reported": listed,
        "listed": listed,
        "collected": int(stats.get("collected") or 0),
        "blocked": int(stats.get("fetch_failed") or 0),
        "blocked_lost": int(stats.get("fetch_failed") or 0),
        "quarantined": int(stats.get("quarantined") or 0),
        "cap_hit": False,
        "coverage": round(float(stats.get("coverage", 1.0)), 4),
        "detail": {k: stats[k] for k in ("deleted", "dead", "requests", "retries") if k in stats},
    }
    return row if error is None else _failed(row, error)


def ats_row(stats: dict, error: BaseException | None = None) -> dict:
    """The coverage of a job-board collection (``scrapers.ats.collect.collect_ats``), or of one
    that raised ``error``. Listed: the jobs the boards read answered (Greenhouse's ``meta.total``,
    else the jobs returned). Blocked: boards whose request failed for good; quarantined: the boards
    set aside (not found, or failed). Coverage multiplies the boards read of those configured by
    the jobs accounted for of those listed (collected, or not public: Ashby's ``isListed: false``),
    so a board lost lowers it although its jobs were never listed."""
    listed, collected = int(stats.get("jobs_listed") or 0), int(stats.get("jobs_collected") or 0)
    boards, failed = int(stats.get("boards") or 0), int(stats.get("boards_failed") or 0)
    coverage = _share(int(stats.get("boards_collected") or 0), boards) * _share(
        collected + int(stats.get("jobs_unlisted") or 0), listed)
    row = {
        "status": "collected",
        "reported": listed,
        "listed": listed,
        "collected": collected,
        "blocked": failed,
        "blocked_lost": failed,
        "quarantined": int(stats.get("boards_missing") or 0) + failed,
        "cap_hit": False,
        "coverage": round(coverage, 4),
        "detail": {k: stats[k] for k in ("boards", "boards_collected", "boards_missing", "boards_failed",
                                         "jobs_unlisted", "requests", "retries") if k in stats},
    }
    return row if error is None else _failed(row, error)


def record(conn: psycopg.Connection, source: str, day: dt.date, run_id: str, row: dict) -> None:
    """Replace the coverage of ``source`` on ``day`` (a re-collection supersedes the earlier one;
    the normalise stage's count is kept until normalise runs again)."""
    conn.execute(
        """INSERT INTO jobreqs.source_coverage
               (source, coverage_date, run_id, status, reported, listed, collected, blocked, blocked_lost,
                quarantined, cap_hit, coverage, detail)
           VALUES (%(source)s, %(day)s, %(run_id)s, %(status)s, %(reported)s, %(listed)s, %(collected)s,
                   %(blocked)s, %(blocked_lost)s, %(quarantined)s, %(cap_hit)s, %(coverage)s, %(detail)s)
           ON CONFLICT (source, coverage_date) DO UPDATE SET
               run_id = EXCLUDED.run_id, status = EXCLUDED.status, reported = EXCLUDED.reported,
               listed = EXCLUDED.listed, collected = EXCLUDED.collected, blocked = EXCLUDED.blocked,
               blocked_lost = EXCLUDED.blocked_lost, quarantined = EXCLUDED.quarantined,
               cap_hit = EXCLUDED.cap_hit, coverage = EXCLUDED.coverage, detail = EXCLUDED.detail,
               recorded_at = now()""",
        {**row, "detail": Jsonb(row.get("detail") or {}), "source": source, "day": day, "run_id": run_id},
    )


def record_normalise(conn: psycopg.Connection, day: dt.date, quarantined: dict[str, int]) -> None:
    """The records each source lost at normalise (schema failures) on ``day``."""
    for source, count in quarantined.items():
        conn.execute(
            """UPDATE jobreqs.source_coverage SET normalise_quarantined = %s
               WHERE source = %s AND coverage_date = %s""", (int(count), source, day))


#: Columns of the coverage in the page's JSON and the export (``coverage_daily``).
COLUMNS = ("coverage_date", "source", "status", "reported", "listed", "collected", "blocked", "blocked_lost",
           "quarantined", "cap_hit", "coverage", "usual_coverage", "usual_collected", "usual_days",
           "below_usual")


def rows(conn: psycopg.Connection, start: dt.date, end: dt.date, source: str | None = None) -> list[dict]:
    """The coverage mart's rows of ``start``..``end`` (one source, or every one with None), by
    date: a few rows a day, small enough to hold."""
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(
        sql.SQL("""SELECT {} FROM jobreqs.coverage_daily
                   WHERE coverage_date BETWEEN %s AND %s AND (%s::text IS NULL OR source = %s::text)
                   ORDER BY coverage_date, source""").format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS))),
        (start, end, source, source))
    out = []
    for r in cur:
        r = dict(r)
        r["coverage_date"] = r["coverage_date"].isoformat()
        for key in ("coverage", "usual_coverage", "usual_collected"):
            r[key] = None if r[key] is None else round(float(r[key]), 4)
        out.append(r)
    return out
