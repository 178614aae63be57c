"""The sandboxes publish new postings every date, the same ones for a date every time, with a
technology mix that drifts over weeks; a past date is collected from a sandbox, not from a real site."""

from __future__ import annotations

import datetime as dt

from scrapers import sandbox_trends
from scrapers.indeed.sandbox_data.generate import build
from scrapers.upwork.sandbox import TECH, DayOptions, SandboxDay

D1, D2 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)


def test_indeed_sandbox_new_postings_every_date_stable_per_date():
    first, second = build(D1), build(D2)
    keys = lambda day: {p["job_key"] for p in day["postings"]}  # noqa: E731
    assert not keys(first) & keys(second)
    build.cache_clear()
    assert build(D1) == first  # a re-run of a date sees the same day


def test_upwork_sandbox_new_jobs_every_date_stable_per_date():
    def day(date):
        sandbox = SandboxDay(DayOptions(day=date, jobs=200, arrivals=0, late_arrivals=0, before=0))
        return {job.id: sandbox.visitor_result(job)["title"] for job in sandbox.visible}

    first = day(D1)
    assert not set(first) & set(day(D2))
    assert day(D1) == first


def test_the_technology_mix_drifts_over_weeks_but_not_from_one_day_to_the_next():
    def shares(date):
        weights = sandbox_trends.weights(TECH, date)
        return {name: w / sum(weights) for name, w in zip(TECH, weights)}

    day, next_day, month_later = shares(D1), shares(D2), shares(D1 + dt.timedelta(days=28))
    moved = [t for t in TECH if abs(month_later[t] / day[t] - 1) > 0.5]
    assert len(moved) >= 5, "a month must show risers and fallers"
    assert max(abs(next_day[t] / day[t] - 1) for t in TECH) < 0.25  # smooth day to day
    assert max(day.values()) < 0.15  # no technology takes over


def test_a_past_date_is_collected_from_a_sandbox_serving_it_and_skipped_otherwise(monkeypatch, warehouse):
    import pytest
    from airflow.sdk.exceptions import AirflowSkipException

    from jobreqs import sandboxes
    from jobreqs.pipeline import RunContext, skip_collection

    past = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=20)
    ctx = RunContext(run_id="t", day=past)
    for key in ("AIRFLOW_CONN_UPWORK_API", "JOBREQS_UPWORK_BASE_URL", "JOBREQS_INDEED_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    with sandboxes.serving(past):
        for source, stage in (("indeed", "scrape_indeed"), ("upwork", "upwork_fetch")):
            assert sandboxes.serves(source, past)
            skip_collection(ctx, source, stage)  # no skip: the sandbox serves that date
    with sandboxes.serving(past + dt.timedelta(days=1)):  # a sandbox of another date: not collected
        with pytest.raises(AirflowSkipException, match="serves other dates"):
            skip_collection(ctx, "indeed", "scrape_indeed")
    # yesterday, under the sandboxes `jobreqs ui` serves (today's): not collected from them either
    today = dt.datetime.now(dt.timezone.utc).date()
    with sandboxes.serving(today):
        yesterday = RunContext(run_id="t", day=today - dt.timedelta(days=1))
        for source, stage in (("indeed", "scrape_indeed"), ("upwork", "upwork_fetch")):
            with pytest.raises(AirflowSkipException, match="serves other dates"):
                skip_collection(yesterday, source, stage)
    monkeypatch.setenv("JOBREQS_INDEED_BASE_URL", "https://www.indeed.com")
    with pytest.raises(AirflowSkipException, match="cannot be collected again"):  # a real site
        skip_collection(ctx, "indeed", "scrape_indeed")
    with pytest.raises(AirflowSkipException):  # Upwork not configured: not a sandbox
        skip_collection(ctx, "upwork", "upwork_fetch")
