"""The ``openai`` extractor: structured output through the openai SDK, live or with the Batch API.

- Client: from the Airflow connection ``openai_default`` (password = API key, host = base URL, or
  ``extra.openai_client_kwargs``), the same fields the openai provider's ``OpenAIHook`` reads.
- Prompt: versioned data (``prompts/<version>.json``): system prompt, JSON schema, model, output cap.
- Cache: ``jobreqs.extraction_cache`` keyed by (content hash of the text sent, model, prompt
  version). Texts already there are never sent again; only valid replies are cached.
- Trust: a reply that does not fit the schema is recorded (``extraction_error``) and gives no
  terms; a term that appears nowhere in the text is dropped into ``rejected_terms``.
- Live: asyncio, bounded concurrency, retries on 429/5xx/connection errors honouring
  ``retry-after-ms`` / ``retry-after`` / ``x-ratelimit-reset-*``, else exponential backoff.
- Batch: JSONL upload, batch creation remembered in ``jobreqs.extraction_batches`` (a re-run
  resumes it), wait, download, join by ``custom_id``; failed lines are retried live.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import random
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, constr

from jobreqs.config import OPENAI_CONN_ID
from transforms.extract.stage import ExtractionRun, text_of
from transforms.taxonomy import normalise_term
from transforms.text import content_hash

log = logging.getLogger(__name__)
PROMPTS_DIR = Path(__file__).with_name("prompts")
PRICES_FILE = Path(__file__).with_name("prices.json")
DEFAULT_PROMPT = "extract-v1"
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class Reply(BaseModel):
    """The JSON schema of a reply, as a pydantic model (checked again on our side)."""

    model_config = {"extra": "forbid"}
    technologies: list[constr(strip_whitespace=True, min_length=1, max_length=80)]


@dataclass(frozen=True)
class Prompt:
    version: str
    model: str
    system: str
    user_template: str
    schema: dict[str, Any]
    max_output_tokens: int
    temperature: float

    def messages(self, text: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user_template.replace("{text}", text)}]

    def body(self, text: str, model: str | None = None) -> dict[str, Any]:
        """The chat-completions request body for one text (live and batch alike)."""
        return {
            "model": model or self.model,
            "messages": self.messages(text),
            "response_format": {"type": "json_schema", "json_schema": self.schema},
            "max_completion_tokens": self.max_output_tokens,
            "temperature": self.temperature,
        }


@functools.lru_cache(maxsize=8)
def load_prompt(version: str = DEFAULT_PROMPT) -> Prompt:
    """The prompt ``version`` from ``prompts/<version-file>.json`` (file name: version without 'extract-')."""
    candidates = [PROMPTS_DIR / f"{version}.json", PROMPTS_DIR / f"{version.removeprefix('extract-').join(['extract_', '.json'])}"]
    for path in candidates:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["version"] != version:
                raise ValueError(f"{path} holds prompt {data['version']!r}, not {version!r}")
            return Prompt(data["version"], data["model"], data["system"], data["user_template"],
                          data["schema"], int(data["max_output_tokens"]), float(data.get("temperature", 0)))
    raise FileNotFoundError(f"no prompt {version!r} in {PROMPTS_DIR}")


@functools.lru_cache(maxsize=1)
def prices() -> dict[str, Any]:
    return json.loads(PRICES_FILE.read_text(encoding="utf-8"))


def cost_usd(model: str, tokens_in: int, tokens_out: int, batch: bool = False) -> float:
    """Estimated dollars for the tokens, from the published prices kept in ``prices.json``."""
    table = prices()
    price = table["models"].get(model) or table["models"].get(re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model))
    if price is None:
        return 0.0
    dollars = (tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000
    return dollars * (table["batch_discount"] if batch else 1.0)


# --- client ---------------------------------------------------------------------------------

def client_kwargs(conn_id: str = OPENAI_CONN_ID) -> dict[str, Any]:
    """OpenAI client arguments from the Airflow connection (API key = password, base URL = host).
    Retries are ours (they honour the rate-limit headers), so the SDK's are switched off."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = dict(conn.extra_dejson.get("openai_client_kwargs", {}))
    base_url = extra.pop("base_url", None) or conn.host or None
    api_key = extra.pop("api_key", None) or conn.password
    if not api_key:
        raise ValueError(f"connection {conn_id!r} has no API key (password)")
    return {"api_key": api_key, "base_url": base_url, "max_retries": 0, "timeout": 60.0, **extra}


