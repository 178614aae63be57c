"""The project on a real Airflow deployment: a backfill through ``airflow backfill create`` with the
scheduler (LocalExecutor, Postgres metadata), and the web UI in headless Chromium."""

import datetime as dt
import time

import psycopg
import pytest

from jobreqs import lake
from tests.fixtures.raw_day import write_raw_day

pytestmark = pytest.mark.slow

BACKFILL_DAYS = [dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def backfilled(airflow_services):
    root = lake.lake_root(airflow_services.lake_url)
    for day in BACKFILL_DAYS:
        write_raw_day(root, day)
    airflow_services.cli("dags", "unpause", "jobreqs_daily")
    airflow_services.cli("backfill", "create", "--dag-id", "jobreqs_daily",
                         "--from-date", BACKFILL_DAYS[0].isoformat(), "--to-date", BACKFILL_DAYS[-1].isoformat())

    def backfill_runs():
        return [r for r in airflow_services.dag_runs("jobreqs_daily") if r["run_id"].startswith("backfill__")]

    def finished():
        runs = backfill_runs()
        return len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs)

    airflow_services.wait_for(finished, "three backfill runs to finish", 480)
    return backfill_runs()


def test_backfill_runs_three_dates_and_lands_each_once(backfilled, airflow_services):
    assert sorted(r["state"] for r in backfilled) == ["success"] * 3, airflow_services.log_tail("scheduler")
    assert sorted(r["logical_date"][:10] for r in backfilled) == [d.isoformat() for d in BACKFILL_DAYS]
    with psycopg.connect(airflow_services.warehouse_conninfo) as conn:
        # (The scheduler also ran today's scheduled run when the DAG was unpaused: left out here.)
        per_day = dict(conn.execute(
            "SELECT posting_date, count(*) FROM jobreqs.postings WHERE posting_date = ANY(%s) GROUP BY 1",
            (BACKFILL_DAYS,)).fetchall())
        distinct = conn.execute("SELECT count(DISTINCT (source, source_id)) FROM jobreqs.postings "
                                "WHERE posting_date = ANY(%s)", (BACKFILL_DAYS,)).fetchone()[0]
        stages = conn.execute(
            "SELECT count(DISTINCT run_id) FROM jobreqs.pipeline_runs "
            "WHERE stage = 'publish' AND run_id LIKE 'backfill%'").fetchone()[0]
    assert per_day == {day: 5 for day in BACKFILL_DAYS}
    assert distinct == 15 and stages == 3


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def login(page, services) -> None:
    page.goto(services.base_url + "/")
    page.wait_for_selector("input[name=username]", timeout=60_000)
    page.fill("input[name=username]", services.username)
    page.fill("input[name=password]", services.password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)


def test_ui_lists_the_daily_dag_with_its_last_run_state(backfilled, airflow_services, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    login(page, airflow_services)
    page.goto(airflow_services.base_url + "/dags")
    row = page.get_by_text("jobreqs_daily", exact=True).first
    row.wait_for(timeout=60_000)
    # The list shows the last run's state; give the UI's polling a moment to show the finished run.
    deadline = time.monotonic() + 60
    while "success" not in page.content().lower() and time.monotonic() < deadline:
        page.reload()
        page.wait_for_timeout(2000)
    page.screenshot(path=str(artifacts_dir / "airflow-dags-list.png"), full_page=True)
    assert "success" in page.content().lower()
    page.close()


def _legend(page) -> list[str]:
    return page.locator("#trend-chart .legendtext").all_text_contents()


def test_trends_page_inside_the_airflow_ui(backfilled, airflow_services, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    login(page, airflow_services)
    # The nav entry opens the page inside the UI (an external view).
    page.goto(airflow_services.base_url + "/plugin/jobreqs-trends")
    page.frame_locator("iframe").locator("#trend-chart .main-svg").first.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "airflow-trends-nav.png"), full_page=True)

    # The page itself, with the data of the backfill and of today's run.
    page.goto(airflow_services.base_url + "/jobreqs-trends/?top=8")
    page.locator("#trend-chart .main-svg").first.wait_for(timeout=60_000)
    everything = _legend(page)
    assert len(everything) == 8
    page.screenshot(path=str(artifacts_dir / "airflow-trends-page.png"), full_page=True)
    # The backfilled Indeed fixtures name Tableau for data analysts: the filter narrows to them
    # (top 20: today's sandbox postings, whose technology mix drifts by date, come in too).
    page.goto(airflow_services.base_url + "/jobreqs-trends/?top=20&source=indeed&keyword=data+analyst")
    page.locator("#trend-chart .main-svg").first.wait_for(timeout=60_000)
    analysts = _legend(page)
    assert "tableau" in analysts and analysts != everything
    page.screenshot(path=str(artifacts_dir / "airflow-trends-filtered.png"), full_page=True)
    page.close()
