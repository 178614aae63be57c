"""Run an ``http.server`` server on a background thread: the sandboxes and test servers use it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextlib.contextmanager
def serving(server: HTTPServer, name: str) -> Iterator[str]:
    """Serve ``server`` on a daemon thread while the block runs; yield its base URL."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class JsonSandboxHandler(BaseHTTPRequestHandler):
    """A sandbox API's handler: ``server.sandbox.answer(path)`` gives (status, headers, JSON bytes)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status, headers, body = self.server.sandbox.answer(self.path)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass
