"""The FastAPI application: ``create_app(settings)`` builds it; nothing is created at import.

Everything is under ``/api/v1`` (OpenAPI at ``/docs`` and ``/openapi.json``). Errors map to HTTP in one place,
here: a :class:`~server.errors.ServiceError` to its status, a request that fails validation to 422, anything
unexpected to 500; every error body is ``{"error": {"code", "message"}}``, the message naming what was wrong.
CORS is closed unless ``FUSIONGAIT_CORS_ORIGINS`` names origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from server import __version__
from server.blobs import BlobStore
from server.config import Settings
from server.db import Database
from server.deps import ServiceState
from server.errors import ServiceError
from server.fanout import open_fanout
from server.home import queue_stale_days, stale_home_sessions
from server.jobs import AnalysisRunner
from server.live import LiveHub
from server.routes import ROUTERS
from server.schemas import ErrorOut

__all__ = ["API_PREFIX", "STATIC_DIR", "create_app"]

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).with_name("static")
log = logging.getLogger("fusiongait.server")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _queue_home_days_every(interval_s: float, database: Database, runner: AnalysisRunner) -> None:
    """Now and then, queue the days of home sessions that got relay uploads since their last analysis."""

    def queue() -> list[str]:
        with database.session() as db:
            ids = [row.id for s, p in stale_home_sessions(db) for row in queue_stale_days(db, s, p)]
        return ids  # committed: the workers can see them

    while True:
        await asyncio.sleep(interval_s)
        try:
            for home_day_id in await asyncio.to_thread(queue):
                runner.submit_home_day(home_day_id)
        except Exception:  # keep looking next time; a database hiccup must not end home monitoring
            log.exception("queueing the home days failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings : Settings, optional
        Default: read from the environment (``FUSIONGAIT_*``).

    The database is migrated and the analysis workers started when the app starts (its lifespan), and both are
    closed when it stops.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.effective_database_url)
        database.migrate()
        runner = AnalysisRunner(
            database.url,
            settings.blob_dir,
            workers=settings.analysis_workers,
            home_min_wear_s=None if settings.home_min_wear_h is None else settings.home_min_wear_h * 3600.0,
            lease_s=settings.job_lease_s,
            poll_s=settings.job_poll_s,
        )
        blobs = BlobStore(settings.blob_dir)
        hub = LiveHub(database, blobs, runner, settings.data_dir / "live")
        fanout = await open_fanout(settings.fanout_url)  # FanoutError (start refused) when it does not answer
        if fanout.shared:  # several processes: live sessions are followed from any of them
            from server.live_fanout import LiveLink  # noqa: PLC0415 - only then

            hub.link = LiveLink(hub, fanout, namespace=settings.fanout_namespace)
            await hub.link.start()
        app.state.service = ServiceState(settings, database, blobs, runner, hub)
        runner.start(database)
        home_task = (
            asyncio.create_task(_queue_home_days_every(settings.home_analysis_interval_s, database, runner))
            if settings.home_analysis_interval_s > 0
            else None
        )
        try:
            yield
        finally:
            if home_task is not None:
                home_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await home_task
            await hub.shutdown()
            runner.stop()
            database.dispose()

    app = FastAPI(
        title="FusionGait",
        version=__version__,
        summary="Gait and pelvic-compensation analysis after lumbar spinal fusion (sacral + thigh IMUs).",
        description=(
            "Patients, sessions, recordings, relay uploads, background analyses and reports. Every data route needs "
            "a bearer token (`fusiongait admin create-token`). Flags are decision support, never a diagnosis."
        ),
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        responses={
            401: {"model": ErrorOut, "description": "missing, invalid, expired or revoked token"},
            403: {"model": ErrorOut, "description": "the token's role may not do this"},
            404: {"model": ErrorOut, "description": "no such resource, or not the token's to see"},
            422: {"model": ErrorOut, "description": "the request is not valid"},
        },
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("service error: %s", exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return _error(exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "bad_input", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8): a request that is not valid
            return _error(422, "bad_input", f"body: {exc.detail}")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "internal_error", f"internal error ({type(exc).__name__}); it was logged")

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    # The dashboard: static files served by the service itself (no CDN; works offline). Mounted last, so the API,
    # /docs and /openapi.json take precedence.
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
    return app
