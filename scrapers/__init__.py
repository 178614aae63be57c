"""scrapers: the Indeed Scrapy project and the Upwork client (token, fetch, enrich)."""