def sync_client(conn_id: str = OPENAI_CONN_ID):
    from openai import OpenAI

    return OpenAI(**client_kwargs(conn_id))


def async_client(conn_id: str = OPENAI_CONN_ID):
    from openai import AsyncOpenAI

    return AsyncOpenAI(**client_kwargs(conn_id))


# --- replies ----------------------------------------------------------------------------------

def parse_reply(content: str | None, text: str) -> tuple[list[str], list[str]]:
    """(trusted terms, rejected terms) of a reply; raises ValueError if it does not fit the schema.
    A term is trusted only if it occurs in the text (case and separators ignored)."""
    if content is None:
        raise ValueError("empty reply")
    try:
        reply = Reply.model_validate_json(content)
    except ValidationError as exc:
        raise ValueError(f"reply does not fit the schema: {exc.errors()[0]['msg']}") from None
    haystack = f" {normalise_term(text)} "
    trusted, rejected = [], []
    for term in dict.fromkeys(reply.technologies):
        key = normalise_term(term)
        (trusted if key and f" {key} " in haystack else rejected).append(term)
    return trusted, rejected


def _retry_delay(exc: Exception, attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retrying, from the server's headers when it sent any."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return min(cap, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after"):
            return min(cap, float(headers["retry-after"]))
    except ValueError:
        pass
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        value = headers.get(name)
        if value:
            seconds = sum(float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u]
                          for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", value))
            if seconds:
                return min(cap, seconds)
    return min(cap, base * 2 ** attempt) * (0.5 + random.random() / 2)


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in RETRY_STATUSES


# --- cache --------------------------------------------------------------------------------------

class WarehouseCache:
    """``jobreqs.extraction_cache`` rows by (content hash, model, prompt version)."""

    def __init__(self, conninfo: str | None = None) -> None:
        from jobreqs.warehouse import connect

        self._connect = lambda: connect(conninfo)

    def get_many(self, hashes: list[str], model: str, prompt_version: str) -> dict[str, list[str]]:
        if not hashes:
            return {}
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT content_hash, terms FROM jobreqs.extraction_cache"
                " WHERE model = %s AND prompt_version = %s AND content_hash = ANY(%s)",
                (model, prompt_version, hashes)).fetchall()
        return {h: list(t) for h, t in rows}

    def put_many(self, rows: list[tuple[str, list[str], int, int]], model: str, prompt_version: str) -> None:
        if not rows:
            return
        from psycopg.types.json import Jsonb

        with self._connect() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO jobreqs.extraction_cache (content_hash, model, prompt_version, terms, tokens_in, tokens_out)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (content_hash, model, prompt_version) DO NOTHING",
                [(h, model, prompt_version, Jsonb(terms), ti, to) for h, terms, ti, to in rows])


