"""Stage ``upwork_enrich``: the statistics of each job's client, for jobs that lack them.

Per job, the fast path first (the visitor job-details REST endpoint: no token, the web app's XHR
headers; about three tries in four got through for the earlier system), then, for what it could
not give, the fallback (``jobAuthDetails``, the authenticated job-details query, which needs a
logged-in token: the OAuth token ``jobreqs upwork-authorize`` stored; without one the fallback
says so and the job waits). In official mode the search already brought each client's statistics
(``upwork_fetch`` wrote them, ``enrich_path = 'search'``), so there is nothing left to do here. A
job counts as enriched only when its ``upwork_clients`` row landed, in the same transaction that
sets ``enriched_at`` and ``enrich_path``; a job that failed both keeps ``enriched_at`` NULL, has
its ``enrich_tries`` raised and its ``enrich_last_error`` set, and is tried again by a later run
(until ``max_tries``).

Workers claim jobs in chunks with ``FOR UPDATE SKIP LOCKED`` and take a lease on them
(``enrich_claimed_until``, ``enrich_claimed_by``), committed at once: two runs at the same time
never take the same job, and no transaction stays open while HTTP calls run. A worker's key is
held as a session advisory lock for as long as the worker lives, so the lease of a worker that
died (kill -9, a lost node) is free at once: a re-run of the same date takes those jobs again
without waiting for the lease to run out. A worker that ends cleanly (done, limit reached, an
error) releases the leases it still holds. A try is counted when its outcome is recorded, so a
killed worker costs its jobs no try. A job that failed both paths is marked with the run's key
(``enrich_failed_run``): no worker of that run takes it again, however many there are.
Requests run concurrently, at most ``concurrency`` at once; a run stops after ``limit`` jobs and
leaves the rest for the next one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

import httpx
import psycopg

from jobreqs.warehouse import connect
from scrapers.upwork.adapter import CLIENT_COLUMNS, ShapeError, fallback_details_to_client, rest_details_to_client
from scrapers.upwork.api import AsyncUpworkApi, Counters, UpworkApiError, visitor_details
from scrapers.upwork.settings import UpworkSettings, load_oauth_settings, load_settings
from scrapers.upwork.token import UpworkTokenError, WarehouseTokenSource
from transforms.text import storable

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10_000
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_TRIES = 5
LEASE_SECONDS = 600



@dataclass(frozen=True)
class Outcome:
    job_id: str
    path: str | None  # "fast", "fallback", or None when both failed
    client: dict | None
    error: str | None


#: The classid of the advisory locks that say a worker is alive (objid: the worker's key).
LEASE_LOCK_SPACE = 4_216_500


class LeaseHolder:
    """This worker's identity on its leases: a random key, held as a session advisory lock on a
    connection kept open while the worker lives (the server drops it when the process dies)."""

    def __init__(self) -> None:
        import secrets

        from jobreqs.warehouse import warehouse_conninfo

        self.key = secrets.randbelow(2**31 - 2) + 1
        self._conn = psycopg.connect(warehouse_conninfo(), autocommit=True)
        self._conn.execute("SELECT pg_advisory_lock(%s, %s)", (LEASE_LOCK_SPACE, self.key))

    def release(self) -> int:
        """Free this worker's leases on jobs it did not record; return how many. Never raises (it
        runs on the way out of an error): leases it could not free die with the lock anyway."""
        released = 0
        try:
            with connect() as conn:
                released = conn.execute(
                    """UPDATE jobreqs.upwork_jobs SET enrich_claimed_until = NULL, enrich_claimed_by = NULL
                       WHERE enrich_claimed_by = %s""", (self.key,)).rowcount
        except psycopg.Error as exc:
            log.warning("upwork enrich: could not release leases (%s); they are free once this worker ends",
                        type(exc).__name__)
        finally:
            self._conn.close()
        return released


def claim(limit: int, max_tries: int, lease_seconds: float = LEASE_SECONDS, run_key: str = "",
          holder: int | None = None) -> list[tuple[str, str]]:
    """Take up to ``limit`` jobs to enrich (newest first), except those that failed in this run
    (``run_key``), and lease them to ``holder``; ``[(id, ciphertext)]``. A lease is taken over
    when it ran out or when its holder's advisory lock is gone (the worker died)."""
    with connect() as conn, conn.transaction():
        return conn.execute(
            """WITH live AS (
                   SELECT objid::bigint AS holder FROM pg_locks
                   WHERE locktype = 'advisory' AND classid = %(space)s::oid AND objsubid = 2 AND granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
               UPDATE jobreqs.upwork_jobs AS j
                  SET enrich_claimed_until = now() + make_interval(secs => %(lease)s),
                      enrich_claimed_by = %(holder)s
                WHERE j.id IN (
                      SELECT c.id FROM jobreqs.upwork_jobs c
                       WHERE c.enriched_at IS NULL AND c.ciphertext IS NOT NULL AND c.enrich_tries < %(max_tries)s
                         AND (c.enrich_claimed_until IS NULL OR c.enrich_claimed_until < now()
                              OR c.enrich_claimed_by IS NULL OR c.enrich_claimed_by NOT IN (SELECT holder FROM live))
                         AND c.enrich_failed_run IS DISTINCT FROM %(run)s
                       ORDER BY c.published_at DESC
                       LIMIT %(limit)s
                       FOR UPDATE SKIP LOCKED)
            RETURNING j.id, j.ciphertext""",
            {"lease": lease_seconds, "max_tries": max_tries, "limit": limit, "run": run_key, "holder": holder,
             "space": LEASE_LOCK_SPACE}).fetchall()


