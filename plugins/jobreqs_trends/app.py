"""The technology-trends page: a FastAPI app that the Airflow plugin mounts at ``/jobreqs-trends``.

Server-rendered HTML (Jinja2) with the chart data embedded as JSON, drawn by plotly.js served from
the ``plotly`` pip package (``/static/plotly.min.js``): no CDN, works offline. Filters are a plain
GET form, so every view has a URL (shareable, and it works inside the Airflow UI's iframe).

Routes (relative to the mount point):
  ``/``                 the page; query: start, end (YYYY-MM-DD), source, keyword, category, top, metric
  ``/api/trends``       the same data as JSON (the coverage strip's rows and warnings included)
  ``/export.csv``       the trend rows of the period and slice (technology_trends) with each date's
                        coverage for the row's source (coverage_daily), CSV, streamed
  ``/export.parquet``   the same as Parquet
  ``/static/plotly.min.js``

Reads the warehouse as ``jobreqs_reader`` (``transforms.marts.reader_connection``). Inside the
Airflow api-server every route requires a logged-in Airflow user (``require_login=True``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from transforms import marts

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_DAYS = 28
#: Dates the page accepts (and the longest period): anything else is a 400, never an overflow.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
MAX_DAYS = 3_660
METRICS = {"share_7d": "rolling 7-day share", "share": "daily share"}

_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _pp(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f} pp"


def _updown(value: float | None) -> str:
    return "" if not value else ("up" if value > 0 else "down")


_templates.filters.update(pct=_pct, pp=_pp, updown=_updown)


@functools.lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """plotly.js as shipped inside the ``plotly`` pip package (read once)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