class MemoryCache:
    """A process-local cache (for the CLI without a warehouse, and tests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], list[str]] = {}

    def get_many(self, hashes, model, prompt_version):
        return {h: self.rows[(h, model, prompt_version)] for h in hashes if (h, model, prompt_version) in self.rows}

    def put_many(self, rows, model, prompt_version):
        for h, terms, _ti, _to in rows:
            self.rows.setdefault((h, model, prompt_version), terms)


@dataclass
class Outcome:
    """What the backend made of one text."""

    terms: list[str]
    rejected: list[str]
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    batch: bool = False  # answered by the Batch API (billed at the batch price)


# --- live mode ----------------------------------------------------------------------------------

async def _complete_one(client, prompt: Prompt, model: str, text: str, sem: asyncio.Semaphore,
                        max_retries: int, backoff: float, cap: float) -> Outcome:
    async with sem:
        for attempt in range(max_retries + 1):
            try:
                resp = await client.chat.completions.create(**prompt.body(text, model))
            except Exception as exc:  # noqa: BLE001 - classified below
                if attempt < max_retries and _retryable(exc):
                    delay = _retry_delay(exc, attempt, backoff, cap)
                    log.info("openai: %s, retry %d in %.2fs", type(exc).__name__, attempt + 1, delay)
                    await asyncio.sleep(delay)
                    continue
                return Outcome([], [], error=f"{type(exc).__name__}: {str(exc)[:200]}")
            usage = getattr(resp, "usage", None)
            tin, tout = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
            choice = resp.choices[0] if resp.choices else None
            if choice is None or choice.finish_reason == "length":
                return Outcome([], [], error="reply cut at the output cap", tokens_in=tin, tokens_out=tout)
            try:
                terms, rejected = parse_reply(choice.message.content, text)
            except ValueError as exc:
                return Outcome([], [], error=str(exc), tokens_in=tin, tokens_out=tout)
            return Outcome(terms, rejected, tokens_in=tin, tokens_out=tout)
    raise AssertionError("unreachable")


def complete_live(texts: dict[str, str], prompt: Prompt, model: str, conn_id: str = OPENAI_CONN_ID,
                  concurrency: int = 8, max_retries: int = 6, backoff: float = 1.0,
                  max_delay: float = 60.0) -> dict[str, Outcome]:
    """Send each text (by content hash) once, ``concurrency`` at a time; outcomes by hash."""
    if not texts:
        return {}

    async def main() -> dict[str, Outcome]:
        sem = asyncio.Semaphore(concurrency)
        async with async_client(conn_id) as client:
            keys = list(texts)
            results = await asyncio.gather(*(
                _complete_one(client, prompt, model, texts[k], sem, max_retries, backoff, max_delay) for k in keys))
        return dict(zip(keys, results))

    return asyncio.run(main())


# --- batch mode ---------------------------------------------------------------------------------

def batch_jsonl(texts: dict[str, str], prompt: Prompt, model: str) -> bytes:
    """The Batch API input: one chat-completions request per text, custom_id = content hash."""
    lines = (json.dumps({"custom_id": h, "method": "POST", "url": "/v1/chat/completions",
                         "body": prompt.body(t, model)}, ensure_ascii=False) for h, t in texts.items())
    return ("\n".join(lines) + "\n").encode("utf-8")


class BatchStore:
    """``jobreqs.extraction_batches``: which batch was submitted for which key."""

    def __init__(self, conninfo: str | None = None) -> None:
        from jobreqs.warehouse import connect

        self._connect = lambda: connect(conninfo)

    def get(self, batch_key: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT batch_id, input_file_id, status, requests, custom_ids FROM jobreqs.extraction_batches"
                               " WHERE batch_key = %s", (batch_key,)).fetchone()
        return None if row is None else dict(zip(("batch_id", "input_file_id", "status", "requests", "custom_ids"), row))

    def remember(self, batch_key: str, batch_id: str, file_id: str, model: str, prompt_version: str,
                 custom_ids: list[str]) -> None:
        from psycopg.types.json import Jsonb

        with self._connect() as conn:
            conn.execute("INSERT INTO jobreqs.extraction_batches"
                         " (batch_key, batch_id, input_file_id, model, prompt_version, requests, custom_ids)"
                         " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (batch_key) DO UPDATE SET batch_id = EXCLUDED.batch_id,"
                         " input_file_id = EXCLUDED.input_file_id, requests = EXCLUDED.requests, custom_ids = EXCLUDED.custom_ids,"
                         " status = 'submitted', submitted_at = now(), collected_at = NULL",
                         (batch_key, batch_id, file_id, model, prompt_version, len(custom_ids), Jsonb(custom_ids)))

    def key_of(self, batch_id: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT batch_key FROM jobreqs.extraction_batches WHERE batch_id = %s",
                               (batch_id,)).fetchone()
        return row[0] if row else None

    def under(self, prefix: str) -> list[dict[str, Any]]:
        """The batches whose key starts with ``prefix`` (one run's chunks), in key order."""
        with self._connect() as conn:
            rows = conn.execute("SELECT batch_key, batch_id, status, stats FROM jobreqs.extraction_batches"
                                " WHERE starts_with(batch_key, %s) ORDER BY batch_key", (prefix,)).fetchall()
        return [dict(zip(("batch_key", "batch_id", "status", "stats"), row)) for row in rows]

    def mark(self, batch_key: str, status: str, stats: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        with self._connect() as conn:
            conn.execute("UPDATE jobreqs.extraction_batches SET status = %s, stats = %s, collected_at = now()"
                         " WHERE batch_key = %s", (status, Jsonb(stats), batch_key))


TERMINAL_FAILED = {"failed", "expired", "cancelled", "cancelling"}


def submit_batch(client, texts: dict[str, str], prompt: Prompt, model: str, batch_key: str,
                 store: BatchStore) -> str:
    """The id of the batch for ``batch_key``: the one already submitted (a re-run resumes it) unless
    it ended badly, else a new one (JSONL upload + batch creation, remembered in the store)."""
    known = store.get(batch_key)
    if known is not None and known["status"] != "failed":
        batch = client.batches.retrieve(known["batch_id"])
        if batch.status not in TERMINAL_FAILED:
            log.info("resuming batch %s for %s (%s)", batch.id, batch_key, batch.status)
            return batch.id
    upload = client.files.create(file=("extract.jsonl", io.BytesIO(batch_jsonl(texts, prompt, model))), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"jobreqs_batch_key": batch_key[:500]})
    store.remember(batch_key, batch.id, upload.id, model, prompt.version, list(texts))
    log.info("submitted batch %s (%d requests) for %s", batch.id, len(texts), batch_key)
    return batch.id


def wait_batch(client, batch_id: str, poll_interval: float = 30.0, timeout: float = 24 * 3600):
    """Poll until the batch is terminal (the deferrable operator waits in the triggerer instead)."""
    start = time.monotonic()
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in {"completed", *TERMINAL_FAILED}:
            return batch
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"batch {batch_id} still {batch.status} after {timeout:.0f}s")
        time.sleep(poll_interval)


