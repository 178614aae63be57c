"""The Zyte API's request and answer shapes: the client's readers against Zyte's own test data,
and the sandbox Zyte API against the same data (fixtures: BSD-3-Clause, Zyte Group Ltd)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zyte"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class _Replay(BaseHTTPRequestHandler):
    """Answers every POST with one fixture at its status, and keeps the request it got."""

    answer: tuple[int, dict] = (200, {})
    seen: list = []

    def do_POST(self):  # noqa: N802
        self.seen.append({"auth": self.headers.get("Authorization"),
                          "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
        status, body = self.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def replay():
    handler = type("Replay", (_Replay,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1/extract"
    server.shutdown()
    server.server_close()


def _cookies(endpoint: str):
    from scrapers.upwork.settings import UpworkSettings
    from scrapers.upwork.token import ZyteApiCookies

    settings = UpworkSettings(base_url="https://www.upwork.com", proxy_key="k3y", token_api_url=endpoint, max_attempts=1)
    with httpx.Client() as client:
        return ZyteApiCookies(settings, client).page_cookies("https://www.upwork.com/")


def test_cookies_are_read_from_zytes_own_answer_shape_with_the_documented_request(replay):
    handler, endpoint = replay
    handler.answer = (200, fixture("vendor_test_response_browserHtml.json"))  # cookies under "experimental"
    cookies = _cookies(endpoint)
    assert [(c["name"], c["value"], c.get("expires")) for c in cookies] == [("a", "b", 1679893056), ("c", "d", None)]
    (request,) = handler.seen
    assert request["body"] == {"url": "https://www.upwork.com/", "browserHtml": True, "responseCookies": True}
    assert request["auth"] == "Basic " + base64.b64encode(b"k3y:").decode()  # the key, an empty password


@pytest.mark.parametrize("name", ["error_401_key_not_found.json", "error_403_account_suspended.json",
                                  "error_451_domain_forbidden.json", "error_422_unprocessable_incompatible_params.json"])
def test_zytes_errors_become_a_clear_error_naming_the_problem(replay, name):
    from scrapers.upwork.token import UpworkTokenError

    handler, endpoint = replay
    body = fixture(name)
    handler.answer = (body["status"], body)
    with pytest.raises(UpworkTokenError, match=f"HTTP {body['status']} {body['type']}") as info:
        _cookies(endpoint)
    assert "k3y" not in str(info.value)


def test_the_indeed_middleware_reads_zytes_http_response_body_answer():
    from scrapy import Request
    from scrapy.http import TextResponse

    from scrapers.indeed.middlewares import ProxyApiMiddleware

    middleware = ProxyApiMiddleware("zyte", "k3y")
    request = middleware.process_request(Request("https://www.indeed.com/jobs?q=x"))
    assert json.loads(request.body) == {"url": "https://www.indeed.com/jobs?q=x", "httpResponseBody": True,
                                        "httpResponseHeaders": True}
    assert request.method == "POST" and request.headers["Authorization"] == b"Basic " + base64.b64encode(b"k3y:")
    answer = TextResponse(request.url, status=200, body=json.dumps(fixture("vendor_test_response_httpResponseBody.json")).encode(),
                          request=request)
    page = middleware.process_response(request, answer)
    assert page.status == 200 and page.body == b"<html><body>The cake is a lie!</body></html>"
    assert page.url == "https://example.com" and page.headers["Content-Type"] == b"text/html"
    for name in ("error_429_over_user_limit.json", "error_520_temporary_download_error.json"):
        body = fixture(name)
        answer = TextResponse(request.url, status=body["status"], body=json.dumps(body).encode(), request=request)
        retried = middleware.process_response(request, answer)  # left to the retry middleware
        assert retried.status == body["status"] and "proxy_api_fatal" not in request.meta
    suspended = fixture("error_403_account_suspended.json")
    middleware.process_response(request, TextResponse(request.url, status=403, body=json.dumps(suspended).encode(),
                                                      request=request))
    assert "/auth/account-suspended" in request.meta["proxy_api_fatal"]


def test_the_sandbox_zyte_api_answers_with_zytes_own_error_bodies():
    from scrapers.proxy_sandbox import zyte_sandbox

    with zyte_sandbox({}, "right-key") as (endpoint, _state):
        wrong = httpx.post(endpoint, auth=("wrong", ""), json={"url": "https://www.upwork.com/", "browserHtml": True})
        assert wrong.status_code == 401 and wrong.json() == fixture("error_401_key_not_found.json")
        both = httpx.post(endpoint, auth=("right-key", ""),
                          json={"url": "https://x.example/", "browserHtml": True, "httpResponseBody": True})
        assert both.status_code == 422 and both.json() == fixture("error_422_unprocessable_incompatible_params.json")
        unreachable = httpx.post(endpoint, auth=("right-key", ""), json={"url": "https://x.example/", "httpResponseBody": True})
        assert unreachable.status_code == 520 and unreachable.json()["type"] == fixture("error_520_temporary_download_error.json")["type"]
