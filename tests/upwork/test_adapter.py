"""The adapter: both search shapes give the same raw record (the official node has more); the
details shapes give the same row."""

from __future__ import annotations

import datetime as dt

import pytest

from scrapers.upwork.adapter import (ShapeError, fallback_details_to_client, fast_details_to_client,
                                     official_client_to_row, official_node_to_raw, rest_details_to_client,
                                     validate_raw, visitor_result_to_raw)
from scrapers.upwork.sandbox import DayOptions, SandboxDay

NOW = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.timezone.utc)


def served(result: dict) -> dict:
    """A sandbox result as the visitor search serves it to the client's document (a visitor
    token: only the fields the document asks for, under its aliases)."""
    from scrapers.upwork import sandbox_graphql
    from scrapers.upwork.api import VISITOR_SEARCH_QUERY

    root = {"search": {"universalSearchNuxt": {"visitorJobSearchV1": lambda info, request: {"results": [result]}}}}
    answer = sandbox_graphql.run("visitor", {"query": VISITOR_SEARCH_QUERY, "variables": {"requestVariables": {}}},
                                 "visitor", root)
    assert "errors" not in answer, answer
    return answer["data"]["search"]["universalSearchNuxt"]["visitorJobSearchV1"]["results"][0]


@pytest.fixture(scope="module")
def day():
    return SandboxDay(DayOptions(day=dt.date(2026, 11, 20), jobs=30, arrivals=0, late_arrivals=0, before=0,
                                 malformed_rate=0))


# Only on the official node: the visitor search has no category or duration, and its client
# block is login-gated (a visitor token may not ask for it).
OFFICIAL_ONLY = {"category", "duration", "client_country"}


def test_visitor_and_official_shapes_give_the_same_record(day):
    for job in day.visible:
        visitor = validate_raw(visitor_result_to_raw(served(day.visitor_result(job)), NOW))
        official = validate_raw(official_node_to_raw(day.official_node(job), NOW))
        assert visitor.model_dump(exclude=OFFICIAL_ONLY) == official.model_dump(exclude=OFFICIAL_ONLY)
        assert visitor.category is visitor.client_country is None and official.category and official.client_country
        assert visitor.id == job.id and abs(visitor.published_at - job.published) < dt.timedelta(milliseconds=1)
        assert visitor.job_type in ("hourly", "fixed") and visitor.skills
        # the node has no job type: a fixed price has an amount above zero
        assert (visitor.fixed_budget is None) == (visitor.job_type == "hourly")


def test_the_official_node_carries_the_clients_statistics(day):
    job = day.visible[0]
    info, verified = day.buyer(job)
    row = official_client_to_row(day.official_node(job))
    assert row["jobs_posted"] == info["jobs"]["postedCount"] and row["total_spent"] == info["stats"]["totalCharges"]["amount"]
    assert row["payment_verified"] is verified and row["client_country"] == info["location"]["country"]
    assert row["rating"] == info["stats"]["score"] and row["reviews_count"] == info["stats"]["feedbackCount"]
    with pytest.raises(ShapeError, match="no client block"):
        official_client_to_row({"id": "1"})


def test_rest_graphql_and_fallback_details_give_the_same_row(day):
    job = day.visible[0]
    info, verified = day.buyer(job)
    rest = rest_details_to_client({"buyer": info})
    fast = fast_details_to_client({"data": {"jobPubDetails": {"buyer": info, "buyerExtra": {"isPaymentMethodVerified": verified}}}})
    slow = fallback_details_to_client({"data": {"jobAuthDetails": {"buyer": {"isPaymentMethodVerified": verified, "info": info}}}})
    assert fast == slow
    assert rest == fast | {"payment_verified": None}  # the REST answer has no payment flag
    # the earlier system's model: totalCharges and avgHourlyJobsRate as {amount} or a bare number
    bare = {**info, "stats": {**info["stats"], "totalCharges": info["stats"]["totalCharges"]["amount"]},
            "avgHourlyJobsRate": info["avgHourlyJobsRate"]["amount"]}
    assert rest_details_to_client({"buyer": bare}) == rest
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
