"""The ``openai`` extractor: structured output through the openai SDK, live or with the Batch API.

- Client: from the Airflow connection ``openai_default`` (password = API key, host = base URL, or
  ``extra.openai_client_kwargs``), the same fields the openai provider's ``OpenAIHook`` reads.
- Prompt: versioned data (``prompts/<version>.json``): system prompt, JSON schema, model, output
  cap. The posting goes in as data between tags that carry a random id per request.
- Cache: ``jobreqs.extraction_cache`` keyed by (content hash of the text sent, model, prompt
  version). Texts already there are never sent again; only valid replies are cached.
- Limits (:class:`Limits`): each posting's text is cut to a character and a token cap before it
  is sent; a run's tokens and dollars are capped by a :class:`Budget` (reserved before each
  request, settled after): when it runs out the run stops sending, says why, and completes with
  what it has. Tokens and dollars are the project's own count (:mod:`transforms.extract.tokens`)
  priced with ``prices.json``; the usage a server reports is recorded, never trusted for money.
- Trust (:mod:`transforms.extract.trust`): a reply that does not fit the schema, is cut at the
  output cap or is larger than any real reply is an error; a term with no evidence in the text is
  dropped into ``rejected_terms``; a reply that followed instructions found in the text is
  quarantined. Every error carries a kind (:data:`ERROR_KINDS`); the posting then keeps the
  technologies it had (load never replaces them with an error's empty list).
- Live: asyncio, bounded concurrency, retries on 429/5xx/connection errors honouring
  ``retry-after-ms`` / ``retry-after`` / ``x-ratelimit-reset-*`` up to ``Limits.max_retry_after``
  (a server asking for longer is not waited for), else exponential backoff; after
  ``Limits.rate_limit_stop_after`` texts in a row ended rate-limited, the run stops sending.
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
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, constr

from jobreqs.config import OPENAI_CONN_ID
from transforms.extract.stage import ExtractionRun, text_of
from transforms.extract.tokens import billable_chat_tokens, billable_tokens
from transforms.extract.trust import InjectedReply, check_reply
from transforms.text import content_hash

log = logging.getLogger(__name__)
PROMPTS_DIR = Path(__file__).with_name("prompts")
PRICES_FILE = Path(__file__).with_name("prices.json")
DEFAULT_PROMPT = "extract-v2"
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

    def messages(self, text: str, nonce: str | None = None) -> list[dict[str, str]]:
        """System prompt and user message; the text sits between tags whose id (``nonce``, random
        by default) the text cannot know, so it cannot close them and speak outside the data."""
        nonce = nonce or secrets.token_hex(6)
        user = self.user_template.replace("{nonce}", nonce).replace("{text}", text)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

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


def price_of(model: str) -> tuple[dict[str, float], bool]:
    """(USD per 1M tokens, known) of ``model`` from ``prices.json``; a model the table does not
    know is priced as its most expensive one (``known`` False), so a budget still holds."""
    table = prices()["models"]
    price = table.get(model) or table.get(re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model))
    if price is not None:
        return price, True
    return {"input": max(p["input"] for p in table.values()), "output": max(p["output"] for p in table.values())}, False


def cost_usd(model: str, tokens_in: int, tokens_out: int, batch: bool = False) -> float:
    """Dollars for the tokens at the prices kept in ``prices.json`` (the project's own table)."""
    price, _ = price_of(model)
    dollars = (tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000
    return dollars * (prices()["batch_discount"] if batch else 1.0)


# --- limits and budget --------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """What one posting and one run may cost (DAG params ``openai_max_tokens_per_run`` and
    ``openai_max_usd_per_run`` set the run's budget; the rest are the defaults below)."""

    max_input_chars: int = 12_000            # of the kept text, after the classifier
    max_input_tokens: int = 3_000            # the same text, in billable tokens
    max_tokens_per_run: int | None = 10_000_000
    max_usd_per_run: float | None = 5.0
    max_retry_after: float = 60.0            # a server asking to wait longer is not waited for
    rate_limit_stop_after: int = 25          # texts in a row that ended rate-limited: stop sending
    max_reply_bytes: int = 256 * 1024        # a chat completion larger than this is refused unread

    def __post_init__(self) -> None:
        for name in ("max_input_chars", "max_input_tokens", "rate_limit_stop_after", "max_reply_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_tokens_per_run", "max_usd_per_run"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and value != float("inf")):
                raise ValueError(f"{name} must be a finite number >= 0 (or None: no limit)")


def cap_text(text: str, limits: Limits) -> tuple[str, bool]:
    """``text`` cut to the character and token caps, at a line or word boundary when there is
    one in the last fifth; (text, whether it was cut)."""
    if len(text) <= limits.max_input_chars and billable_tokens(text) <= limits.max_input_tokens:
        return text, False
    cut = text[:limits.max_input_chars]
    while billable_tokens(cut) > limits.max_input_tokens:
        cut = cut[:max(1, int(len(cut) * limits.max_input_tokens / billable_tokens(cut) * 0.97))]
    floor = int(len(cut) * 0.8)
    boundary = max(cut.rfind("\n", floor), cut.rfind(" ", floor))
    return (cut[:boundary] if boundary > 0 else cut).rstrip(), True


class WarehouseSpend:
    """A run's reserved tokens and dollars in ``jobreqs.extraction_spend`` (one row per run key),
    so every task of the run (the batch step, extract, their retries) draws on one budget.
    Reservations are single conditional UPDATEs: two processes can never overspend together."""

    def __init__(self, run_key: str, conninfo: str | None = None) -> None:
        self.run_key = run_key
        self._conninfo = conninfo
        self._conn = None

    def _connection(self):
        if self._conn is None or self._conn.closed:
            import psycopg

            from jobreqs.warehouse import warehouse_conninfo

            self._conn = psycopg.connect(self._conninfo or warehouse_conninfo(), autocommit=True)
            self._conn.execute("INSERT INTO jobreqs.extraction_spend (run_key) VALUES (%s) ON CONFLICT DO NOTHING",
                               (self.run_key,))
        return self._conn

    def spent(self) -> tuple[int, float]:
        row = self._connection().execute("SELECT tokens, usd FROM jobreqs.extraction_spend WHERE run_key = %s",
                                         (self.run_key,)).fetchone()
        return int(row[0]), float(row[1])

    def reserve(self, tokens: int, usd: float, max_tokens: int | None, max_usd: float | None) -> bool:
        row = self._connection().execute(
            """UPDATE jobreqs.extraction_spend SET tokens = tokens + %(t)s, usd = usd + %(u)s, updated_at = now()
               WHERE run_key = %(k)s AND (%(mt)s::bigint IS NULL OR tokens + %(t)s <= %(mt)s)
                 AND (%(mu)s::numeric IS NULL OR usd + %(u)s <= %(mu)s)
               RETURNING tokens""",
            {"t": tokens, "u": usd, "k": self.run_key, "mt": max_tokens, "mu": max_usd}).fetchone()
        return row is not None

    def release(self, tokens: int, usd: float) -> None:
        self._connection().execute(
            "UPDATE jobreqs.extraction_spend SET tokens = tokens - %s, usd = usd - %s, updated_at = now()"
            " WHERE run_key = %s", (tokens, usd, self.run_key))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class Budget:
    """A run's ceiling on tokens and dollars. ``reserve`` before a request (its input and the
    whole output cap), ``settle`` after it with what it really used; once a reservation does not
    fit, ``stopped`` says why and nothing more is sent."""

    def __init__(self, max_tokens: int | None = None, max_usd: float | None = None,
                 store: WarehouseSpend | None = None) -> None:
        self.max_tokens, self.max_usd, self.store = max_tokens, max_usd, store
        self.tokens, self.usd = (store.spent() if store else (0, 0.0))
        self.stopped: str | None = None

    @classmethod
    def from_limits(cls, limits: Limits, store: WarehouseSpend | None = None) -> Budget:
        return cls(limits.max_tokens_per_run, limits.max_usd_per_run, store)

    def reserve(self, tokens: int, usd: float) -> bool:
        if self.stopped:
            return False
        if self.store is not None:
            ok = self.store.reserve(tokens, usd, self.max_tokens, self.max_usd)
            if not ok:
                self.tokens, self.usd = self.store.spent()
        else:
            ok = ((self.max_tokens is None or self.tokens + tokens <= self.max_tokens)
                  and (self.max_usd is None or self.usd + usd <= self.max_usd + 1e-12))
        if not ok:
            which = ("token budget of %d" % self.max_tokens
                     if self.max_tokens is not None and self.tokens + tokens > self.max_tokens
                     else "dollar budget of $%g" % (self.max_usd or 0))
            self.stopped = f"the run's {which} is spent: stopped sending"
            return False
        self.tokens += tokens
        self.usd += usd
        return True

    def settle(self, reserved: tuple[int, float], used: tuple[int, float]) -> None:
        """Give back what a request reserved but did not use."""
        tokens, usd = max(0, reserved[0] - used[0]), max(0.0, reserved[1] - used[1])
        if tokens or usd:
            self.tokens -= tokens
            self.usd -= usd
            if self.store is not None:
                self.store.release(tokens, usd)


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


class NotUsable(RuntimeError):
    """The openai backend cannot work: no connection, no key, a refused key or no server."""


def preflight(conn_id: str = OPENAI_CONN_ID, timeout: float = 10.0) -> str:
    """Check, in seconds and before any work, that the backend can work: the connection exists,
    holds a key, and the server answers ``GET /models`` with it (the cheapest authenticated
    call; it costs nothing). Returns the server's base URL; raises :class:`NotUsable` with a
    message for the user (never the key)."""
    import openai

    try:
        kwargs = client_kwargs(conn_id)
    except ValueError as exc:
        raise NotUsable(f"the openai backend needs an API key: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException and its SDK twin
        if "not defined" not in str(exc) and "NotFound" not in type(exc).__name__:
            raise
        raise NotUsable(f"the openai backend needs the Airflow connection {conn_id!r} (password = API key; "
                        f"host = base URL for a compatible server), e.g. AIRFLOW_CONN_{conn_id.upper()}="
                        "'{\"conn_type\": \"openai\", \"password\": \"sk-...\"}'") from None
    base_url = kwargs.get("base_url") or "https://api.openai.com/v1"
    client = openai.OpenAI(**(kwargs | {"timeout": timeout, "max_retries": 0}))
    try:
        client.models.list()
    except openai.AuthenticationError:
        raise NotUsable(f"{base_url} refused the API key of connection {conn_id!r} (401)") from None
    except openai.PermissionDeniedError:
        raise NotUsable(f"{base_url} does not let the key of connection {conn_id!r} list models (403)") from None
    except openai.APIConnectionError as exc:
        raise NotUsable(f"cannot reach {base_url} (connection {conn_id!r}): {type(exc).__name__}") from None
    finally:
        client.close()
    return base_url


def require_usable(conn_id: str = OPENAI_CONN_ID) -> None:
    """In a task: :func:`preflight`, failing the task at once (no retry) when the backend cannot
    work: retrying a missing connection or a refused key only adds minutes of backoff."""
    try:
        preflight(conn_id)
    except NotUsable as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None


def sync_client(conn_id: str = OPENAI_CONN_ID):
    from openai import OpenAI

    return OpenAI(**client_kwargs(conn_id))


class ReplyTooLarge(Exception):
    """A chat completion larger than any real one (a broken or hostile server): refused unread."""


def _capped_transport(limit: int):
    import httpx

    class CappedStream(httpx.AsyncByteStream):
        """A response body that stops with :class:`ReplyTooLarge` past ``limit`` bytes."""

        def __init__(self, stream) -> None:
            self.stream, self.seen = stream, 0

        async def __aiter__(self):
            async for chunk in self.stream:
                self.seen += len(chunk)
                if self.seen > limit:
                    raise ReplyTooLarge(f"reply larger than {limit} bytes")
                yield chunk

        async def aclose(self) -> None:
            await self.stream.aclose()

    class CappedTransport(httpx.AsyncHTTPTransport):
        """Chat completions larger than ``limit`` bytes are refused (others pass: batch files)."""

        async def handle_async_request(self, request):
            response = await super().handle_async_request(request)
            if request.url.path.endswith("/chat/completions"):
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > limit:
                    await response.aclose()
                    raise ReplyTooLarge(f"reply of {length} bytes, over the {limit}-byte cap")
                response.stream = CappedStream(response.stream)
            return response

    return CappedTransport()


def async_client(conn_id: str = OPENAI_CONN_ID, max_reply_bytes: int = Limits.max_reply_bytes):
    import httpx
    from openai import AsyncOpenAI

    kwargs = client_kwargs(conn_id)
    kwargs["http_client"] = httpx.AsyncClient(transport=_capped_transport(max_reply_bytes),
                                              timeout=kwargs.get("timeout", 60.0))
    return AsyncOpenAI(**kwargs)


# --- replies ----------------------------------------------------------------------------------

#: Why an extraction gave no result; the posting keeps its previous technologies.
ERROR_KINDS = {
    "rate_limited": "429 after the retries, or a Retry-After longer than the cap",
    "server_error": "5xx after the retries",
    "connection": "no connection or a timeout after the retries",
    "auth": "the API key was refused (401/403)",
    "api_error": "another refusal by the API (4xx)",
    "invalid_reply": "a reply that does not fit the schema",
    "reply_cut": "a reply cut at the output cap",
    "oversized_reply": "a reply larger than any real one",
    "injection": "a reply that followed instructions in the posting's text (quarantined)",
    "budget": "not sent: the run's token or dollar budget was spent",
    "rate_limit_stop": "not sent: the run stopped sending after a storm of rate limits",
}


class ReplyError(ValueError):
    """A reply that cannot be used; ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_reply(content: str | None, text: str) -> tuple[list[str], list[str]]:
    """(accepted terms, rejected terms) of a reply for ``text``: see
    :func:`transforms.extract.trust.check_reply`. Raises :class:`ReplyError` (a ValueError) when
    the reply does not fit the schema (kind ``invalid_reply``) or followed instructions found in
    the text (kind ``injection``)."""
    if content is None:
        raise ReplyError("empty reply", "invalid_reply")
    try:
        reply = Reply.model_validate_json(content)
    except ValidationError as exc:
        raise ReplyError(f"reply does not fit the schema: {exc.errors()[0]['msg']}", "invalid_reply") from None
    try:
        return check_reply(reply.technologies, text)
    except InjectedReply as exc:
        raise ReplyError(str(exc), "injection") from None


def _requested_delay(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after``,
    ``x-ratelimit-reset-*``), or None when it did not say."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after"):
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        pass
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        value = headers.get(name)
        if value:
            seconds = sum(float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u]
                          for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", value))
            if seconds:
                return seconds
    return None


def _retry_delay(exc: Exception, attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retrying: what the server asked for, else exponential backoff
    with jitter; never more than ``cap``."""
    asked = _requested_delay(exc)
    if asked is not None:
        return min(cap, asked)
    return min(cap, base * 2 ** attempt) * (0.5 + random.random() / 2)


def _causes(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _retryable(exc: Exception) -> bool:
    import openai

    if any(isinstance(e, ReplyTooLarge) for e in _causes(exc)):
        return False
    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in RETRY_STATUSES


def error_kind(exc: BaseException) -> str:
    """The :data:`ERROR_KINDS` key of an exception raised by a request."""
    import openai

    if any(isinstance(e, ReplyTooLarge) for e in _causes(exc)):
        return "oversized_reply"
    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return "rate_limited"
        if status in (401, 403):
            return "auth"
        return "server_error" if status >= 500 or status in RETRY_STATUSES else "api_error"
    return "api_error"


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
    """What the backend made of one text. ``tokens_in``/``tokens_out`` are the project's own
    count (what cost and budgets use); ``reported_in``/``reported_out`` what the server said."""

    terms: list[str]
    rejected: list[str]
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    batch: bool = False  # answered by the Batch API (billed at the batch price)
    kind: str | None = None  # ERROR_KINDS key when error is set
    reported_in: int = 0
    reported_out: int = 0
    reply: str | None = None  # the reply's start, kept for the quarantine of an injected one
    usage_anomaly: bool = False


def _failed(kind: str, message: str, **fields: Any) -> Outcome:
    from jobreqs.redact import redact

    return Outcome([], [], error=redact(message)[:300], kind=kind, **fields)


def _reported(usage: Any) -> tuple[int, int]:
    """The usage a server reported, as two non-negative ints (0 for anything unreadable)."""
    def number(name: str) -> int:
        value = getattr(usage, name, None) if not isinstance(usage, dict) else usage.get(name)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 2**62 else 0

    return (number("prompt_tokens"), number("completion_tokens")) if usage else (0, 0)


def outcome_of_reply(content: str | None, finish_reason: str | None, text: str, tokens_in: int,
                     usage: Any, prompt: Prompt) -> Outcome:
    """The outcome of one completed request (live or a batch line): the reply checked, tokens
    counted by us (the reply's length, never more than the output cap), the server's usage
    recorded beside them and flagged when it cannot be true."""
    reported_in, reported_out = _reported(usage)
    tokens_out = min(prompt.max_output_tokens, billable_tokens(content or ""))
    anomaly = reported_in > 4 * tokens_in + 100 or reported_out > prompt.max_output_tokens * 2 + 100
    counted = {"tokens_in": tokens_in, "tokens_out": tokens_out, "reported_in": reported_in,
               "reported_out": reported_out, "usage_anomaly": anomaly}
    if finish_reason == "length":
        return _failed("reply_cut", "reply cut at the output cap", **counted)
    if content is not None and len(content) > 16 * prompt.max_output_tokens + 1024:
        return _failed("oversized_reply", f"reply of {len(content)} characters for a {prompt.max_output_tokens}-token cap",
                       **counted)
    try:
        terms, rejected = parse_reply(content, text)
    except ReplyError as exc:
        return _failed(exc.kind, str(exc), reply=(content or "")[:2000], **counted)
    return Outcome(terms, rejected, **counted)


@dataclass
class LiveState:
    """Shared by the concurrent requests of a run: the budget, and the rate-limit streak that
    stops sending when the server keeps refusing."""

    budget: Budget
    limits: Limits
    rate_limited_in_a_row: int = 0
    stopped: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"retries": 0})


# --- live mode ----------------------------------------------------------------------------------

async def _complete_one(client, prompt: Prompt, model: str, text: str, sem: asyncio.Semaphore,
                        state: LiveState, max_retries: int, backoff: float, batch: bool = False) -> Outcome:
    async with sem:
        if state.stopped:
            return _failed("rate_limit_stop", state.stopped)
        body = prompt.body(text, model)
        tokens_in = billable_chat_tokens(body["messages"], prompt.schema)
        reserved = (tokens_in + prompt.max_output_tokens,
                    cost_usd(model, tokens_in, prompt.max_output_tokens, batch=batch))
        if not state.budget.reserve(*reserved):
            return _failed("budget", state.budget.stopped or "budget spent")
        outcome = await _send(client, body, prompt, text, tokens_in, state, max_retries, backoff)
        # A refused request used nothing (its outcome counts no tokens); a reply used what we count.
        state.budget.settle(reserved, (outcome.tokens_in + outcome.tokens_out,
                                       cost_usd(model, outcome.tokens_in, outcome.tokens_out, batch=batch)))
        if outcome.kind == "rate_limited":
            state.rate_limited_in_a_row += 1
            if state.rate_limited_in_a_row >= state.limits.rate_limit_stop_after and not state.stopped:
                state.stopped = (f"{state.rate_limited_in_a_row} texts in a row ended rate-limited: "
                                 "stopped sending for this run")
                log.warning("openai: %s", state.stopped)
        elif outcome.kind is None:
            state.rate_limited_in_a_row = 0
        return outcome


async def _send(client, body: dict, prompt: Prompt, text: str, tokens_in: int, state: LiveState,
                max_retries: int, backoff: float) -> Outcome:
    """One request with its retries; a server that asks to wait longer than the cap is not
    waited for (the text ends rate-limited and keeps its previous technologies)."""
    cap = state.limits.max_retry_after
    for attempt in range(max_retries + 1):
        if state.stopped:
            return _failed("rate_limit_stop", state.stopped)
        try:
            resp = await client.chat.completions.create(**body)
        except Exception as exc:  # noqa: BLE001 - classified below
            kind = error_kind(exc)
            asked = _requested_delay(exc)
            if attempt < max_retries and _retryable(exc) and (asked is None or asked <= cap):
                delay = _retry_delay(exc, attempt, backoff, cap)
                state.counts["retries"] += 1
                log.info("openai: %s, retry %d in %.2fs", type(exc).__name__, attempt + 1, delay)
                await asyncio.sleep(delay)
                continue
            message = f"{type(exc).__name__}: {str(exc)[:200]}"
            if asked is not None and asked > cap:
                message = f"server asked to wait {asked:.0f}s (over the {cap:.0f}s cap): {message}"
            return _failed(kind, message)
        choice = resp.choices[0] if resp.choices else None
        if choice is None:
            return _failed("invalid_reply", "reply without a choice", tokens_in=tokens_in)
        return outcome_of_reply(choice.message.content, choice.finish_reason, text, tokens_in,
                                getattr(resp, "usage", None), prompt)
    raise AssertionError("unreachable")


def complete_live(texts: dict[str, str], prompt: Prompt, model: str, conn_id: str = OPENAI_CONN_ID,
                  concurrency: int = 8, max_retries: int = 6, backoff: float = 1.0,
                  limits: Limits | None = None, budget: Budget | None = None,
                  state: LiveState | None = None) -> dict[str, Outcome]:
    """Send each text (by content hash) once, ``concurrency`` at a time, within ``budget``
    (default: one from ``limits``); outcomes by hash."""
    if not texts:
        return {}
    limits = limits or (state.limits if state else Limits())
    state = state or LiveState(budget or Budget.from_limits(limits), limits)

    async def main() -> dict[str, Outcome]:
        sem = asyncio.Semaphore(concurrency)
        async with async_client(conn_id, limits.max_reply_bytes) as client:
            keys = list(texts)
            results = await asyncio.gather(*(
                _complete_one(client, prompt, model, texts[k], sem, state, max_retries, backoff) for k in keys))
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


def request_tokens(prompt: Prompt, text: str) -> int:
    """The billable input tokens of the request for ``text`` (the same for any tag id)."""
    return billable_chat_tokens(prompt.messages(text, nonce="0" * 12), prompt.schema)


def reservation(prompt: Prompt, model: str, text: str, batch: bool) -> tuple[int, float]:
    """What a request for ``text`` may cost at most: its input and the whole output cap."""
    tokens_in = request_tokens(prompt, text)
    return tokens_in + prompt.max_output_tokens, cost_usd(model, tokens_in, prompt.max_output_tokens, batch=batch)


def reserve_batch(texts: dict[str, str], prompt: Prompt, model: str, budget: Budget) -> dict[str, str]:
    """The texts (in order) whose batch requests fit the budget, each reserved; the rest are left
    out (the budget says why) and keep their previous technologies."""
    kept: dict[str, str] = {}
    for h, text in texts.items():
        if not budget.reserve(*reservation(prompt, model, text, batch=True)):
            break
        kept[h] = text
    return kept


def read_batch_results(client, batch, texts: dict[str, str], prompt: Prompt | None = None) -> tuple[dict[str, Outcome], list[str]]:
    """Outcomes by custom_id from the batch's output file, and the ids that failed (error file,
    non-200 lines, lines missing from the output) and must be retried."""
    prompt = prompt or load_prompt()
    outcomes: dict[str, Outcome] = {}
    if batch.output_file_id:
        for line in client.files.content(batch.output_file_id).text.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            cid = row.get("custom_id") if isinstance(row, dict) else None
            resp = (row.get("response") or {}) if isinstance(row, dict) else {}
            if cid not in texts or row.get("error") or resp.get("status_code") != 200:
                continue
            body = resp.get("body") or {}
            choice = (body.get("choices") or [{}])[0]
            outcome = outcome_of_reply((choice.get("message") or {}).get("content"), choice.get("finish_reason"),
                                       texts[cid], request_tokens(prompt, texts[cid]), body.get("usage"), prompt)
            outcome.batch = True
            outcomes[cid] = outcome
    failed = [cid for cid in texts if cid not in outcomes]
    return outcomes, failed


def collect_batch(client, batch, texts: dict[str, str], prompt: Prompt, model: str, batch_key: str,
                  store: BatchStore, conn_id: str = OPENAI_CONN_ID, budget: Budget | None = None,
                  limits: Limits | None = None, **live_options: Any) -> tuple[dict[str, Outcome], int]:
    """Outcomes of a terminal batch joined by custom_id, with its failed lines retried live
    (billed at the live price); marks the batch collected. Each line's batch reservation in
    ``budget`` is settled with what it used. Returns (outcomes by hash, failed lines)."""
    limits = limits or Limits()
    budget = budget or Budget.from_limits(limits)
    outcomes, failed = read_batch_results(client, batch, texts, prompt) if batch.status == "completed" else ({}, list(texts))
    for h, text in texts.items():
        o = outcomes.get(h)
        used = (o.tokens_in + o.tokens_out, cost_usd(model, o.tokens_in, o.tokens_out, batch=True)) if o else (0, 0.0)
        budget.settle(reservation(prompt, model, text, batch=True), used)
    retried = complete_live({h: texts[h] for h in failed}, prompt, model, conn_id, limits=limits,
                            budget=budget, **live_options)
    store.mark(batch_key, "collected" if batch.status == "completed" else "failed",
               {"status": batch.status, "ok": len(outcomes), "retried_live": len(failed)})
    return {**outcomes, **retried}, len(failed)


def complete_batch(texts: dict[str, str], prompt: Prompt, model: str, batch_key: str,
                   conn_id: str = OPENAI_CONN_ID, store: BatchStore | None = None,
                   poll_interval: float = 30.0, timeout: float = 24 * 3600,
                   run: ExtractionRun | None = None, budget: Budget | None = None,
                   limits: Limits | None = None, **live_options: Any) -> dict[str, Outcome]:
    """Submit (or resume) the batch for ``batch_key`` with the texts that fit ``budget``, wait for
    it in this process, join the results by custom_id, retry failed lines live. Outcomes by
    content hash; a text left out by the budget has a ``budget`` outcome. (In Airflow, the
    deferrable :class:`~transforms.extract.batch_operator.OpenAIExtractBatchOperator` waits in
    the triggerer instead.)"""
    if not texts:
        return {}
    limits = limits or Limits()
    budget = budget or Budget.from_limits(limits)
    store = store or BatchStore()
    affordable = reserve_batch(texts, prompt, model, budget)
    outcomes = {h: _failed("budget", budget.stopped or "budget spent") for h in texts if h not in affordable}
    if not affordable:
        return outcomes
    client = sync_client(conn_id)
    batch_id = submit_batch(client, affordable, prompt, model, batch_key, store)
    batch = wait_batch(client, batch_id, poll_interval, timeout)
    done, failed = collect_batch(client, batch, affordable, prompt, model, batch_key, store, conn_id,
                                 budget=budget, limits=limits, **live_options)
    if run is not None:
        run.counts["batch_lines_failed"] = run.counts.get("batch_lines_failed", 0) + failed
    return {**outcomes, **done}


def cache_outcomes(cache: Any, outcomes: dict[str, Outcome], model: str, prompt_version: str) -> None:
    """Cache the valid outcomes (never an error: it will be asked again)."""
    cache.put_many([(h, o.terms, o.tokens_in, o.tokens_out) for h, o in outcomes.items() if o.error is None],
                   model, prompt_version)


def outcome_stats(outcomes: dict[str, Outcome], model: str) -> dict[str, Any]:
    """Tokens and cost (the project's count and prices), the usage the server reported, errors
    by kind and rejected terms of a set of outcomes."""
    kinds: dict[str, int] = {}
    for o in outcomes.values():
        if o.kind:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1
    return {
        "tokens_in": sum(o.tokens_in for o in outcomes.values()),
        "tokens_out": sum(o.tokens_out for o in outcomes.values()),
        "cost_usd": sum(cost_usd(model, o.tokens_in, o.tokens_out, batch=o.batch) for o in outcomes.values()),
        "reported_tokens_in": sum(o.reported_in for o in outcomes.values()),
        "reported_tokens_out": sum(o.reported_out for o in outcomes.values()),
        "usage_anomalies": sum(o.usage_anomaly for o in outcomes.values()),
        "errors": sum(o.error is not None for o in outcomes.values()),
        "error_kinds": kinds,
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
                   chunk_size: int = 500, limits: Limits | None = None, budget: Budget | None = None,
                   **options: Any) -> Iterator[dict[str, Any]]:
    """The openai backend of :func:`transforms.extract.stage.extract_postings`.

    Works in chunks of ``chunk_size`` postings (memory stays flat): each text is cut to the
    input caps of ``limits``; cached texts are answered from the cache, each distinct new text is
    sent once (live, or as one batch per chunk with key ``f"{batch_key}/{chunk number}"``) while
    ``budget`` (default: from ``limits``) lasts, valid replies are cached. Records gain
    "raw_terms", "extraction_backend" ("openai:<model>:<prompt version>"), "input_truncated" when
    the text was cut, "rejected_terms" when a term had no evidence, and, when the extraction
    failed, "extraction_error" and "extraction_error_kind" (then "raw_terms" is empty and means
    nothing: the posting keeps the technologies it had). Replies that followed instructions in
    the text go to ``run``'s quarantine with their reason.
    """
    if mode not in {"live", "batch"}:
        raise ValueError(f"openai mode must be 'live' or 'batch', not {mode!r}")
    if mode == "batch" and not batch_key:
        raise ValueError("batch mode needs a batch_key (e.g. '<dag_id>/<logical date>') so a re-run resumes its batch")
    prompt = load_prompt(prompt_version)
    model = model or prompt.model
    limits = limits or Limits()
    state = LiveState(budget or Budget.from_limits(limits), limits)
    cache = cache if cache is not None else WarehouseCache()
    backend_name = f"openai:{model}:{prompt.version}"
    counts = run.counts
    _, known_price = price_of(model)
    counts.update({"model": model, "prompt_version": prompt.version, "mode": mode, "price_known": known_price,
                   "errors": 0, "error_kinds": {}, "inputs_truncated": 0, "not_sent": 0,
                   "budget_usd": limits.max_usd_per_run, "budget_tokens": limits.max_tokens_per_run})
    for n, chunk in enumerate(_chunks(postings, chunk_size)):
        texts, keys = {}, []
        for record in chunk:
            text, truncated = cap_text(text_of(record), limits)
            h = content_hash(text)
            keys.append((h, truncated, text))
            if text.strip():
                texts[h] = text
        cached = cache.get_many(list(texts), model, prompt.version)
        todo = {h: t for h, t in texts.items() if h not in cached}
        if mode == "live":
            outcomes = complete_live(todo, prompt, model, conn_id, state=state, **options)
        else:
            outcomes = complete_batch(todo, prompt, model, f"{batch_key}/{n}", conn_id, run=run,
                                      budget=state.budget, limits=limits, **options)
        cache_outcomes(cache, outcomes, model, prompt.version)
        for key, value in outcome_stats(outcomes, model).items():
            if key not in ("errors", "error_kinds"):
                counts[key] = counts.get(key, 0) + value
        not_sent = sum(o.kind in ("budget", "rate_limit_stop") for o in outcomes.values())
        counts["sent"] += len(todo) - not_sent
        counts["not_sent"] += not_sent
        counts["retries"] = counts.get("retries", 0) + state.counts["retries"]
        state.counts["retries"] = 0
        for record, (h, truncated, text) in zip(chunk, keys):
            counts["postings"] += 1
            out = {**record, "extraction_backend": backend_name}
            if truncated:
                out["input_truncated"] = True
                counts["inputs_truncated"] += 1
            if h in cached:
                counts["cache_hits"] += 1
                out["raw_terms"] = list(cached[h])
            elif h in outcomes:
                o = outcomes[h]
                out["raw_terms"] = list(o.terms)
                if o.rejected:
                    out["rejected_terms"] = list(o.rejected)
                if o.error:
                    out["extraction_error"], out["extraction_error_kind"] = o.error, o.kind
                    counts["errors"] += 1
                    counts["error_kinds"][o.kind] = counts["error_kinds"].get(o.kind, 0) + 1
                    if o.kind == "injection":
                        run.quarantine_record(out, o.error, reply=o.reply)
            else:
                counts["empty_texts"] += 1
                out["raw_terms"] = []
            counts["terms"] += len(out["raw_terms"])
            yield out
    stopped = state.budget.stopped or state.stopped
    if stopped:
        counts["stopped"] = stopped
