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
from scrapers.indeed.sandbox import load_day as _load_day

from .conftest import FIXTURES
from .fixtures.make_fixtures import FIXTURE_DAY

BASE = "https://www.indeed.com"
PERIODS = {"HOURLY": "hour", "MONTHLY": "month", "YEARLY": "year"}


def load_day() -> dict:
    """The sandbox day the saved pages of tests/indeed/fixtures were made from."""
    return _load_day(FIXTURE_DAY)


def expected_salary(salary: dict | None) -> tuple:
    """(min, max, period, currency, estimate) the parser must read for a sandbox salary."""
    if not salary:
        return (None, None, None, None, None)
    return (salary["min"], salary["max"], PERIODS[salary["type"]], "USD", salary["estimate"])


def salary_of(record: dict) -> tuple:
    if record.get("salary_min") is None and record.get("salary_max") is None:
        return (None, None, None, None, None)
    return tuple(record.get(k) for k in ("salary_min", "salary_max", "salary_period", "salary_currency",
                                         "salary_is_estimate"))


def page(name: str) -> str:
    return decode_body((FIXTURES / name).read_bytes())


def job_url(key: str) -> str:
    return f"{BASE}/viewjob?jk={key}"


def test_search_page_model_gives_every_card_and_the_total():
    day = load_day()
    result = parse_search_page(page("search_model.html"), BASE)
    assert result.source == "model" and result.total == 23 and not result.skipped
    ads = day["ads"]["data scientist"]
    assert [c["job_key"] for c in result.cards] == ads + day["searches"]["data scientist"][:10]
    assert [c["sponsored"] for c in result.cards] == [True, True] + [False] * 10
    assert [c["position"] for c in result.cards] == list(range(12))
    by_key = {p["job_key"]: p for p in day["postings"] + day["stale_ads"]}
    for card in result.cards:
        posting = by_key[card["job_key"]]
        assert card["title"] == posting["title"] and card["company"] == posting["company"]
        assert card["url"] == job_url(card["job_key"])
        assert card["posted_at"].tzinfo == dt.timezone.utc
        remote = {"REMOTE_ALWAYS": True, "REMOTE_HYBRID": False, None: None}[posting["remote_type"]]
        assert card["is_remote"] is remote
        assert card["job_types"] == posting["job_types"]
        # "From $X" (max -1) and "Up to $X" (min 0) leave the open end empty; an estimate's currency
        # is the site's, never the card's salarySnippet.currency ("" or "INR" on estimate cards)
        assert salary_of(card) == expected_salary(posting["salary"]), card["job_key"]
        assert card["odd_fields"] == []


def test_model_is_decoded_whole_even_with_a_closing_brace_semicolon_inside_a_string():
    text = page("search_model.html")
    assert '};' in text[text.index(MOSAIC_MARKER):text.index("mosaic-provider-reportcontent")][:-60]
    model = extract_js_object(text, MOSAIC_MARKER)
    assert len(model["metaData"]["mosaicProviderJobCardsModel"]["results"]) == 12  # 10 organic + 2 sponsored
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
    assert not any(c["sponsored"] for c in result.cards)
    assert all(c["title"] and c["company"] and c["location"] for c in result.cards)


def test_no_results_page_is_empty_but_a_page_without_cards_is_an_error():
    empty = parse_search_page(page("search_no_results.html"), BASE)
    assert empty.cards == [] and empty.total == 0
    with pytest.raises(PageError, match="no usable job-cards model"):
        parse_search_page("<html><body><div>Something else entirely</div></body></html>", BASE)


def test_capped_search_reports_the_real_total():
    result = parse_search_page(page("search_capped.html"), BASE)
    assert result.total == 25000 and len(result.cards) == 10


def test_cloudflare_challenge_is_recognised_by_its_header_whatever_the_status():
    from scrapers.indeed.parsing import challenge_reason

    for status in (403, 429, 503):
        assert "cf-mitigated: challenge" in challenge_reason(status, {"cf-mitigated": "challenge"}, "<html></html>")
    assert challenge_reason(403, {"cf-mitigated": b"challenge"})
    assert challenge_reason(403, {}, page("cloudflare_block.html")).startswith("block page")
    assert challenge_reason(200, {"server": "cloudflare"}, page("job_model.html")) is None


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
    data = extract_js_object(text, "window._initialData")
    key = data["jobKey"]
    # where real pages put the pay: the top level, the header's salary fields null
    assert data["salaryInfoModel"] and data["jobInfoWrapperModel"]["jobInfoModel"]["jobInfoHeaderModel"]["salaryMin"] is None
    posting = parse_job_page(text, job_url(key))
    source = {p["job_key"]: p for p in day["postings"]}[key]
    assert posting["parsed_from"] == "model"
    assert posting["job_key"] == key and posting["title"] == source["title"]
    assert posting["company"] == source["company"] and posting["location"] == source["location"]
    assert salary_of(posting) == expected_salary(source["salary"])
    assert posting["job_types"] == source["job_types"] and posting["odd_fields"] == []
    # plain text with paragraph and list breaks kept
    text_ = posting["description_text"]
    assert "\n\n" in text_ and "\n- " in text_ and "<" not in text_.replace("<code>", "")
    assert text_.startswith(f"About {source['company']}")


def _variant(name: str) -> dict:
    return next(p for p in load_day()["postings"] if p["variant"] == name)


def test_job_page_json_ld_fallback():
    source = _variant("json_ld_only")
    posting = parse_job_page(page("job_json_ld_only.html"), job_url(source["job_key"]))
    assert posting["parsed_from"] == "json-ld"
    assert posting["title"] == source["title"] and posting["company"] == source["company"]
    assert posting["posted_at"].tzinfo == dt.timezone.utc
    if source["salary"] and not source["salary"]["estimate"]:  # JSON-LD carries only published pay
        assert salary_of(posting) == expected_salary(source["salary"])
    assert "\n- " in posting["description_text"]


def test_job_page_dom_fallback():
    source = _variant("dom_only")
    posting = parse_job_page(page("job_dom_only.html"), job_url(source["job_key"]))
    assert posting["parsed_from"] == "dom"
    assert posting["title"] == source["title"]  # the " - job post" suffix is not part of it
    assert posting["company"] == source["company"] and posting["location"] == source["location"]
    if source["salary"] and not source["salary"]["estimate"]:
        assert salary_of(posting) == expected_salary(source["salary"])
    assert posting["description_text"].count("\n- ") >= 3


def test_description_as_an_object_with_content_is_read():
    """The embedded mobile page carries ``sanitizedJobDescription`` as ``{"content": html}``."""
    source = _variant("description_object")
    text = page("job_description_object.html")
    assert isinstance(extract_js_object(text, "window._initialData")["jobInfoWrapperModel"]["jobInfoModel"]
                      ["sanitizedJobDescription"], dict)
    posting = parse_job_page(text, job_url(source["job_key"]))
    assert posting["parsed_from"] == "model" and posting["description_html"] == source["description_html"]


def _job_model_page(edit) -> str:
    data = extract_js_object(page("job_model.html"), "window._initialData")
    edit(data, data["jobInfoWrapperModel"]["jobInfoModel"])
    return f"<html><body><script>window._initialData={json.dumps(data)};</script></body></html>"


@pytest.mark.parametrize("edit, reason", [
    (lambda d, i: i.update(sanitizedJobDescription=["<p>a list</p>"]), "unexpected shape: jobInfoModel.sanitizedJobDescription is a list"),
    (lambda d, i: i.update(sanitizedJobDescription={"content": {"html": "x"}}), "unexpected shape: jobInfoModel.sanitizedJobDescription.content is a dict"),
    (lambda d, i: i["jobInfoHeaderModel"].update(jobTitle={"text": "Data Engineer"}), "unexpected shape: jobInfoHeaderModel.jobTitle is a dict"),
    (lambda d, i: d["jobInfoWrapperModel"].update(jobInfoModel=["not", "a", "model"]), "_initialData has no jobInfoWrapperModel.jobInfoModel"),
])
def test_required_fields_of_an_unexpected_shape_are_refused_with_their_path(edit, reason):
    with pytest.raises(PageError) as caught:
        parse_job_page(_job_model_page(edit), job_url("0123456789abcdef"))
    assert caught.value.reason.startswith(reason)


def test_optional_fields_of_an_unexpected_shape_are_left_empty_and_named():
    def edit(data, info):
        info["jobInfoHeaderModel"].update(companyName={"name": "Acme"}, remoteWorkModel="REMOTE")
        data["salaryInfoModel"] = "$50 an hour"
        data["salaryGuideModel"] = {"country": "US", "estimatedSalaryModel": {"min": "lots", "max": 90000, "type": "YEARLY"}}

    posting = parse_job_page(_job_model_page(edit), job_url("0123456789abcdef"))
    assert posting["company"] is None  # the object is not turned into text
    assert set(posting["odd_fields"]) >= {"jobInfoHeaderModel.companyName: dict", "salaryInfoModel: str",
                                          "jobInfoHeaderModel.remoteWorkModel: str",
                                          "salaryGuideModel.estimatedSalaryModel.min: str"}
    # the estimate's readable end is kept, in the currency of salaryGuideModel.country
    assert salary_of(posting) == (None, 90000, "year", "USD", True)


def test_cards_of_an_unexpected_shape_are_skipped_with_a_reason_and_the_others_kept():
    text = page("search_model.html")
    model = extract_js_object(text, MOSAIC_MARKER)
    results = model["metaData"]["mosaicProviderJobCardsModel"]["results"]
    results[2]["jobkey"] = {"id": 1}
    results[3]["displayTitle"] = ["a", "list"]
    results[3]["title"] = None
    results[4]["company"] = {"name": "x"}
    results[4]["extractedSalary"] = "lots"
    results[5] = "not a card"
    rebuilt = f'<html><body><script>{MOSAIC_MARKER}={json.dumps(model)};</script></body></html>'
    parsed = parse_search_page(rebuilt, BASE)
    assert len(parsed.cards) == len(results) - 3
    assert parsed.skipped[:3] == ["card 2 has no jobkey", f"card {results[3]['jobkey']} has no title", "card 5 is not an object"]
    odd = next(c for c in parsed.cards if c["job_key"] == results[4]["jobkey"])
    assert odd["company"] is None and set(odd["odd_fields"]) >= {"company: dict", "extractedSalary: str"}


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
