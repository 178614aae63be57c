"""Scrapy settings of the Indeed project: politeness, retries and the project's own knobs.

Secrets never live here (Scrapy logs overridden settings): the proxy-API key reaches the proxy
middleware through the environment only (see middlewares.ProxyApiMiddleware).
"""

BOT_NAME = "jobreqs_indeed"
SPIDER_MODULES = ["scrapers.indeed.spiders"]
NEWSPIDER_MODULE = "scrapers.indeed.spiders"

# Indeed's robots.txt disallows generic crawlers; runs against the real site are the operator's
# call (normally through a proxy API, see README). The sandbox has no robots.txt.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False

# Politeness: a concurrency limit and AutoThrottle, adapting the delay to the server's latency.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # a 5 MB description page still arrives (and is quarantined)

# Retries with exponential backoff (and Retry-After) on 429 and 5xx (520/521: the Zyte API's
# download errors). Cloudflare's challenge is never retried here: the spider handles blocks.
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 520, 521, 522, 524, 408]
RETRY_BACKOFF_BASE = 2.0   # seconds before the first retry, doubled each time
RETRY_BACKOFF_MAX = 60.0

DOWNLOADER_MIDDLEWARES = {
    "scrapers.indeed.middlewares.RotatingHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapers.indeed.middlewares.BackoffRetryMiddleware": 550,
    # last before the download: rewrites the request for the proxy API, restores the response
    "scrapers.indeed.middlewares.ProxyApiMiddleware": 950,
}
ITEM_PIPELINES = {
    "scrapers.indeed.pipelines.IndeedOutputPipeline": 800,
}

# The project's knobs.
INDEED_BASE_URL = "https://www.indeed.com"
INDEED_PAGE_SIZE = 10             # Indeed's search pages step by 10 ...
INDEED_RESULT_CAP = 1000          # ... and serve nothing past ~1,000 results
INDEED_FROMAGE = 1                # postings from the last day
INDEED_BLOCK_RETRY_TIMES = 1      # a block page is retried (fresh headers) this often ...
INDEED_BLOCK_BACKOFF = 30.0       # ... after this many seconds (doubled each time)
INDEED_BLOCK_WALL = 8             # blocks in a row that stop the crawl (a proxy API is needed)
INDEED_OUTPUT_DIR = None          # folder for postings.jsonl.gz, quarantine.jsonl.gz (required)

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
