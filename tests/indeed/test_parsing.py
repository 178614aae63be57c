"""Parser unit tests on saved Indeed pages of both kinds and every fallback."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobreqs.schemas import IndeedRawPosting
from scrapers.indeed.parsing import (
    MAX_DESCRIPTION_BYTES,
    MOSAIC_MARKER,
    PageError,
    block_reason,
    decode_body,
    extract_js_object,
    merge_card,
    page_kind,
    parse_job_page,
    parse_salary_text,
    parse_search_page,
)
from scrapers.indeed.sandbox import load_day

from .conftest import FIXTURES

BASE = "https://www.indeed.com"


def page(name: str) -> str:
    return decode_body((FIXTURES / name).read_bytes())


def job_url(key: str) -> str:
    return f"{BASE}/viewjob?jk={key}"


def test_search_page_model_gives_every_card_and_the_total():
    day = load_day()
    result = parse_search_page(page("search_model.html"), BASE)
    assert result.source == "model" and result.total == 23 and not result.skipped
    assert [c["job_key"] for c in result.cards] == day["searches"]["data scientist"][:10]
    assert [c["position"] for c in result.cards] == list(range(10))
    by_key = {p["job_key"]: p for p in day["postings"]}
    for card in result.cards:
        posting = by_key[card["job_key"]]
        assert card["title"] == posting["title"] and card["company"] == posting["company"]
        assert card["url"] == job_url(card["job_key"])
        assert card["posted_at"].tzinfo == dt.timezone.utc
        assert card["is_remote"] is (posting["remote_type"] == "REMOTE_FULLY")
        assert card["job_types"] == posting["job_types"]
        salary = posting["salary"]
        if salary:
            assert (card["salary_min"], card["salary_max"]) == (salary["min"], salary["max"])
            assert card["salary_is_estimate"] is salary["estimate"]
            assert card["salary_period"] == {"HOURLY": "hour", "MONTHLY": "month", "YEARLY": "year"}[salary["type"]]
        else:
            assert card.get("salary_min") is None


def test_model_is_decoded_whole_even_with_a_closing_brace_semicolon_inside_a_string():
    text = page("search_model.html")
    assert '};' in text[text.index(MOSAIC_MARKER):text.index("mosaic-provider-reportcontent")][:-60]
    model = extract_js_object(text, MOSAIC_MARKER)
    assert len(model["metaData"]["mosaicProviderJobCardsModel"]["results"]) == 10
    # A lazy regex stopping at the first "};" would have cut the object inside a snippet:
    lazy_end = text.index("};", text.index(MOSAIC_MARKER))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text[text.index("{", text.index(MOSAIC_MARKER)):lazy_end + 1])


def test_search_page_without_model_falls_back_to_dom_cards():
    result = parse_search_page(page("search_dom_only.html"), BASE)
    assert result.source == "dom"
    assert "truncated" in result.model_error
    assert result.total == 12
    assert [c["job_key"] for c in result.cards] == load_day()["searches"]["data engineer"][10:]
    assert all(c["title"] and c["company"] and c["location"] for c in result.cards)


def test_no_results_page_is_empty_but_a_page_without_cards_is_an_error():
    empty = parse_search_page(page("search_no_results.html"), BASE)
    assert empty.cards == [] and empty.total == 0
    with pytest.raises(PageError, match="no usable job-cards model"):
        parse_search_page("<html><body><div>Something else entirely</div></body></html>", BASE)


def test_capped_search_reports_the_real_total():
    result = parse_search_page(page("search_capped.html"), BASE)
    assert result.total == 25000 and len(result.cards) == 10


@pytest.mark.parametrize("name", ["captcha.html", "cloudflare_block.html"])
def test_block_pages_are_recognised_never_read_as_no_results(name):
    text = page(name)
    assert block_reason(text)
    with pytest.raises(PageError, match="block page"):
        parse_search_page(text, BASE)
    with pytest.raises(PageError, match="block page"):
        parse_job_page(text, job_url("0123456789abcdef"))


def test_a_description_mentioning_captcha_is_not_a_block_page():
    text = page("job_model.html").replace("equal opportunity employer", "h-captcha and Just a moment...")
    assert block_reason(text) is None


def test_job_page_model():
    day = load_day()
    text = page("job_model.html")
    key = extract_js_object(text, "window._initialData")["jobKey"]
    posting = parse_job_page(text, job_url(key))
    source = {p["job_key"]: p for p in day["postings"]}[key]
    assert posting["parsed_from"] == "model"
    assert posting["job_key"] == key and posting["title"] == source["title"]
    assert posting["company"] == source["company"] and posting["location"] == source["location"]
    assert posting["salary_min"] == source["salary"]["min"] and posting["salary_max"] == source["salary"]["max"]
    assert posting["job_types"] == source["job_types"]
    # plain text with paragraph and list breaks kept
    text_ = posting["description_text"]
    assert "\n\n" in text_ and "\n- " in text_ and "<" not in text_.replace("<code>", "")
    assert text_.startswith(f"About {source['company']}")


def test_job_page_json_ld_fallback():
    posting = parse_job_page(page("job_json_ld_only.html"), job_url("83502d470833913d"))
    assert posting["parsed_from"] == "json-ld"
    assert posting["title"] and posting["company"] and posting["posted_at"].tzinfo == dt.timezone.utc
    assert posting["salary_period"] == "month" and posting["salary_is_estimate"] is False
    assert "\n- " in posting["description_text"]


def test_job_page_dom_fallback():
    posting = parse_job_page(page("job_dom_only.html"), job_url("18e05bef0dd9ee32"))
    assert posting["parsed_from"] == "dom"
    assert posting["title"] == "Data Scientist"  # the " - job post" suffix is not part of it
    assert posting["company"] and posting["location"]
    assert posting["salary_period"] == "year" and posting["salary_min"] == 127000
    assert posting["description_text"].count("\n- ") >= 3


def test_broken_model_is_rescued_by_a_fallback():
    text = page("job_model.html").replace('"jobTitle":', '"jobTitleGone":')
    posting = parse_job_page(text, job_url("x"))
    assert posting["parsed_from"] == "json-ld"


@pytest.mark.parametrize("name, reason", [
    ("job_truncated_json.html", "truncated or invalid embedded JSON"),
    ("job_missing_title.html", "missing field: jobInfoHeaderModel.jobTitle"),
    ("job_empty_description.html", "empty description"),
])
def test_malformed_job_pages_raise_with_their_reason(name, reason):
    with pytest.raises(PageError) as caught:
        parse_job_page(page(name), job_url("0123456789abcdef"))
    assert caught.value.reason.startswith(reason)


def test_non_utf8_bytes_are_reported_with_their_offset():
    raw = (FIXTURES / "job_non_utf8.html").read_bytes()
    with pytest.raises(PageError, match=r"non-UTF-8 bytes at offset \d+"):
        decode_body(raw)


def test_huge_description_is_refused():
    text = page("job_model.html")
    huge = "<p>" + "x" * (MAX_DESCRIPTION_BYTES + 10) + "</p>"
    data = extract_js_object(text, "window._initialData")
    data["jobInfoWrapperModel"]["jobInfoModel"]["sanitizedJobDescription"] = huge
    rebuilt = f"<html><body><script>window._initialData={json.dumps(data)};</script></body></html>"
    with pytest.raises(PageError, match="description too large"):
        parse_job_page(rebuilt, job_url("x"))


@pytest.mark.parametrize("text, expected", [
    ("$50 - $60 an hour", (50, 60, "hour", "USD")),
    ("$110,000 - $140,000 a year", (110000, 140000, "year", "USD")),
    ("From $95K a year", (95000, None, "year", "USD")),
    ("Up to £30 per hour", (None, 30, "hour", "GBP")),
    ("€4,000 a month", (4000, 4000, "month", "EUR")),
    ("Competitive", None),
])
def test_salary_text_kept_as_published(text, expected):
    parsed = parse_salary_text(text)
    if expected is None:
        assert parsed == {}
    else:
        assert (parsed["salary_min"], parsed["salary_max"], parsed["salary_period"], parsed["salary_currency"]) == expected


def test_page_kind():
    assert page_kind(page("search_model.html")) == "search"
    assert page_kind(page("search_dom_only.html")) == "search"
    assert page_kind(page("job_model.html")) == "job"
    assert page_kind(page("job_dom_only.html")) == "job"


def test_card_and_job_page_merge_into_a_valid_raw_record():
    card = parse_search_page(page("search_dom_only.html"), BASE).cards[0]
    posting = merge_card(parse_job_page(page("job_dom_only.html"), card["url"]), {**card, "posted_at": dt.datetime(2026, 11, 18, tzinfo=dt.timezone.utc)})
    posting.pop("parsed_from")
    record = {k: v for k, v in posting.items() if k in IndeedRawPosting.model_fields}
    record.update(job_key=card["job_key"], keywords=["data engineer"], search_location="remote", page=1,
                  position=0, scraped_at=dt.datetime.now(dt.timezone.utc))
    validated = IndeedRawPosting.model_validate(record)
    assert validated.posted_at == dt.datetime(2026, 11, 18, tzinfo=dt.timezone.utc)