def read_batch_results(client, batch, texts: dict[str, str]) -> tuple[dict[str, Outcome], list[str]]:
    """Outcomes by custom_id from the batch's output file, and the ids that failed (error file,
    non-200 lines, lines missing from the output) and must be retried."""
    outcomes: dict[str, Outcome] = {}
    if batch.output_file_id:
        for line in client.files.content(batch.output_file_id).text.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            cid = row.get("custom_id")
            resp = row.get("response") or {}
            if cid not in texts or row.get("error") or resp.get("status_code") != 200:
                continue
            body = resp.get("body") or {}
            usage = body.get("usage") or {}
            tin, tout = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
            choice = (body.get("choices") or [{}])[0]
            if choice.get("finish_reason") == "length":
                outcomes[cid] = Outcome([], [], "reply cut at the output cap", tin, tout)
                continue
            try:
                terms, rejected = parse_reply((choice.get("message") or {}).get("content"), texts[cid])
                outcomes[cid] = Outcome(terms, rejected, None, tin, tout)
            except ValueError as exc:
                outcomes[cid] = Outcome([], [], str(exc), tin, tout)
    failed = [cid for cid in texts if cid not in outcomes]
    return outcomes, failed


def collect_batch(client, batch, texts: dict[str, str], prompt: Prompt, model: str, batch_key: str,
                  store: BatchStore, conn_id: str = OPENAI_CONN_ID, **live_options: Any) -> tuple[dict[str, Outcome], int]:
    """Outcomes of a terminal batch joined by custom_id, with its failed lines retried live
    (billed at the live price); marks the batch collected. Returns (outcomes by hash, failed lines)."""
    outcomes, failed = read_batch_results(client, batch, texts) if batch.status == "completed" else ({}, list(texts))
    for o in outcomes.values():
        o.batch = True
    retried = complete_live({h: texts[h] for h in failed}, prompt, model, conn_id, **live_options)
    store.mark(batch_key, "collected" if batch.status == "completed" else "failed",
               {"status": batch.status, "ok": len(outcomes), "retried_live": len(failed)})
    return {**outcomes, **retried}, len(failed)


def complete_batch(texts: dict[str, str], prompt: Prompt, model: str, batch_key: str,
                   conn_id: str = OPENAI_CONN_ID, store: BatchStore | None = None,
                   poll_interval: float = 30.0, timeout: float = 24 * 3600,
                   run: ExtractionRun | None = None, **live_options: Any) -> dict[str, Outcome]:
    """Submit (or resume) the batch for ``batch_key``, wait for it in this process, join the
    results by custom_id, retry failed lines live. Outcomes by content hash. (In Airflow, the
    deferrable :class:`~transforms.extract.batch_operator.OpenAIExtractBatchOperator` waits in
    the triggerer instead.)"""
    if not texts:
        return {}
    store = store or BatchStore()
    client = sync_client(conn_id)
    batch_id = submit_batch(client, texts, prompt, model, batch_key, store)
    batch = wait_batch(client, batch_id, poll_interval, timeout)
    outcomes, failed = collect_batch(client, batch, texts, prompt, model, batch_key, store, conn_id, **live_options)
    if run is not None:
        run.counts["batch_lines_failed"] = run.counts.get("batch_lines_failed", 0) + failed
    return outcomes


