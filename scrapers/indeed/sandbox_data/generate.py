"""Rebuild ``day.json``, the sandbox Indeed's fixture day, reproducibly (fixed seed).

    python -m scrapers.indeed.sandbox_data.generate

The day: three keywords ('data scientist', 'data analyst', 'data engineer') x 'remote'; some
postings are found by two keywords; 'data scientist' spans three pages. A few postings are
served as malformed job pages (``variant``), two through the JSON-LD and DOM fallbacks only, and
one search page hides its card model so the DOM cards must be read. The sandbox server
(``scrapers/indeed/sandbox.py``) renders the pages from this data with Indeed's real structure.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "day.json"
SEED = 20261122

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
    "data scientist": ["Python", "scikit-learn", "PyTorch", "SQL", "pandas", "TensorFlow", "Spark", "R"],
    "data analyst": ["SQL", "Excel", "Tableau", "Power BI", "Python", "Looker", "dbt", "Snowflake"],
    "data engineer": ["Python", "Apache Airflow", "Spark", "Kafka", "AWS", "Terraform", "dbt", "PostgreSQL"],
}
BENEFITS = ["Health, dental and vision insurance", "401(k) with company match", "Unlimited paid time off",
            "Home office stipend", "Parental leave"]
JOB_TYPES = [["Full-time"], ["Full-time"], ["Contract"], ["Part-time"], ["Full-time", "Permanent"]]
REMOTE = ["REMOTE_FULLY", "REMOTE_FULLY", "REMOTE_FULLY", "REMOTE_HYBRID"]

# job-page variants: how the sandbox serves a posting's job page (see sandbox.py)
MALFORMED = ["truncated_json", "missing_title", "non_utf8", "empty_description", "huge_description"]
FALLBACKS = ["json_ld_only", "dom_only"]


def job_key(index: int) -> str:
    # 16 hex characters like Indeed's; never starting with '9' (the synthetic searches' prefix)
    digest = hashlib.sha1(f"sandbox-{SEED}-{index}".encode()).hexdigest()
    return ("a" + digest[1:16]) if digest[0] == "9" else digest[:16]


def description(rng: random.Random, keyword: str, title: str, company: str) -> str:
    tech = rng.sample(TECH[keyword], 4)
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
    kind = rng.choice(["year", "year", "hour", "month", "estimate", None])
    if kind is None:
        return None
    if kind == "hour":
        low = rng.randrange(35, 70)
        return {"min": low, "max": low + rng.randrange(5, 25), "type": "HOURLY", "estimate": False}
    if kind == "month":
        low = rng.randrange(6, 10) * 1000
        return {"min": low, "max": low + 2000, "type": "MONTHLY", "estimate": False}
    low = rng.randrange(80, 150) * 1000
    return {"min": low, "max": low + rng.randrange(10, 50) * 1000, "type": "YEARLY", "estimate": kind == "estimate"}


def build() -> dict:
    rng = random.Random(SEED)
    postings: list[dict] = []
    searches: dict[str, list[str]] = {k: [] for k in KEYWORDS}
    index = 0

    def new_posting(keyword: str) -> dict:
        nonlocal index
        title = rng.choice(TITLES[keyword])
        company = rng.choice(COMPANIES)
        posting = {
            "job_key": job_key(index),
            "title": title,
            "company": company,
            "location": rng.choice(["Remote", "Remote in United States", "Hybrid remote in Austin, TX"]),
            "remote_type": rng.choice(REMOTE),
            "minutes_ago": rng.randrange(10, 23 * 60),
            "salary": salary(rng),
            "job_types": rng.choice(JOB_TYPES),
            "description_html": description(rng, keyword, title, company),
            "variant": "full",
        }
        if posting["location"].startswith("Hybrid"):
            posting["remote_type"] = "REMOTE_HYBRID"
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
    for keyword in searches:  # Indeed sorts by date; shared postings must not all sit on page 1
        by_key = {p["job_key"]: p for p in postings}
        searches[keyword].sort(key=lambda k: by_key[k]["minutes_ago"])
    # Odd job pages: spread over the keywords, never on shared postings (they are checked apart).
    shared = {k for a, b, _ in SHARED for k in set(searches[a]) & set(searches[b])}
    plain = [p for p in postings if p["job_key"] not in shared]
    for posting, variant in zip(rng.sample(plain, len(MALFORMED) + len(FALLBACKS)), MALFORMED + FALLBACKS):
        posting["variant"] = variant
    return {
        "seed": SEED,
        "location": "remote",
        "postings": postings,
        "searches": searches,
        # search pages (keyword, start) served without the card model: the DOM cards must be read
        "dom_only_search_pages": [["data engineer", 10]],
        # URLs answered with a block page, HTTP 429 or 503 on every other request (odd requests)
        "flaky": [
            {"path": "/jobs", "q": "data analyst", "start": 10, "answer": "captcha"},
            {"path": "/viewjob", "jk": searches["data scientist"][5], "answer": 429},
            {"path": "/viewjob", "jk": searches["data engineer"][2], "answer": 503},
        ],
    }


def main() -> None:
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