NO_LOGGED_IN_TOKEN = ("needs a logged-in token: configure the OAuth app (connection upwork_oauth) and run "
                      "`jobreqs upwork-authorize` once")


class Paths:
    """The two ways to a job's client statistics, sharing one HTTP client and one count."""

    def __init__(self, settings: UpworkSettings, concurrency: int):
        self.settings = settings
        self.counters = Counters()
        self.client = httpx.AsyncClient(timeout=settings.timeout_seconds,
                                        limits=httpx.Limits(max_connections=4 * concurrency,
                                                            max_keepalive_connections=4 * concurrency))
        oauth = load_oauth_settings(settings)
        self.fallback = AsyncUpworkApi(oauth, WarehouseTokenSource(oauth), client=self.client) if oauth else None

    async def fast(self, ciphertext: str) -> dict:
        return rest_details_to_client(await visitor_details(self.client, self.settings, ciphertext, self.counters))

    async def slow(self, ciphertext: str) -> dict:
        if self.fallback is None:
            raise UpworkApiError(NO_LOGGED_IN_TOKEN)
        try:
            return fallback_details_to_client(await self.fallback.auth_details(ciphertext))
        except UpworkTokenError as exc:
            raise UpworkApiError(f"{exc}") from None

    def counts(self) -> dict:
        counts = self.counters.as_dict()
        if self.fallback is not None:
            for key, value in self.fallback.counters.as_dict().items():
                counts[key] += value
        return counts

    async def aclose(self) -> None:
        await self.client.aclose()


async def enrich_job(paths: Paths, job_id: str, ciphertext: str) -> Outcome:
    """The client statistics of one job: fast path, else fallback, else the two errors."""
    errors = []
    for path, call in (("fast", paths.fast), ("fallback", paths.slow)):
        try:
            return Outcome(job_id, path, storable(await call(ciphertext))[0], None)
        except (ShapeError, UpworkApiError) as exc:
            errors.append(f"{path}: {exc}")
        except Exception as exc:  # noqa: BLE001 - recorded on the job, never lost, never fatal to the run
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
    return Outcome(job_id, None, None, "; ".join(errors)[:1000])