def cache_outcomes(cache: Any, outcomes: dict[str, Outcome], model: str, prompt_version: str) -> None:
    """Cache the valid outcomes (never an error: it will be asked again)."""
    cache.put_many([(h, o.terms, o.tokens_in, o.tokens_out) for h, o in outcomes.items() if o.error is None],
                   model, prompt_version)


def outcome_stats(outcomes: dict[str, Outcome], model: str) -> dict[str, Any]:
    """Tokens, estimated cost, errors and rejected terms of a set of outcomes."""
    return {
        "tokens_in": sum(o.tokens_in for o in outcomes.values()),
        "tokens_out": sum(o.tokens_out for o in outcomes.values()),
        "cost_usd": sum(cost_usd(model, o.tokens_in, o.tokens_out, batch=o.batch) for o in outcomes.values()),
        "errors": sum(o.error is not None for o in outcomes.values()),
        "rejected_terms": sum(len(o.rejected) for o in outcomes.values()),
    }


# --- the stage ----------------------------------------------------------------------------------

def _chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def extract_openai(postings: Iterable[dict[str, Any]], *, run: ExtractionRun, mode: str = "live",
                   model: str | None = None, prompt_version: str = DEFAULT_PROMPT,
                   conn_id: str = OPENAI_CONN_ID, cache: Any = None, batch_key: str | None = None,
                   chunk_size: int = 500, **options: Any) -> Iterator[dict[str, Any]]:
    """The openai backend of :func:`transforms.extract.stage.extract_postings`.

    Works in chunks of ``chunk_size`` postings (memory stays flat): cached texts are answered from
    the cache, each distinct new text is sent once (live, or as one batch per chunk with key
    ``f"{batch_key}/{chunk number}"``), valid replies are cached. Records gain "raw_terms",
    "extraction_backend" ("openai:<model>:<prompt version>"), and, when something was not
    trusted, "rejected_terms" and/or "extraction_error".
    """
    if mode not in {"live", "batch"}:
        raise ValueError(f"openai mode must be 'live' or 'batch', not {mode!r}")
    if mode == "batch" and not batch_key:
        raise ValueError("batch mode needs a batch_key (e.g. '<dag_id>/<logical date>') so a re-run resumes its batch")
    prompt = load_prompt(prompt_version)
    model = model or prompt.model
    cache = cache if cache is not None else WarehouseCache()
    backend_name = f"openai:{model}:{prompt.version}"
    counts = run.counts
    counts.update({"model": model, "prompt_version": prompt.version, "mode": mode})
    for n, chunk in enumerate(_chunks(postings, chunk_size)):
        texts = {}
        hashes = []
        for record in chunk:
            text = text_of(record)
            h = content_hash(text)
            hashes.append(h)
            if text.strip():
                texts[h] = text
        cached = cache.get_many(list(texts), model, prompt.version)
        todo = {h: t for h, t in texts.items() if h not in cached}
        if mode == "live":
            outcomes = complete_live(todo, prompt, model, conn_id, **options)
        else:
            outcomes = complete_batch(todo, prompt, model, f"{batch_key}/{n}", conn_id, run=run, **options)
        cache_outcomes(cache, outcomes, model, prompt.version)
        for key, value in outcome_stats(outcomes, model).items():
            counts[key] = counts.get(key, 0) + value
        counts["sent"] += len(todo)
        for record, h in zip(chunk, hashes):
            counts["postings"] += 1
            out = {**record, "extraction_backend": backend_name}
            if h in cached:
                counts["cache_hits"] += 1
                out["raw_terms"] = list(cached[h])
            elif h in outcomes:
                o = outcomes[h]
                out["raw_terms"] = list(o.terms)
                if o.rejected:
                    out["rejected_terms"] = list(o.rejected)
                if o.error:
                    out["extraction_error"] = o.error
            else:
                counts["empty_texts"] += 1
                out["raw_terms"] = []
            counts["terms"] += len(out["raw_terms"])
            yield out
