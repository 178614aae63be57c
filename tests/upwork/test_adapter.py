"""The adapter: both search shapes give the same raw record; both details shapes the same row."""

from __future__ import annotations

import datetime as dt

import pytest

from scrapers.upwork.adapter import (ShapeError, fallback_details_to_client, fast_details_to_client,
                                     official_node_to_raw, validate_raw, visitor_result_to_raw)
from scrapers.upwork.sandbox import DayOptions, SandboxDay

NOW = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def day():
    return SandboxDay(DayOptions(day=dt.date(2026, 11, 20), jobs=30, arrivals=0, late_arrivals=0, before=0,
                                 malformed_rate=0))


def test_visitor_and_official_shapes_give_the_same_record(day):
    for job in day.visible:
        visitor = validate_raw(visitor_result_to_raw(day.visitor_result(job), NOW))
        official = validate_raw(official_node_to_raw(day.official_node(job), NOW))
        assert visitor == official
        assert visitor.id == job.id and abs(visitor.published_at - job.published) < dt.timedelta(milliseconds=1)
        assert visitor.job_type in ("hourly", "fixed") and visitor.skills and visitor.client_country
        assert (visitor.fixed_budget is None) == (visitor.job_type == "hourly")


def test_fast_and_fallback_details_give_the_same_row(day):
    job = day.visible[0]
    info, verified = day.buyer(job)
    fast = fast_details_to_client({"data": {"jobPubDetails": {"buyer": info, "buyerExtra": {"isPaymentMethodVerified": verified}}}})
    slow = fallback_details_to_client({"data": {"jobAuthDetails": {"buyer": {"isPaymentMethodVerified": verified, "info": info}}}})
    assert fast == slow
    assert fast["jobs_posted"] == info["jobs"]["postedCount"]
    assert fast["total_spent"] == info["stats"]["totalCharges"]["amount"]
    assert fast["member_since"] == dt.date.fromisoformat(info["company"]["contractDate"][:10])
    assert fast["hire_rate"] == round(info["stats"]["totalJobsWithHires"] / info["jobs"]["postedCount"], 4)


@pytest.mark.parametrize("body, reason", [
    ({"errors": [{"message": "ExecutionAborted"}], "data": {"jobPubDetails": None}}, "ExecutionAborted"),
    ({"data": {"jobPubDetails": {"buyer": {"location": {"country": "X"}}}}}, "no buyer statistics"),
    ({"data": {"jobPubDetails": {"buyer": {"stats": {"totalCharges": {"amount": "lots"}}, "jobs": {}}}}}, "not a number"),
])
def test_unusable_details_raise_with_a_reason(body, reason):
    with pytest.raises(ShapeError, match=reason):
        fast_details_to_client(body)


def test_malformed_search_results_raise_with_a_reason(day):
    result = day.visitor_result(day.visible[1])
    result["jobTile"]["job"]["jobType"] = "WEEKLY"
    with pytest.raises(ShapeError, match="unknown job type"):
        visitor_result_to_raw(result, NOW)
    result = day.visitor_result(day.visible[1])
    result["title"] = None
    with pytest.raises(ShapeError, match="title"):
        validate_raw(visitor_result_to_raw(result, NOW))
    with pytest.raises(ShapeError, match="not an object"):
        visitor_result_to_raw(["not", "a", "job"], NOW)
