"""The records that cross stage boundaries, declared once.

``IndeedRawPosting`` and ``UpworkRawJob`` are what the scrapers write to ``raw/<source>/dt=D/`` and
what ``normalise`` reads back; a raw line that does not validate is quarantined with the
validation error as its reason. ``Posting`` is the common schema every later stage works on.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SalaryPeriod = Literal["hour", "day", "week", "month", "year", "project"]


class _Record(BaseModel):
    # Unknown fields are an error: a scraper and normalise must agree on every field.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value.astimezone(dt.timezone.utc)


class IndeedRawPosting(_Record):
    """One Indeed posting as the spider collected it (issue 3 lists the fields)."""

    job_key: str = Field(min_length=1, max_length=64)
    url: str
    title: str = Field(min_length=1)
    company: str | None = None
    location: str | None = None
    is_remote: bool | None = None
    posted_at: dt.datetime | None = None
    salary_min: float | None = Field(default=None, ge=0)
    salary_max: float | None = Field(default=None, ge=0)
    salary_period: Literal["hour", "day", "week", "month", "year"] | None = None
    salary_currency: str | None = Field(default=None, max_length=3)
    salary_is_estimate: bool = False
    job_types: list[str] = []
    # Found through a sponsored card (an ad) or on a job page marked sponsored.
    sponsored: bool = False
    description_html: str | None = None
    description_text: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    search_location: str | None = None
    page: int | None = Field(default=None, ge=0)
    position: int | None = Field(default=None, ge=0)
    scraped_at: dt.datetime

    _utc_times = field_validator("posted_at", "scraped_at")(_utc)


class UpworkRawJob(_Record):
    """One Upwork job as the search API returned it (issue 4 lists the fields)."""

    id: str = Field(min_length=1)
    ciphertext: str | None = None
    url: str | None = None
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    skills: list[str] = []
    published_at: dt.datetime
    job_type: Literal["hourly", "fixed"] | None = None
    hourly_min: float | None = Field(default=None, ge=0)
    hourly_max: float | None = Field(default=None, ge=0)
    fixed_budget: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default="USD", max_length=3)
    experience_level: str | None = None
    duration: str | None = None
    category: str | None = None
    client_country: str | None = None
    fetched_at: dt.datetime

    _utc_times = field_validator("published_at", "fetched_at")(_utc)


class HNRawComment(_Record):
    """One top-level comment of a Hacker News "Who is hiring?" thread (``scrapers.hn.collect``):
    the full text always, the first line's "Company | Role | Location | REMOTE | salary" parsed
    where it follows the convention."""

    id: str = Field(min_length=1, max_length=32)
    thread_id: str = Field(min_length=1)
    thread_title: str
    author: str | None = None
    posted_at: dt.datetime
    text_html: str = Field(min_length=1)
    text: str = Field(min_length=1)
    first_line: str
    company: str | None = None
    role: str | None = None
    location: str | None = None
    is_remote: bool | None = None
    salary_text: str | None = None
    salary_min: float | None = Field(default=None, ge=0)
    salary_max: float | None = Field(default=None, ge=0)
    salary_currency: str | None = Field(default=None, max_length=3)
    salary_period: Literal["hour", "year"] | None = None
    fetched_at: dt.datetime

    _utc_times = field_validator("posted_at", "fetched_at")(_utc)


class AtsRawJob(_Record):
    """One open job of a public Greenhouse, Lever or Ashby job board (``scrapers.ats``), as
    collected on a date; the same job comes again every date it stays open."""

    ats: Literal["greenhouse", "lever", "ashby"]
    board: str = Field(min_length=1)
    id: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1)
    company: str | None = None
    location: str | None = None
    team: str | None = None
    employment_type: str | None = None
    is_remote: bool | None = None
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    url: str = Field(min_length=1)
    description_html: str | None = None
    description_text: str = Field(min_length=1)
    salary_min: float | None = Field(default=None, ge=0)
    salary_max: float | None = Field(default=None, ge=0)
    salary_currency: str | None = Field(default=None, max_length=3)
    salary_period: SalaryPeriod | None = None
    fetched_at: dt.datetime

    _utc_times = field_validator("published_at", "updated_at", "fetched_at")(_utc)


#: Every source a posting can come from (the warehouse's postings.source accepts these).
SOURCES = ("indeed", "upwork", "hn", "greenhouse", "lever", "ashby")
Source = Literal["indeed", "upwork", "hn", "greenhouse", "lever", "ashby"]


class Posting(_Record):
    """A posting in the common schema, whatever its source."""

    source: Source
    source_id: str
    url: str | None = None
    title: str
    company: str | None = None
    location: str | None = None
    is_remote: bool | None = None
    posted_at: dt.datetime | None = None
    posting_date: dt.date
    salary_min: float | None = None
    salary_max: float | None = None
    salary_period: SalaryPeriod | None = None
    salary_currency: str | None = None
    salary_is_estimate: bool | None = None
    job_types: list[str] = []
    skills: list[str] = []
    keywords: list[str] = []
    search_location: str | None = None
    # Plain text; paragraphs separated by a blank line, list items by a line break.
    description_text: str
    content_hash: str
