"""The items the Indeed spider yields (fields as issue 3 declares them)."""

from __future__ import annotations

import scrapy


class IndeedPostingItem(scrapy.Item):
    """One posting; validated against ``jobreqs.schemas.IndeedRawPosting`` before it is written."""

    job_key = scrapy.Field()
    url = scrapy.Field()
    title = scrapy.Field()
    company = scrapy.Field()
    location = scrapy.Field()
    is_remote = scrapy.Field()
    posted_at = scrapy.Field()          # UTC datetime
    salary_min = scrapy.Field()
    salary_max = scrapy.Field()
    salary_period = scrapy.Field()      # as published: hour, day, week, month, year
    salary_currency = scrapy.Field()
    salary_is_estimate = scrapy.Field()
    job_types = scrapy.Field()
    sponsored = scrapy.Field()          # found on a sponsored card (an ad) or a sponsored job page
    description_html = scrapy.Field()
    description_text = scrapy.Field()   # plain text, paragraph and list breaks kept
    keywords = scrapy.Field()           # every search keyword that found it (completed at close)
    search_location = scrapy.Field()
    page = scrapy.Field()
    position = scrapy.Field()
    scraped_at = scrapy.Field()


class QuarantineItem(scrapy.Item):
    """A page or record that could not become a posting, with the reason."""

    kind = scrapy.Field()        # search_page, search_card, job_page, record
    reason = scrapy.Field()
    url = scrapy.Field()
    job_key = scrapy.Field()
    keywords = scrapy.Field()
    search_location = scrapy.Field()
    status = scrapy.Field()      # HTTP status when there was a response
    excerpt = scrapy.Field()     # the start of the page (or record), for a human to look at
    quarantined_at = scrapy.Field()
