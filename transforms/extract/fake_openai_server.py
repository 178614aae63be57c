"""A local OpenAI-compatible HTTP server for the tests (a real server on 127.0.0.1).

It speaks the shapes the openai SDK uses: ``POST /v1/chat/completions`` (json_schema structured
output), ``POST /v1/files`` (multipart), ``GET /v1/files/{id}`` and ``/content``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/models`` (the key check). Its "model" is NOT a language model: it answers
deterministically from the text with the project's local extractor (fine for tests, which check
the plumbing, not the model). Faults are switched on by markers in the posting text:

- ``[[429]]``: the first two calls for that text get 429 with ``Retry-After``;
- ``[[500]]``: the first call gets a 500;
- ``[[malformed]]``: the reply content is not JSON of the schema;
- ``[[long]]``: the reply stops at the output cap (finish_reason "length");
- ``[[batchfail]]``: in a batch, that line fails (goes to the error file);
- "ignore previous instructions": the naive model obeys and names technologies that are not in
  the text (the client must drop them);
and ``batch_delay`` makes batches stay ``in_progress`` for that many seconds (a slow batch).

Hostile knobs, for the fault suite (``tests/faults``), switched on per server:

- ``rate_limit_storm``: every chat call gets 429 with ``Retry-After: <retry_after>``;
- ``usage_multiplier``: the reported usage is multiplied (absurd figures, $750 for a few calls);
- ``obey_injections``: the model does what the posting tells it to: technologies named in a
  sentence that gives an order (output, list, add, return, answer, ...) are returned, and only
  those when the sentence says "only" or "instead";
- ``reply_padding``: the reply carries that many extra bytes (a reply no real model sends).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from transforms.extract.tokens import estimate_chat_tokens, estimate_tokens


_ORDER = re.compile(r"\b(?:output|list|add|return|include|report|answer|respond|reply|extract|are|is|treat|"
                    r"say|print|emit|mark)\b", re.IGNORECASE)


def obey(text: str, terms: list[str]) -> list[str]:
    """What a model that follows the posting's orders answers: every technology named in a
    sentence that gives an order (any alias of the taxonomy, no context rules), and only those
    when the sentence says "only" or "instead". Deliberately independent of the project's
    detector (transforms.extract.trust): it is the attacker's model, not the defence."""
    from transforms.taxonomy import load_taxonomy, normalise_term

    aliases = load_taxonomy().aliases
    ordered: list[str] = []
    exclusive = False
    for sentence in re.split(r"(?<=[.!?:])\s+|\n+", text):
        if not _ORDER.search(sentence):
            continue
        words = re.findall(r"[\w.+#-]+", sentence)
        named = []
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                surface = " ".join(words[i:i + size]).strip(".,;:")
                if normalise_term(surface) in aliases and not any(surface in n for n in named):
                    named.append(surface)
        if named and re.search(r"\b(?:only|instead)\b", sentence, re.IGNORECASE):
            exclusive = True
        ordered += named
    ordered = [t for t in dict.fromkeys(ordered) if t.lower() not in {"the", "and", "a", "as"}]
    return ordered if exclusive else list(dict.fromkeys(terms + ordered))


