"""The API's shapes into the project's records: one place that knows where each field lives.

Two search shapes give one ``UpworkRawJob``:
- the visitor search (``data.search.universalSearchNuxt.visitorJobSearchV1.results[]``): no
  category, duration or client country there (the client block is login-gated);
- the official GraphQL API (``data.marketplaceJobPostingsSearch.edges[].node``): no job type on the
  node (``amount`` > 0 means a fixed price), the client's statistics on the node
  (``official_client_to_row``), so enrichment rides on the search.

Three job-details shapes give one ``upwork_clients`` row:
- the visitor REST details (the fast path: ``buyer.location``, ``buyer.stats``, ``buyer.jobs``,
  ``buyer.company.contractDate``, ``buyer.avgHourlyJobsRate``; ``totalCharges`` and
  ``avgHourlyJobsRate`` as ``{amount}`` or a bare number);
- ``data.jobPubDetails`` (the same buyer fields, ``buyerExtra``);
- the fallback ``data.jobAuthDetails`` (the same buyer fields under ``buyer.info``).

A payload that lacks what a record needs raises ``ShapeError`` with a reason, which the caller
quarantines (search) or records as the job's last error (details).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from jobreqs.schemas import UpworkRawJob

JOB_URL = "https://www.upwork.com/jobs/{ciphertext}"
#: The columns of an ``upwork_clients`` row, as every details shape gives them.
CLIENT_COLUMNS = ("client_country", "client_city", "member_since", "jobs_posted", "open_jobs", "total_spent",
                  "total_hires", "active_hires", "avg_hourly_rate_paid", "total_paid_hours", "payment_verified",
                  "rating", "reviews_count", "hire_rate")


class ShapeError(ValueError):
    """A payload without the fields a record needs; the message is the reason."""


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):  # {"amount": ...} or {"rawValue": ...}
        value = value.get("amount", value.get("rawValue"))
        if value is None or value == "":
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ShapeError(f"not a number: {value!r}") from None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _label(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("label") or value.get("prefLabel") or value.get("name")
    if value is None:
        return None
    return str(value).strip() or None


def _tier(value: Any) -> str | None:
    """``EntryLevel`` / ``INTERMEDIATE`` / ``EXPERT_LEVEL`` -> ``entry`` / ``intermediate`` / ``expert``."""
    if not value:
        return None
    text = str(value).lower().replace("_", "").replace("level", "")
    return {"entry": "entry", "intermediate": "intermediate", "expert": "expert"}.get(text, text)


def _job_type(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).lower()
    if text in ("hourly", "fixed"):
        return text
    raise ShapeError(f"unknown job type {value!r}")


def visitor_result_to_raw(result: dict, fetched_at: dt.datetime) -> dict:
    """One ``visitorJobSearchV1`` result as an ``UpworkRawJob`` dict (not yet validated)."""
    if not isinstance(result, dict):
        raise ShapeError("search result is not an object")
    job = _get(result, "jobTile", "job") or {}
    if not isinstance(job, dict):
        raise ShapeError("jobTile.job is not an object")
    job_type = _job_type(job.get("jobType"))
    fixed = job.get("fixedPriceAmount") or {}
    ciphertext = job.get("ciphertext") or job.get("cipherText")
    duration = job.get("hourlyEngagementDuration") or job.get("fixedPriceEngagementDuration")
    return {
        "id": str(result.get("id") or job.get("id") or ""),
        "ciphertext": ciphertext,
        "url": JOB_URL.format(ciphertext=ciphertext) if ciphertext else None,
        "title": result.get("title") or "",
        "description": result.get("description") or "",
        "skills": [s["prefLabel"] for s in result.get("ontologySkills") or [] if isinstance(s, dict) and s.get("prefLabel")],
        "published_at": job.get("publishTime"),
        "job_type": job_type,
        "hourly_min": _number(job.get("hourlyBudgetMin")) if job_type == "hourly" else None,
        "hourly_max": _number(job.get("hourlyBudgetMax")) if job_type == "hourly" else None,
        "fixed_budget": _number(fixed.get("amount")) if job_type == "fixed" else None,
        "currency": (fixed.get("isoCurrencyCode") if isinstance(fixed, dict) else None) or "USD",
        "experience_level": _tier(job.get("contractorTier")),
        "duration": _label(duration) or _label(job.get("engagement")),
        "category": _label(_get(result, "occupations", "category")),
        "client_country": _label(_get(result, "upworkHistoryData", "client", "country")),
        "fetched_at": fetched_at,
    }


def official_job_type(node: dict) -> str:
    """The node has no job type: a fixed price has an ``amount`` above zero, an hourly job none."""
    amount = _number(node.get("amount"))
    if amount is not None and amount < 0:
        raise ShapeError(f"negative amount {amount}")
    return "fixed" if amount else "hourly"


def official_node_to_raw(node: dict, fetched_at: dt.datetime) -> dict:
    """One official ``marketplaceJobPostingsSearch`` node as an ``UpworkRawJob`` dict."""
    if not isinstance(node, dict):
        raise ShapeError("search node is not an object")
    job_type = official_job_type(node)
    amount = node.get("amount") or {}
    ciphertext = node.get("ciphertext")
    return {
        "id": str(node.get("id") or ""),
        "ciphertext": ciphertext,
        "url": JOB_URL.format(ciphertext=ciphertext) if ciphertext else None,
        "title": node.get("title") or "",
        "description": node.get("description") or "",
        "skills": [s.get("prettyName") or s.get("name") for s in node.get("skills") or []
                   if isinstance(s, dict) and (s.get("prettyName") or s.get("name"))],
        "published_at": node.get("publishedDateTime") or node.get("createdDateTime"),
        "job_type": job_type,
        "hourly_min": _number(node.get("hourlyBudgetMin")) if job_type == "hourly" else None,
        "hourly_max": _number(node.get("hourlyBudgetMax")) if job_type == "hourly" else None,
        "fixed_budget": _number(amount) if job_type == "fixed" else None,
        "currency": (amount.get("currency") if isinstance(amount, dict) else None) or "USD",
        "experience_level": _tier(node.get("experienceLevel")),
        "duration": _label(node.get("durationLabel") or node.get("engagementDuration")),
        "category": _label(node.get("category")),
        "client_country": _label(_get(node, "client", "location", "country")),
        "fetched_at": fetched_at,
    }


def validate_raw(record: dict) -> UpworkRawJob:
    """The record as an ``UpworkRawJob``, or ``ShapeError`` naming the first problems."""
    try:
        return UpworkRawJob.model_validate(record)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in errors[:5])
        raise ShapeError(f"invalid upwork record: {reason}") from None


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ShapeError(f"not a date: {value!r}") from None


def _client_row(info: dict, verified: Any) -> dict:
    stats = info.get("stats")
    jobs = info.get("jobs")
    if not isinstance(stats, dict) or not isinstance(jobs, dict):
        raise ShapeError("job details carry no buyer statistics")
    posted = _int(jobs.get("postedCount"))
    with_hires = _int(stats.get("totalJobsWithHires"))
    return {
        "client_country": _label(_get(info, "location", "country")),
        "client_city": _label(_get(info, "location", "city")),
        "member_since": _date(_get(info, "company", "contractDate")),
        "jobs_posted": posted,
        "open_jobs": _int(jobs.get("openCount")),
        "total_spent": _number(stats.get("totalCharges")),
        "total_hires": _int(stats.get("totalAssignments")),
        "active_hires": _int(stats.get("activeAssignmentsCount")),
        "avg_hourly_rate_paid": _number(info.get("avgHourlyJobsRate")),
        "total_paid_hours": _number(stats.get("hoursCount")),
        "payment_verified": None if verified is None else bool(verified),
        "rating": _number(stats.get("score")),
        "reviews_count": _int(stats.get("feedbackCount")),
        "hire_rate": round(with_hires / posted, 4) if posted and with_hires is not None else None,
    }


def official_client_to_row(node: dict) -> dict:
    """The official search node's ``client`` block as an ``upwork_clients`` row (what the node
    lacks, such as open jobs or hours paid, stays empty)."""
    client = node.get("client") if isinstance(node, dict) else None
    if not isinstance(client, dict):
        raise ShapeError("search node has no client block")
    status = client.get("verificationStatus")
    return {
        "client_country": _label(_get(client, "location", "country")),
        "client_city": _label(_get(client, "location", "city")),
        "member_since": _date(client.get("memberSinceDateTime")),
        "jobs_posted": _int(client.get("totalPostedJobs")),
        "open_jobs": None,
        "total_spent": _number(client.get("totalSpent")),
        "total_hires": _int(client.get("totalHires")),
        "active_hires": None,
        "avg_hourly_rate_paid": None,
        "total_paid_hours": None,
        "payment_verified": None if status is None else status == "VERIFIED",
        "rating": _number(client.get("totalFeedback")),
        "reviews_count": _int(client.get("totalReviews")),
        "hire_rate": None,
    }


def rest_details_to_client(body: dict) -> dict:
    """The visitor job-details REST answer (``{"buyer": {...}}``) as an ``upwork_clients`` row."""
    buyer = body.get("buyer") if isinstance(body, dict) else None
    if not isinstance(buyer, dict):
        raise ShapeError("job details have no buyer")
    return _client_row(buyer, buyer.get("isPaymentMethodVerified"))


def fast_details_to_client(body: dict) -> dict:
    """A ``jobPubDetails`` answer as an ``upwork_clients`` row (without job id / enriched_at)."""
    details = _get(body, "data", "jobPubDetails")
    if not isinstance(details, dict) or not isinstance(details.get("buyer"), dict):
        raise ShapeError(_errors(body) or "jobPubDetails has no buyer")
    return _client_row(details["buyer"], _get(details, "buyerExtra", "isPaymentMethodVerified"))


def fallback_details_to_client(body: dict) -> dict:
    """A ``jobAuthDetails`` answer as an ``upwork_clients`` row (without job id / enriched_at)."""
    buyer = _get(body, "data", "jobAuthDetails", "buyer")
    if not isinstance(buyer, dict) or not isinstance(buyer.get("info"), dict):
        raise ShapeError(_errors(body) or "jobAuthDetails has no buyer")
    return _client_row(buyer["info"], buyer.get("isPaymentMethodVerified"))


def _errors(body: Any) -> str | None:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return None
    messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3]]
    return "graphql error: " + "; ".join(messages)