def record(outcomes: list[Outcome], run_key: str = "") -> None:
    """Land a chunk's outcomes in one transaction: client rows and ``enriched_at`` together; each
    outcome counts a try, and a failure is marked with ``run_key``."""
    now = dt.datetime.now(dt.timezone.utc)
    done = [o for o in outcomes if o.path]
    failed = [o for o in outcomes if not o.path]
    cols = ", ".join(("job_id",) + CLIENT_COLUMNS + ("enriched_at",))
    marks = ", ".join(["%s"] * (len(CLIENT_COLUMNS) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CLIENT_COLUMNS + ("enriched_at",))
    with connect() as conn, conn.transaction(), conn.cursor() as cur:
        if done:
            cur.executemany(
                f"INSERT INTO jobreqs.upwork_clients ({cols}) VALUES ({marks}) ON CONFLICT (job_id) DO UPDATE SET {updates}",
                [(o.job_id, *(o.client[c] for c in CLIENT_COLUMNS), now) for o in done])
            cur.executemany(
                """UPDATE jobreqs.upwork_jobs SET enriched_at = %s, enrich_path = %s, enrich_last_error = NULL,
                          enrich_tries = enrich_tries + 1, enrich_claimed_until = NULL, enrich_claimed_by = NULL
                   WHERE id = %s""",
                [(now, o.path, o.job_id) for o in done])
        if failed:
            cur.executemany(
                """UPDATE jobreqs.upwork_jobs SET enrich_last_error = %s, enrich_tries = enrich_tries + 1,
                          enrich_failed_run = %s, enrich_claimed_until = NULL, enrich_claimed_by = NULL
                   WHERE id = %s""",
                [(o.error, run_key, o.job_id) for o in failed])


def remaining(max_tries: int) -> int:
    with connect() as conn:
        return conn.execute(
            """SELECT count(*) FROM jobreqs.upwork_jobs
               WHERE enriched_at IS NULL AND ciphertext IS NOT NULL AND enrich_tries < %s""", (max_tries,)).fetchone()[0]


async def enrich_jobs(settings: UpworkSettings, limit: int, concurrency: int, max_tries: int,
                      run_key: str = "") -> dict:
    """Claim, fetch and record until ``limit`` jobs were taken or none is left.

    A feeder claims chunks ahead of ``concurrency`` workers (a bounded queue keeps memory flat);
    outcomes are recorded in batches. A failure is recorded with the run's key in the same
    statement that releases its lease, so no claim of this run (in this process or another) can
    take it again: one try per run. The leases still held at the end are released."""
    counts = {"claimed": 0, "enriched": 0, "fast": 0, "fallback": 0, "failed": 0}
    chunk = max(4 * concurrency, 50)
    queue: asyncio.Queue = asyncio.Queue(maxsize=2 * chunk)
    db_turn = asyncio.Lock()
    pending: list[Outcome] = []
    holder = await asyncio.to_thread(LeaseHolder)
    paths = Paths(settings, concurrency)

    async def flush() -> None:
        async with db_turn:
            batch = pending[:]
            del pending[:]
            if not batch:
                return
            await asyncio.to_thread(record, batch, run_key)
            for outcome in batch:
                counts[outcome.path or "failed"] += 1
            counts["enriched"] = counts["fast"] + counts["fallback"]

    async def feeder() -> None:
        try:
            while counts["claimed"] < limit:
                async with db_turn:
                    jobs = await asyncio.to_thread(claim, min(chunk, limit - counts["claimed"]), max_tries,
                                                   LEASE_SECONDS, run_key, holder.key)
                if not jobs:
                    break
                counts["claimed"] += len(jobs)
                for job in jobs:
                    await queue.put(job)
        finally:
            for _ in range(concurrency):
                await queue.put(None)

    async def worker() -> None:
        while (job := await queue.get()) is not None:
            pending.append(await enrich_job(paths, *job))
            if len(pending) >= chunk:
                await flush()

    try:
        await asyncio.gather(feeder(), *(worker() for _ in range(concurrency)))
        await flush()
    finally:
        await paths.aclose()
        counts["leases_released"] = await asyncio.to_thread(holder.release)
    return counts | paths.counts()


def upwork_enrich(limit: int = DEFAULT_LIMIT, concurrency: int = DEFAULT_CONCURRENCY,
                  max_tries: int = DEFAULT_MAX_TRIES, run_key: str | None = None) -> dict:
    """Stage ``upwork_enrich``: enrich up to ``limit`` jobs that lack client statistics, at most
    ``concurrency`` requests at once; return counts (``remaining``: left for the next run).
    ``run_key`` names the run (the Airflow run id): workers of one run share their failures;
    without one, this call is a run of its own."""
    if limit < 0 or concurrency < 1 or max_tries < 1:
        raise ValueError("limit must be >= 0, concurrency and max_tries >= 1")
    import uuid

    began = time.monotonic()
    result = asyncio.run(enrich_jobs(load_settings(), limit, concurrency, max_tries, run_key or uuid.uuid4().hex))
    seconds = time.monotonic() - began
    result |= {"remaining": remaining(max_tries), "seconds": round(seconds, 3),
               "jobs_per_second": round(result["claimed"] / seconds, 1) if seconds else None}
    log.info("upwork enrich: %s", result)
    return result