class FakeOpenAI:
    """State of the fake service; ``serve()`` starts it on a free port in a thread."""

    def __init__(self, api_key: str = "test-key", batch_delay: float = 0.0, *, rate_limit_storm: bool = False,
                 retry_after: str = "0.2", usage_multiplier: int = 1, obey_injections: bool = False,
                 reply_padding: int = 0) -> None:
        self.api_key = api_key
        self.batch_delay = batch_delay
        self.rate_limit_storm = rate_limit_storm
        self.retry_after = retry_after
        self.usage_multiplier = usage_multiplier
        self.obey_injections = obey_injections
        self.reply_padding = reply_padding
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()        # endpoint -> count
        self.text_calls: Counter[str] = Counter()   # posting text -> chat calls
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    # -- the "model" ----------------------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, headers) of one chat completion."""
        from transforms.extract.local import local_extractor

        user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
        text = re.sub(r"^<posting(?:-[0-9a-f]+)?>\n|\n</posting(?:-[0-9a-f]+)?>$", "", user)
        with self.lock:
            self.text_calls[text] += 1
            n = self.text_calls[text]
        if self.rate_limit_storm:
            return 429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}, \
                {"retry-after": self.retry_after}
        if "[[429]]" in text and n <= 2:
            return 429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}, \
                {"retry-after": "0.2", "x-ratelimit-reset-requests": "0.2s"}
        if "[[500]]" in text and n <= 1:
            return 500, {"error": {"message": "The server had an error", "type": "server_error"}}, {}
        terms = list(dict.fromkeys(local_extractor().extract(text)))
        finish = "stop"
        if "[[malformed]]" in text:
            content = "Sure! The technologies are: " + ", ".join(terms)
        elif "[[long]]" in text:
            content, finish = '{"technologies": ["' + "x" * 20, "length"
        else:
            if "ignore previous instructions" in text.lower():
                terms += ["Haskell", "COBOL"]  # the naive model obeys the injected instruction
            if self.obey_injections:
                terms = obey(text, terms)
            content = json.dumps({"technologies": terms})
            if self.reply_padding:
                content = content[:-1] + ', "padding": "' + "x" * self.reply_padding + '"}'

        schema_ok = (body.get("response_format") or {}).get("type") == "json_schema"
        if not schema_ok:
            return 400, {"error": {"message": "response_format json_schema required by this fake"}}, {}
        usage = {"prompt_tokens": estimate_chat_tokens(body["messages"], (body.get("response_format") or {}).get("json_schema")),
                 "completion_tokens": estimate_tokens(content)}
        usage = {k: v * self.usage_multiplier for k, v in usage.items()}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return 200, {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": usage,
        }, {}

    # -- files and batches -----------------------------------------------------------------------
    def add_file(self, data: bytes, purpose: str, filename: str) -> dict[str, Any]:
        fid = f"file-{next(self._ids)}"
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed"}
        self.files[fid] = {"meta": meta, "data": data}
        return meta

    def create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("input_file_id") not in self.files:
            raise KeyError("input file not found")
        bid = f"batch_{next(self._ids)}"
        batch = {"id": bid, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                 "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
                 "status": "in_progress", "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "metadata": body.get("metadata"),
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}, "_ready": time.monotonic() + self.batch_delay}
        self.batches[bid] = batch
        return batch

    def refresh_batch(self, bid: str) -> dict[str, Any]:
        batch = self.batches[bid]
        if batch["status"] == "in_progress" and time.monotonic() >= batch["_ready"]:
            out, err = [], []
            for line in self.files[batch["input_file_id"]]["data"].decode().splitlines():
                if not line.strip():
                    continue
                req = json.loads(line)
                text = req["body"]["messages"][-1]["content"]
                if "[[batchfail]]" in text:
                    err.append({"id": f"r-{next(self._ids)}", "custom_id": req["custom_id"], "response": None,
                                "error": {"code": "server_error", "message": "line failed"}})
                    continue
                status, body, _ = self.answer(req["body"])
                out.append({"id": f"r-{next(self._ids)}", "custom_id": req["custom_id"],
                            "response": {"status_code": status, "request_id": "req", "body": body}, "error": None})
            batch["output_file_id"] = self.add_file("\n".join(map(json.dumps, out)).encode() + b"\n", "batch_output", "out.jsonl")["id"]
            if err:
                batch["error_file_id"] = self.add_file("\n".join(map(json.dumps, err)).encode() + b"\n", "batch_output", "err.jsonl")["id"]
            batch["request_counts"] = {"total": len(out) + len(err), "completed": len(out), "failed": len(err)}
            batch["status"] = "completed"
            batch["completed_at"] = int(time.time())
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    # -- server ------------------------------------------------------------------------------------
    def serve(self) -> str:
        """Start on 127.0.0.1 (free port) in a daemon thread; returns the base URL (…/v1)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
                    return False
                return True

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):
                data = self._body()
                if not self._authorised():
                    return
                path = self.path.split("?")[0]
                fake.calls[f"POST {path}"] += 1
                if path == "/v1/chat/completions":
                    status, body, headers = fake.answer(json.loads(data))
                    return self._send(status, body, headers)
                if path == "/v1/files":
                    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + data)
                    fields = {part.get_param("name", header="content-disposition"): part for part in msg.iter_parts()}
                    file_part = fields.get("file")
                    if file_part is None:
                        return self._send(400, {"error": {"message": "no file"}})
                    purpose = fields["purpose"].get_content().strip() if "purpose" in fields else "batch"
                    return self._send(200, fake.add_file(file_part.get_payload(decode=True), purpose,
                                                         file_part.get_filename() or "upload"))
                if path == "/v1/batches":
                    try:
                        return self._send(200, fake.refresh_batch(fake.create_batch(json.loads(data))["id"]))
                    except KeyError as exc:
                        return self._send(404, {"error": {"message": str(exc)}})
                return self._send(404, {"error": {"message": f"no route {path}"}})

            def do_GET(self):
                if not self._authorised():
                    return
                path = self.path.split("?")[0]
                fake.calls[f"GET {re.sub(r'/(file|batch)[-_][0-9]+', '/{id}', path)}"] += 1
                m = re.fullmatch(r"/v1/files/([\w-]+)(/content)?", path)
                if m and m.group(1) in fake.files:
                    f = fake.files[m.group(1)]
                    return self._send(200, None, raw=f["data"]) if m.group(2) else self._send(200, f["meta"])
                if path == "/v1/models":  # the real API lists the models the key may use
                    return self._send(200, {"object": "list", "data": [
                        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}]})
                m = re.fullmatch(r"/v1/batches/([\w-]+)", path)
                if m and m.group(1) in fake.batches:
                    return self._send(200, fake.refresh_batch(m.group(1)))
                return self._send(404, {"error": {"message": f"not found: {path}"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
