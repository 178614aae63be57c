"""The trends page over real HTTP (uvicorn) and in headless Chromium, and its Airflow plugin.

The app is mounted under /jobreqs-trends in a parent FastAPI app, as the Airflow api-server mounts
it, so the page's relative links (plotly.min.js, exports) are exercised under a prefix.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

LAST_DAY = dt.date(2026, 6, 30)
DAYS = 70
# technology -> (category, keyword it belongs to, probability at the start, at the end)
SYNTHETIC = {
    "python": ("language", "data engineer", 0.70, 0.70),
    "sql": ("language", "data engineer", 0.60, 0.55),
    "spark": ("data", "data engineer", 0.40, 0.25),
    "airflow": ("orchestration", "data engineer", 0.20, 0.50),
    "dbt": ("data", "data engineer", 0.05, 0.35),
    "hadoop": ("data", "data engineer", 0.30, 0.05),
    "react": ("frontend", "frontend developer", 0.80, 0.75),
    "typescript": ("language", "frontend developer", 0.50, 0.70),
    "vue": ("frontend", "frontend developer", 0.30, 0.15),
}


def insert_synthetic(conn: psycopg.Connection, seed: int = 7) -> None:
    """Seventy days of postings for two keywords whose technologies rise and fall steadily."""
    rng = random.Random(seed)
    conn.cursor().executemany(
        "INSERT INTO jobreqs.technologies VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [(t, c) for t, (c, *_rest) in SYNTHETIC.items()],
    )
    postings, keywords, technologies = [], [], []
    n = 0
    for offset in range(DAYS):
        day = LAST_DAY - dt.timedelta(days=DAYS - 1 - offset)
        progress = offset / (DAYS - 1)
        for keyword in ("data engineer", "frontend developer"):
            for _ in range(12):
                n += 1
                source = "upwork" if n % 4 == 0 else "indeed"
                sid = f"s{n}"
                postings.append((source, sid, f"{keyword} {n}", day, f"h{n}"))
                if source == "indeed":
                    keywords.append((source, sid, keyword))
                technologies += [(source, sid, t) for t, (_c, kw, p0, p1) in SYNTHETIC.items()
                                 if kw == keyword and rng.random() < p0 + (p1 - p0) * progress]
    cur = conn.cursor()
    cur.executemany(
        """INSERT INTO jobreqs.postings (source, source_id, title, posting_date, description_text,
               content_hash, tokens_before, tokens_after, kept_ratio)
           VALUES (%s, %s, %s, %s, 'text', %s, 400, 120, 0.3)""", postings)
    cur.executemany("INSERT INTO jobreqs.posting_keywords VALUES (%s, %s, %s, '')", keywords)
    cur.executemany("INSERT INTO jobreqs.posting_technologies VALUES (%s, %s, %s)", technologies)
    conn.execute(
        """INSERT INTO jobreqs.pipeline_runs (run_id, dag_id, logical_date, stage, status, stats)
           VALUES ('scheduled__2026-06-30', 'jobreqs_daily', %s, 'extract', 'success',
                   '{"tokens_in": 12000, "tokens_out": 3400, "cost_usd": 0.0421}'),
                  ('scheduled__2026-06-30', 'jobreqs_daily', %s, 'publish', 'success', '{}')""",
        (LAST_DAY, LAST_DAY),
    )
    conn.execute("INSERT INTO jobreqs.unmapped_terms VALUES ('pyspark sql', 'indeed', 's1', %s), "
                 "('lakehouse', 'indeed', 's2', %s)", (LAST_DAY, LAST_DAY))


@pytest.fixture
def synthetic_warehouse(analytics_warehouse) -> str:
    """The analytics warehouse holding only the synthetic data, marts refreshed."""
    from tests.analytics.conftest import _empty
    from transforms.marts import refresh_marts

    _empty(analytics_warehouse)
    with psycopg.connect(analytics_warehouse) as conn:
        insert_synthetic(conn)
        conn.commit()
        refresh_marts(conn)
    return analytics_warehouse


def serve(app) -> tuple[str, callable]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; return (base URL, stop)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture
def page_url(synthetic_warehouse):
    """The page, as the Airflow api-server would mount it, on a real HTTP server."""
    from fastapi import FastAPI

    sys.path.insert(0, str(PLUGINS))
    try:
        from jobreqs_trends.app import create_app
    finally:
        sys.path.remove(str(PLUGINS))
    parent = FastAPI()
    parent.mount("/jobreqs-trends", create_app(require_login=False))  # reads via the Airflow connection
    base, stop = serve(parent)
    yield base + "/jobreqs-trends/"
    stop()


def get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_page_api_and_exports_over_http(page_url):
    import json

    status, _, body = get(page_url + "api/trends?top=5")
    assert status == 200
    data = json.loads(body)
    assert data["filter"]["end"] == LAST_DAY.isoformat() and data["filter"]["start"] == "2026-06-03"
    assert [r["technology"] for r in data["top"]][:2] == ["react", "python"]  # the most common
    assert data["top"][0]["postings"] == max(r["postings"] for r in data["top"])
    assert len(data["series"]["python"]) == 28
    risers = [r["technology"] for r in data["movers"]["risers"]]
    fallers = [r["technology"] for r in data["movers"]["fallers"]]
    assert "dbt" in risers[:3] and "hadoop" in fallers[:3]
    assert data["run"]["run_id"] == "scheduled__2026-06-30" and data["run"]["postings"] == 24
    assert data["run"]["kept_text_ratio"] == pytest.approx(0.3)
    assert data["unmapped_terms_waiting"] == 2

    status, headers, body = get(page_url + "api/trends?keyword=frontend+developer&category=language")
    assert status == 200 and [r["technology"] for r in json.loads(body)["top"]] == ["typescript"]

    status, headers, js = get(page_url + "static/plotly.min.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and b"plotly" in js[:2000].lower()

    status, headers, body = get(page_url + "export.csv?start=2026-06-01&end=2026-06-30&source=indeed&keyword=data+engineer")
    assert status == 200 and "attachment" in headers["content-disposition"]
    lines = body.decode().splitlines()
    assert lines[0].startswith("posting_date,source,keyword,technology")
    assert len(lines) - 1 == 30 * 6  # 30 days x the 6 data-engineer technologies
    assert all(",indeed,data engineer," in line for line in lines[1:])

    status, headers, body = get(page_url + "export.parquet?start=2026-06-01&end=2026-06-30&category=frontend")
    assert status == 200
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows > 0 and set(table.column("category").to_pylist()) == {"frontend"}

    status, _, body = get(page_url + "?start=2026-06-30&end=2026-06-01")
    assert status == 400 and b"before it starts" in body
    status, _, body = get(page_url + "?top=5000")
    assert status == 422 or status == 400


def chromium(*args: str, tmp_path: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=20000", *args],
        capture_output=True, text=True, timeout=timeout,
    )


def legend_names(dom: str) -> list[str]:
    """Trace names plotly drew in the trend chart's legend (present only once the chart rendered)."""
    chart = dom[dom.index('id="trend-chart"'):dom.index('id="share-chart"')]
    return re.findall(r'class="legendtext"[^>]*>([^<]+)<', chart)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_page_in_headless_chromium_draws_charts_and_filters_change_them(page_url, tmp_path, artifacts_dir):
    default = chromium("--dump-dom", page_url + "?top=5", tmp_path=tmp_path)
    assert default.returncode == 0, default.stderr[-2000:]
    dom = default.stdout
    assert "main-svg" in dom, "plotly did not draw (is plotly.min.js served?)"
    names = legend_names(dom)
    assert names[:2] == ["react", "python"] and len(names) == 5
    assert 'id="risers-table"' in dom and "dbt" in dom[dom.index('id="risers-table"'):dom.index('id="fallers-table"')]
    assert "12000 / 3400" in dom and "$0.0421" in dom and "30.0 %" in dom  # last run's statistics

    filtered_url = page_url + "?top=5&source=indeed&keyword=data+engineer&category=data"
    filtered = chromium("--dump-dom", filtered_url, tmp_path=tmp_path)
    assert filtered.returncode == 0, filtered.stderr[-2000:]
    filtered_names = legend_names(filtered.stdout)
    assert set(filtered_names) == {"spark", "dbt", "hadoop"}   # only data engineers' "data" technologies
    assert "react" not in filtered_names

    for name, url in (("trends_page.png", page_url + "?top=8"), ("trends_page_filtered.png", filtered_url)):
        shot = artifacts_dir / name
        shot.unlink(missing_ok=True)
        result = chromium(f"--screenshot={shot}", "--window-size=1400,1000", url, tmp_path=tmp_path)
        assert result.returncode == 0 and shot.stat().st_size > 30_000, result.stderr[-2000:]


def test_plugin_registers_app_and_nav_entry_with_airflows_loader(synthetic_warehouse, monkeypatch):
    """Airflow's own plugin-folder loader finds exactly our plugin (the page package is ignored),
    its entries pass the api-server's response models, and without a login every route is refused."""
    from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse, FastAPIAppResponse

    monkeypatch.delenv("JOBREQS_TRENDS_REQUIRE_LOGIN", raising=False)
    plugins, errors = _load_plugins_from_plugin_directory(str(PLUGINS))
    assert errors == {}
    assert [p.name for p in plugins] == ["jobreqs_trends"]
    plugin = plugins[0]
    (app_entry,) = plugin.fastapi_apps
    FastAPIAppResponse.model_validate({**app_entry, "app": "x"})
    assert app_entry["url_prefix"] == "/jobreqs-trends"
    (view,) = plugin.external_views
    ExternalViewResponse.model_validate(view)
    assert view["href"] == "jobreqs-trends/" and view["destination"] == "nav" and view["url_route"]

    base, stop = serve(app_entry["app"])
    try:
        status, _, _ = get(base + "/api/trends")
        assert status == 401
        status, _, body = get(base + "/")
        assert status == 401 and b"Not authenticated" in body
    finally:
        stop()
