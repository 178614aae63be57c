"""Greenhouse, Lever and Ashby public job boards: their endpoints, and each job as an ``AtsRawJob``.

The three applicant-tracking systems publish each company's open jobs as JSON, without a key
(docs/sources.md, "Public job boards", gives each contract and where it was seen):

* Greenhouse Job Board API: ``GET {base}/v1/boards/{token}/jobs?content=true`` ->
  ``{"jobs": [{id, internal_job_id, title, updated_at, requisition_id, location: {name},
  absolute_url, content (HTML, entity-escaped), departments, offices, ...}], "meta": {"total"}}``;
* Lever Postings API: ``GET {base}/v0/postings/{company}?mode=json`` -> a list of ``{id, text,
  categories: {location, team, commitment, department?}, createdAt (ms), hostedUrl, applyUrl,
  description, descriptionPlain, lists: [{text, content}], additional(Plain), workplaceType?,
  salaryRange?}``;
* Ashby Posting API: ``GET {base}/posting-api/job-board/{name}?includeCompensation=true`` ->
  ``{"apiVersion", "jobs": [{id, title, department, team, employmentType, location,
  secondaryLocations, publishedAt, isListed, isRemote, jobUrl, applyUrl, descriptionHtml,
  descriptionPlain, compensation?: {summaryComponents: [{compensationType, interval,
  currencyCode, minValue, maxValue}]}}]}``; a job with ``isListed: false`` is not public and is
  skipped.

The boards to read are a list per system: ``"token"`` or ``{"board": "token", "company":
"Display name"}`` (the APIs do not all name the company; the name is what the cross-source
duplicate key compares).
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from transforms.text import html_to_text, normalise_whitespace

ATS = ("greenhouse", "lever", "ashby")
DEFAULT_BASE_URLS = {
    "greenhouse": "https://boards-api.greenhouse.io",
    "lever": "https://api.lever.co",
    "ashby": "https://api.ashbyhq.com",
}
#: The Airflow Variable holding the boards (JSON), the default of the DAG's ``ats_boards`` param.
BOARDS_VARIABLE = "jobreqs_ats_boards"


def base_url(ats: str) -> str:
    return os.environ.get(f"JOBREQS_{ats.upper()}_BASE_URL", DEFAULT_BASE_URLS[ats]).rstrip("/")


@dataclass(frozen=True)
class Board:
    token: str
    company: str

    @classmethod
    def parse(cls, entry) -> Board:
        """``"token"`` or ``{"board": "token", "company": "Name"}``; raises ValueError otherwise."""
        if isinstance(entry, str) and entry.strip():
            token = entry.strip()
            return cls(token, token.replace("-", " ").replace("_", " ").title())
        if isinstance(entry, dict) and isinstance(entry.get("board"), str) and entry["board"].strip():
            token = entry["board"].strip()
            return cls(token, str(entry.get("company") or token).strip())
        raise ValueError(f"not a board: {entry!r} (a token, or {{\"board\": token, \"company\": name}})")


def boards_for(ats: str, config: dict | None) -> list[Board]:
    """The boards of ``ats`` in a boards configuration (``{"greenhouse": [...], ...}``)."""
    if not config:
        return []
    if not isinstance(config, dict):
        raise ValueError(f"ats_boards must be an object of lists per system, not {type(config).__name__}")
    return [Board.parse(entry) for entry in config.get(ats) or []]


def url_for(ats: str, base: str, token: str) -> tuple[str, dict]:
    safe = quote(token, safe="")
    if ats == "greenhouse":
        return f"{base}/v1/boards/{safe}/jobs", {"content": "true"}
    if ats == "lever":
        return f"{base}/v0/postings/{safe}", {"mode": "json"}
    return f"{base}/posting-api/job-board/{safe}", {"includeCompensation": "true"}


def _ms(value) -> str | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc).isoformat() if isinstance(value, (int, float)) else None


def _remote(*texts) -> bool | None:
    joined = " ".join(t for t in texts if isinstance(t, str)).lower()
    if "remote" in joined:
        return True
    if any(w in joined for w in ("onsite", "on-site", "in office", "hybrid")):
        return False
    return None


def _greenhouse(job: dict, board: Board) -> dict:
    content = html.unescape(job.get("content") or "")  # the API escapes the HTML's entities once
    location = (job.get("location") or {}).get("name")
    return {
        "id": str(job.get("id", "")), "title": job.get("title"), "location": location,
        "team": ((job.get("departments") or [{}])[0] or {}).get("name"),
        "employment_type": None, "is_remote": _remote(location),
        "published_at": job.get("first_published") or job.get("updated_at"), "updated_at": job.get("updated_at"),
        "url": job.get("absolute_url"), "description_html": content or None,
        "description_text": html_to_text(content),
    }


_LEVER_PERIOD = {"per-year-salary": "year", "per-month-salary": "month", "per-hour-wage": "hour",
                 "per-week-salary": "week", "per-day-wage": "day"}


def _lever(job: dict, board: Board) -> dict:
    categories = job.get("categories") or {}
    parts = [job.get("descriptionPlain") or html_to_text(job.get("description") or "")]
    for section in job.get("lists") or []:  # requirements and duties live in the lists
        parts.append(f"{section.get('text', '')}\n{html_to_text(section.get('content') or '')}")
    parts.append(job.get("additionalPlain") or html_to_text(job.get("additional") or ""))
    pay = job.get("salaryRange") or {}
    salary = {}
    if isinstance(pay.get("min"), (int, float)) and pay.get("currency"):
        salary = {"salary_min": pay["min"], "salary_max": pay.get("max"), "salary_currency": pay["currency"],
                  "salary_period": _LEVER_PERIOD.get(pay.get("interval"))}
    return {
        "id": str(job.get("id", "")), "title": job.get("text"), "location": categories.get("location"),
        "team": categories.get("team"), "employment_type": categories.get("commitment"),
        "is_remote": (job.get("workplaceType") == "remote") if job.get("workplaceType") not in (None, "unspecified")
        else _remote(categories.get("location")),
        "published_at": _ms(job.get("createdAt")), "updated_at": _ms(job.get("updatedAt")),
        "url": job.get("hostedUrl"), "description_html": job.get("description"),
        "description_text": normalise_whitespace("\n\n".join(p for p in parts if p and p.strip())),
        **salary,
    }


_ASHBY_PERIOD = {"1 YEAR": "year", "1 MONTH": "month", "1 HOUR": "hour", "1 WEEK": "week", "1 DAY": "day"}


def _ashby(job: dict, board: Board) -> dict:
    salary = {}
    for part in ((job.get("compensation") or {}).get("summaryComponents") or []):
        if part.get("compensationType") == "Salary" and isinstance(part.get("minValue"), (int, float)):
            salary = {"salary_min": part["minValue"], "salary_max": part.get("maxValue"),
                      "salary_currency": part.get("currencyCode"), "salary_period": _ASHBY_PERIOD.get(part.get("interval"))}
            break
    return {
        "id": str(job.get("id", "")), "title": job.get("title"), "location": job.get("location"),
        "team": job.get("team") or job.get("department"), "employment_type": job.get("employmentType"),
        "is_remote": job.get("isRemote") if isinstance(job.get("isRemote"), bool) else _remote(job.get("location")),
        "published_at": job.get("publishedAt"), "updated_at": job.get("updatedAt"),
        "url": job.get("jobUrl"), "description_html": job.get("descriptionHtml"),
        "description_text": normalise_whitespace(job.get("descriptionPlain") or html_to_text(job.get("descriptionHtml") or "")),
        **salary,
    }


_MAPPERS: dict[str, Callable[[dict, Board], dict]] = {"greenhouse": _greenhouse, "lever": _lever, "ashby": _ashby}


def jobs_of(ats: str, answer) -> tuple[list, int | None]:
    """The job objects of a board's answer and the total it claims (Greenhouse's ``meta.total``);
    raises ValueError for an answer of the wrong shape."""
    if ats == "lever":
        if not isinstance(answer, list):
            raise ValueError(f"expected a list of postings, got {type(answer).__name__}")
        return answer, None
    if not isinstance(answer, dict) or not isinstance(answer.get("jobs"), list):
        raise ValueError("expected an object with a 'jobs' list")
    total = (answer.get("meta") or {}).get("total") if ats == "greenhouse" else None
    return answer["jobs"], total if isinstance(total, int) else None


def raw_jobs(ats: str, jobs: list, board: Board, fetched_at: dt.datetime) -> Iterator[tuple[dict | None, dict]]:
    """(record, job) per job: the record as ``AtsRawJob`` fields, or None for a job that is not
    public (Ashby's ``isListed: false``) or not an object."""
    for job in jobs:
        if not isinstance(job, dict) or (ats == "ashby" and job.get("isListed") is False):
            yield None, job
            continue
        record = _MAPPERS[ats](job, board)
        record |= {"ats": ats, "board": board.token, "company": board.company,
                   "fetched_at": fetched_at.isoformat()}
        yield record, job
