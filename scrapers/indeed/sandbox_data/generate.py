"""The sandbox Indeed's postings of a date, built reproducibly from the date.

    python -m scrapers.indeed.sandbox_data.generate [YYYY-MM-DD]    # prints that day as JSON

Every date has new postings (job keys derived from the date) with the same structure, so tests
can rely on it: three keywords ('data scientist', 'data analyst', 'data engineer') x 'remote';
some postings are found by two keywords; 'data scientist' spans three pages. A few postings are
served as malformed job pages (``variant``), two through the JSON-LD and DOM fallbacks only, one
with its description as an object (``{"content": ...}``, as the embedded mobile page has it), and
one search page hides its card model so the DOM cards must be read. Each keyword's first page
also carries sponsored cards: an ad for a posting of the day (reachable only through the ad) and
a stale ad posted weeks before (outside the window). Salaries come in the shapes real cards show:
a range, "From $X" (``max: -1``), "Up to $X" (``min: 0``), Indeed's estimate (with
``salarySnippet.currency`` ``""`` or another country's code), or none. The technologies named
drift over weeks (``scrapers.sandbox_trends``). The sandbox server (``scrapers/indeed/sandbox.py``)
renders the pages from this data with Indeed's real structure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sys
from functools import lru_cache

from scrapers.sandbox_trends import day_seed, pick

KEYWORDS = {"data scientist": 23, "data analyst": 14, "data engineer": 12}
# (first keyword, second keyword, how many postings both find)
SHARED = [("data scientist", "data analyst", 4), ("data analyst", "data engineer", 3)]

TITLES = {
    "data scientist": ["Data Scientist", "Senior Data Scientist", "Machine Learning Scientist", "Data Scientist II"],
    "data analyst": ["Data Analyst", "Business Data Analyst", "Senior Data Analyst", "Marketing Analyst"],
    "data engineer": ["Data Engineer", "Senior Data Engineer", "Analytics Engineer", "Big Data Engineer"],
}
COMPANIES = ["Acme Analytics", "Northwind Health", "Globex", "Initech", "Umbrella Insights", "Hooli",
             "Stark Logistics", "Wayne Retail", "Soylent Foods", "Vandelay Imports", "Pied Piper", "Cyberdyne"]
TECH = {
    "data scientist": ["Python", "scikit-learn", "PyTorch", "SQL", "pandas", "TensorFlow", "Spark", "R",
                       "LangChain", "OpenAI API", "Polars", "Hadoop"],
    "data analyst": ["SQL", "Excel", "Tableau", "Power BI", "Python", "Looker", "dbt", "Snowflake", "R", "Polars"],
    "data engineer": ["Python", "Apache Airflow", "Spark", "Kafka", "AWS", "Terraform", "dbt", "PostgreSQL",
                      "Snowflake", "Hadoop", "Rust"],
}
BENEFITS = ["Health, dental and vision insurance", "401(k) with company match", "Unlimited paid time off",
            "Home office stipend", "Parental leave"]
JOB_TYPES = [["Full-time"], ["Full-time"], ["Contract"], ["Part-time"], ["Full-time", "Permanent"]]
# remoteWorkModel.type as real cards carry it; None: no remoteWorkModel (absent on the card,
# null on the job page), an on-site job.
REMOTE = ["REMOTE_ALWAYS", "REMOTE_ALWAYS", "REMOTE_ALWAYS", "REMOTE_HYBRID", None]
LOCATIONS = {"REMOTE_ALWAYS": ["Remote", "Remote in United States"], "REMOTE_HYBRID": ["Hybrid remote in Austin, TX"],
             None: ["Austin, TX 78701", "Dallas, TX"]}

# job-page variants: how the sandbox serves a posting's job page (see sandbox.py)
MALFORMED = ["truncated_json", "missing_title", "non_utf8", "empty_description", "huge_description"]
FALLBACKS = ["json_ld_only", "dom_only"]
#: Served with ``sanitizedJobDescription`` as ``{"content": html}`` (the embedded mobile page's shape).
OBJECT_DESCRIPTION = "description_object"


def job_key(day: dt.date, index: int) -> str:
    # 16 hex characters like Indeed's, new every day; never starting with '9' (the synthetic
    # searches' prefix)
    digest = hashlib.sha1(f"sandbox-{day.isoformat()}-{index}".encode()).hexdigest()
    return ("a" + digest[1:16]) if digest[0] == "9" else digest[:16]


def description(rng: random.Random, day: dt.date, keyword: str, title: str, company: str) -> str:
    tech = pick(rng, TECH[keyword], day, 4)
    return (
        f"<p><b>About {company}</b></p><p>{company} is hiring a {title} to join a remote-first team.</p>"
        f"<p><b>What you will do</b></p><ul><li>Build and maintain work in {tech[0]} and {tech[1]}.</li>"
        f"<li>Partner with product teams on metrics and experiments.</li>"
        f"<li>Write clear documentation; code like <code>if x: {{y}};</code> is reviewed.</li></ul>"
        f"<p><b>Requirements</b></p><ul><li>3+ years with {tech[2]}.</li><li>Experience with {tech[3]} is a plus.</li></ul>"
        f"<p><b>Benefits</b></p><ul>" + "".join(f"<li>{b}</li>" for b in rng.sample(BENEFITS, 2)) + "</ul>"
        f"<p>{company} is an equal opportunity employer.</p>"
    )


def salary(rng: random.Random) -> dict | None:
    """A published salary, an open-ended one, Indeed's estimate, or none. ``open``: ``from``
    (real cards: ``max: -1``) or ``upto`` (``min: 0``); ``snippet_currency``: what an estimate
    card's ``salarySnippet.currency`` says (``""`` or another country's code, as on real cards)."""
    kind = rng.choice(["year", "year", "hour", "month", "estimate", "estimate", "from", "upto", None])
    if kind is None:
        return None
    if kind == "hour":
        low = rng.randrange(35, 70)
        return {"min": low, "max": low + rng.randrange(5, 25), "type": "HOURLY", "estimate": False, "open": None}
    if kind == "month":
        low = rng.randrange(6, 10) * 1000
        return {"min": low, "max": low + 2000, "type": "MONTHLY", "estimate": False, "open": None}
    if kind == "from":
        return {"min": rng.randrange(90, 160) * 1000, "max": None, "type": "YEARLY", "estimate": False, "open": "from"}
    if kind == "upto":
        return {"min": None, "max": rng.randrange(30, 60), "type": "HOURLY", "estimate": False, "open": "upto"}
    low = rng.randrange(80, 150) * 1000
    estimate = kind == "estimate"
    value = {"min": low, "max": low + rng.randrange(10, 50) * 1000, "type": "YEARLY", "estimate": estimate, "open": None}
    if estimate:
        # Real estimates are not round numbers, and their card says nothing true of the currency.
        value["min"] += rng.randrange(1, 999) + 0.5
        value["snippet_currency"] = rng.choice(["", "", "INR"])
    return value


@lru_cache(maxsize=64)
def build(day: dt.date) -> dict:
    """The postings, searches and odd pages of ``day`` (cached; treat the result as read-only)."""
    rng = random.Random(day_seed("indeed", day))
    postings: list[dict] = []
    searches: dict[str, list[str]] = {k: [] for k in KEYWORDS}
    index = 0

    def new_posting(keyword: str) -> dict:
        nonlocal index
        title = rng.choice(TITLES[keyword])
        company = rng.choice(COMPANIES)
        remote = rng.choice(REMOTE)
        posting = {
            "job_key": job_key(day, index),
            "title": title,
            "company": company,
            "location": rng.choice(LOCATIONS[remote]),
            "remote_type": remote,
            "minutes_ago": rng.randrange(10, 23 * 60),
            "salary": salary(rng),
            "job_types": rng.choice(JOB_TYPES),
            "description_html": description(rng, day, keyword, title, company),
            "variant": "full",
            "sponsored": False,
        }
        index += 1
        postings.append(posting)
        return posting

    for first, second, count in SHARED:
        for _ in range(count):
            posting = new_posting(first)
            searches[first].append(posting["job_key"])
            searches[second].append(posting["job_key"])
    for keyword, total in KEYWORDS.items():
        while len(searches[keyword]) < total:
            searches[keyword].append(new_posting(keyword)["job_key"])
    by_key = {p["job_key"]: p for p in postings}
    for keyword in searches:  # Indeed sorts by date; shared postings must not all sit on page 1
        searches[keyword].sort(key=lambda k: by_key[k]["minutes_ago"])
    # Odd job pages: spread over the keywords, never on shared postings (they are checked apart).
    shared = {k for a, b, _ in SHARED for k in set(searches[a]) & set(searches[b])}
    plain = [p for p in postings if p["job_key"] not in shared]
    odd = MALFORMED + FALLBACKS + [OBJECT_DESCRIPTION]
    for posting, variant in zip(rng.sample(plain, len(odd)), odd):
        posting["variant"] = variant
    # Sponsored cards on each keyword's first page: an ad for a posting of the day, found only
    # through the ad, and one stale ad (weeks old: outside the window, to be skipped).
    ads: dict[str, list[str]] = {}
    stale_ads: list[dict] = []
    for keyword in KEYWORDS:
        ad = new_posting(keyword)
        ad["sponsored"] = True
        stale = new_posting(keyword)
        stale.update(sponsored=True, minutes_ago=rng.randrange(30, 60) * 24 * 60)
        postings.remove(stale)
        stale_ads.append(stale)
        ads[keyword] = [ad["job_key"], stale["job_key"]]
    return {
        "day": day.isoformat(),
        "location": "remote",
        "postings": postings,
        "searches": searches,
        "ads": ads,
        "stale_ads": stale_ads,
        # search pages (keyword, start) served without the card model: the DOM cards must be read
        "dom_only_search_pages": [["data engineer", 10]],
        # URLs answered with Cloudflare's challenge, HTTP 429 or 503 on every other request (odd requests)
        "flaky": [
            {"path": "/jobs", "q": "data analyst", "start": 10, "answer": "challenge"},
            {"path": "/viewjob", "jk": searches["data scientist"][5], "answer": 429},
            {"path": "/viewjob", "jk": searches["data engineer"][2], "answer": 503},
        ],
    }


def main() -> None:
    day = dt.date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else dt.datetime.now(dt.timezone.utc).date()
    print(json.dumps(build(day), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
