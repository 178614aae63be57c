"""The Indeed parser against real Indeed data: cards and job-page models saved from indeed.com.

The fixtures (tests/contracts/fixtures/indeed, NPOSL-3.0, from scrapfly/scrapfly-scrapers) hold
the bare card list and scrapfly's flattened job-page model; each test puts them back where the
real page has them (``metaData.mosaicProviderJobCardsModel.results`` of the job-cards script;
``jobInfoWrapperModel.jobInfoModel`` of ``window._initialData``, as scrapfly's parser read them)
and parses the page as the spider would.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from scrapers.indeed.parsing import MOSAIC_MARKER, PageError, parse_job_page, parse_search_page

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "indeed"
BASE = "https://www.indeed.com"
# scrapfly's parse_job_page merged these three children of jobInfoModel into one dict
METADATA_KEYS = {"jobType"}


def real_cards() -> list[dict]:
    cards = json.loads((FIXTURES / "search_cards.json").read_text())
    for card in cards:
        card.pop("_fixture_source_commit", None)  # added by the fixture's author, not Indeed's
    return cards


def search_page_of(cards: list[dict]) -> str:
    model = {"metaData": {"mosaicProviderJobCardsModel": {
        "results": cards, "tierSummaries": [{"jobCount": 120, "tierType": "DEFAULT"}]}}}
    return f"<html><body><script>{MOSAIC_MARKER}={json.dumps(model)};</script></body></html>"


def job_page_of(flat: dict, description) -> str:
    header = {k: v for k, v in flat.items() if k not in METADATA_KEYS | {"description", "_fixture_note"}}
    data = {"jobInfoWrapperModel": {"jobInfoModel": {
        "jobInfoHeaderModel": header,
        "jobMetadataHeaderModel": {k: flat[k] for k in METADATA_KEYS if k in flat},
        "sanitizedJobDescription": description,
    }}}
    return f"<html><body><script>window._initialData={json.dumps(data)};</script></body></html>"


@pytest.fixture(scope="module")
def cards() -> dict[str, dict]:
    page = parse_search_page(search_page_of(real_cards()), BASE)
    assert page.skipped == [] and page.total == 120
    return {card["job_key"]: card for card in page.cards}


def _salary(card: dict) -> tuple:
    return tuple(card.get(k) for k in ("salary_min", "salary_max", "salary_period", "salary_currency",
                                       "salary_is_estimate"))


def test_every_real_card_parses_with_no_field_of_an_unexpected_shape(cards):
    assert len(cards) == 8
    for key, card in cards.items():
        assert card["title"] and card["company"] and card["location"], key
        assert card["url"] == f"{BASE}/viewjob?jk={key}" and card["odd_fields"] == []
        assert card["posted_at"].tzinfo == dt.timezone.utc


@pytest.mark.parametrize("key, expected", [
    ("dac0cd741dbb51bc", (130000, None, "year", "USD", False)),    # "From $130,000 a year": max -1
    ("3cc11f7f0e907522", (None, 42, "hour", "USD", False)),        # "Up to $42 an hour": min 0
    ("7bbf367679b63da8", (148500, 169119.5, "year", "USD", False)),
    ("010092b7057730f8", (90000, 120000, "year", "USD", False)),
    # Indeed's estimates: salarySnippet.currency is "INR" on one US card and "" on the other;
    # the currency is the US site's, never the card's snippet
    ("9de6e6827e329648", (69709.44, 103413.055, "year", "USD", True)),
    ("fca2179770bbae38", (124285.516, 144734.39, "year", "USD", True)),
    ("4d237d7f2c48d80d", (None, None, None, None, None)),            # "$20 per session": no period we know
    ("14e906235c0be8ce", (None, None, None, None, None)),
])
def test_real_salary_shapes(cards, key, expected):
    assert _salary(cards[key]) == expected


def test_an_estimate_on_another_country_site_takes_that_sites_currency_or_none():
    card = next(c for c in real_cards() if c["jobkey"] == "9de6e6827e329648")
    (uk,) = parse_search_page(search_page_of([card]), "https://uk.indeed.com").cards
    assert uk["salary_currency"] is None  # "$" on a GBP site: left empty rather than wrong
    (ca,) = parse_search_page(search_page_of([card]), "https://ca.indeed.com").cards
    assert ca["salary_currency"] == "CAD"


def test_real_sponsored_and_remote_markers(cards):
    sponsored = {k for k, c in cards.items() if c["sponsored"]}
    assert sponsored == {"dac0cd741dbb51bc", "9de6e6827e329648", "7bbf367679b63da8", "14e906235c0be8ce"}
    assert cards["3cc11f7f0e907522"]["is_remote"] is True      # REMOTE_ALWAYS
    assert cards["4d237d7f2c48d80d"]["is_remote"] is True      # REMOTE_ALWAYS without "text" (2023 card)
    assert cards["7bbf367679b63da8"]["is_remote"] is False     # REMOTE_HYBRID
    assert cards["dac0cd741dbb51bc"]["is_remote"] is None      # no remoteWorkModel on the card


def test_a_sponsored_card_weeks_old_is_outside_a_days_window(cards):
    from scrapers.indeed.spiders.indeed import IndeedSpider

    spider = IndeedSpider(keywords="python", locations="Texas", day="2025-08-13")
    spider.fromage = 1
    assert spider._stale_ad(cards["dac0cd741dbb51bc"])  # pubDate 2024-11-15 on a 2025-08 page


def test_real_job_page_models_parse():
    first, second = json.loads((FIXTURES / "job_pages_scrapfly.json").read_text())
    posting = parse_job_page(job_page_of(first, first["description"]), f"{BASE}/viewjob?jk=0000000000000001")
    assert posting["parsed_from"] == "model" and posting["odd_fields"] == []
    assert (posting["title"], posting["company"], posting["location"]) == (
        "Data Engineer/Python Developer", "CAP Digisoft Solutions", "Frisco, TX 75033")
    assert posting["job_types"] == ["Full-time"] and posting["is_remote"] is None  # remoteWorkModel null
    assert posting.get("salary_min") is None  # the header's salary* fields are null on real pages
    assert "Data Processing" in posting["description_text"]
    # the same model, with the description as the embedded mobile page has it
    as_object = parse_job_page(job_page_of(first, {"content": first["description"]}), f"{BASE}/viewjob?jk=1")
    assert as_object["description_text"] == posting["description_text"]
    # the second page's description was left out of the fixture: refused with the reason
    with pytest.raises(PageError, match="missing field: description"):
        parse_job_page(job_page_of(second, None), f"{BASE}/viewjob?jk=2")
    hybrid = parse_job_page(job_page_of(second, "<p>Python and SQL.</p>"), f"{BASE}/viewjob?jk=2")
    assert hybrid["company"] == "Blue Yonder" and hybrid["is_remote"] is False  # REMOTE_HYBRID