def _parse_date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name} must be a date, YYYY-MM-DD: {text[:40]!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(status_code=400, detail=f"{name} must be between {FIRST_DAY} and {LAST_DAY}")
    return day


class Params:
    """The page's query parameters, validated (bad values give a 400 with the reason)."""

    def __init__(
        self,
        start: Annotated[str | None, Query(description="first day, YYYY-MM-DD")] = None,
        end: Annotated[str | None, Query(description="last day, YYYY-MM-DD")] = None,
        source: Annotated[str, Query(max_length=50)] = marts.ALL,
        keyword: Annotated[str, Query(max_length=200)] = marts.ALL,
        category: Annotated[str, Query(max_length=100)] = "",
        top: Annotated[int, Query(ge=1, le=50)] = 10,
        metric: Annotated[str, Query()] = "share_7d",
    ) -> None:
        if metric not in METRICS:
            raise HTTPException(status_code=400, detail=f"metric must be one of {', '.join(METRICS)}")
        self.start = _parse_date(start, "start")
        self.end = _parse_date(end, "end")
        self.source, self.keyword = source or marts.ALL, keyword or marts.ALL
        self.category = category or None
        self.top, self.metric = top, metric

    def trend_filter(self, last_day: dt.date | None) -> marts.TrendFilter:
        """The period asked for; by default the 28 days ending on the last day with data."""
        end = self.end or last_day or dt.date.today()
        start = self.start or (end - dt.timedelta(days=DEFAULT_DAYS - 1))
        if (end - start).days + 1 > MAX_DAYS:
            raise HTTPException(status_code=400, detail=f"the period may span at most {MAX_DAYS} days")
        try:
            return marts.TrendFilter(start, end, self.source, self.keyword, self.category)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None


def gather(conn: psycopg.Connection, params: Params) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-friendly data."""
    options = marts.filter_options(conn)
    last_day = options["last_day"]
    f = params.trend_filter(last_day)
    rows = marts.compare_periods(conn, f)
    top = [r for r in rows if r["postings"] > 0][: params.top]
    series = marts.trend_series(conn, f, [r["technology"] for r in top])
    prev = f.previous()
    from jobreqs import coverage

    covered = coverage.rows(conn, f.start, f.end)
    return {
        "filter": {"start": f.start.isoformat(), "end": f.end.isoformat(), "source": f.source,
                   "keyword": f.keyword, "category": f.category or "", "top": params.top,
                   "metric": params.metric, "metric_label": METRICS[params.metric],
                   "prev_start": prev.start.isoformat(), "prev_end": prev.end.isoformat()},
        "options": {**options, "first_day": options["first_day"] and options["first_day"].isoformat(),
                    "last_day": last_day and last_day.isoformat(), "metrics": METRICS},
        "top": top,
        "series": series,
        "movers": marts.movers(rows),
        "run": marts.last_run(conn),
        "unmapped_terms_waiting": marts.unmapped_terms_waiting(conn),
        "total_postings": top[0]["total_postings"] if top else _slice_total(conn, f),
        # The strip under the chart: the slice's source ('all': the weakest source each day);
        # the warnings name each source whose coverage fell well below its usual level.
        "coverage": [r for r in covered if r["source"] == f.source],
        "coverage_warnings": [r for r in covered if r["below_usual"] and r["source"] != marts.ALL
                              and f.source in (marts.ALL, r["source"])],
        "checks": marts.quality_checks(conn, f.start, f.end),
        "versions": marts.derivation_versions(conn, f.start, f.end),
    }


def _slice_total(conn: psycopg.Connection, f: marts.TrendFilter) -> int:
    row = conn.execute(
        """SELECT COALESCE(sum(postings), 0) AS n FROM jobreqs.postings_daily
           WHERE source = %s AND keyword = %s AND posting_date BETWEEN %s AND %s""",
        (f.source, f.keyword, f.start, f.end),
    ).fetchone()
    return int(row["n"])


async def _require_airflow_user(request: Request) -> None:
    """Refuse (401/403) a request without a valid Airflow login: the UI's session cookie or a
    bearer token, checked by the api-server's own ``get_user``. Imported at request time: the
    plugin is also loaded by schedulers and workers, which need not import the API's security."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    await get_user(request, None, await bearer_scheme(request))


def _query_string(request: Request) -> str:
    return request.url.query


def create_app(require_login: bool = True, conninfo: str | None = None) -> FastAPI:
    """The trends app. ``require_login``: every route needs an authenticated Airflow user (only
    possible inside the api-server); ``conninfo``: read from this database instead of the
    configured connections (tests)."""
    dependencies = [Depends(_require_airflow_user)] if require_login else []
    app = FastAPI(title="jobreqs technology trends", dependencies=dependencies,
                  docs_url=None, redoc_url=None, openapi_url=None)

    def connection():
        return marts.reader_connection(conninfo)

    def load(params: Params) -> dict[str, Any]:
        try:
            with connection() as conn:
                return gather(conn, params)
        except (psycopg.OperationalError, psycopg.errors.UndefinedTable, PermissionError) as exc:
            log.warning("trends page cannot read the warehouse: %s", exc)
            # The details (host, user, database) go to the log, not to the browser.
            raise HTTPException(status_code=503, detail="the warehouse cannot be read right now; "
                                                        "the api-server's log says why") from None

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.endswith("/api/trends"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        html = _templates.get_template("error.html").render(status=exc.status_code, detail=exc.detail)
        return HTMLResponse(html, status_code=exc.status_code, headers=exc.headers)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, params: Annotated[Params, Depends()]) -> HTMLResponse:
        data = load(params)
        html = _templates.get_template("trends.html").render(data=data, query=_query_string(request))
        return HTMLResponse(html)

    @app.get("/api/trends")
    def api_trends(params: Annotated[Params, Depends()]) -> dict[str, Any]:
        return load(params)

    @app.get("/static/plotly.min.js")
    def plotly() -> Response:
        return Response(plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    def _export_filter(params: Params) -> marts.TrendFilter:
        with connection() as conn:
            return params.trend_filter(marts.filter_options(conn)["last_day"])

    def _file_name(f: marts.TrendFilter, suffix: str) -> str:
        return f"jobreqs_trends_{f.start}_{f.end}.{suffix}"

    @app.get("/export.csv")
    def export_csv(params: Annotated[Params, Depends()]) -> StreamingResponse:
        from transforms.export import iter_csv

        f = _export_filter(params)

        def body():
            with connection() as conn:
                yield from iter_csv(marts.trend_rows(conn, f.start, f.end, f.source, f.keyword, f.category))

        return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{_file_name(f, "csv")}"'})

    @app.get("/export.parquet")
    def export_parquet(params: Annotated[Params, Depends()]) -> FileResponse:
        from transforms.export import write_parquet

        f = _export_filter(params)
        # Parquet's footer is written last: build the file on disk (streamed rows), then send it.
        from jobreqs import temporaries

        root = temporaries.work_root("trends_export")
        root.mkdir(parents=True, exist_ok=True)
        temporaries.sweep(root)  # files of an api-server that was killed mid-export
        path = str(root / temporaries.temp_name("export.parquet"))
        try:
            with connection() as conn:
                write_parquet(marts.trend_rows(conn, f.start, f.end, f.source, f.keyword, f.category), path)
        except BaseException:
            if os.path.exists(path):
                os.unlink(path)
            raise
        return FileResponse(path, media_type="application/vnd.apache.parquet", filename=_file_name(f, "parquet"),
                            background=BackgroundTask(os.unlink, path))

    return app
