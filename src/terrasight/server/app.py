"""The FastAPI app: routes, error responses, the token guard and the page.

Example:
    >>> import uvicorn  # doctest: +SKIP
    >>> uvicorn.run(create_app(ServerConfig(jobs="jobs/")), host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from rasterio.errors import RasterioError

from terrasight.errors import TerrasightError, http_status
from terrasight.server.auth import TokenGuard
from terrasight.server.config import ServerConfig
from terrasight.server.context import AppContext
from terrasight.server.routes_jobs import router as jobs_router
from terrasight.server.routes_openai import router as openai_router
from terrasight.server.routes_results import router as results_router
from terrasight.server.routes_search import router as search_router

log = logging.getLogger(__name__)


def static_dir() -> Path:
    """The page's files (HTML, JS, CSS and the vendored Leaflet)."""
    return Path(str(files("terrasight.server") / "static"))


def create_app(config: ServerConfig) -> FastAPI:
    """The app for ``config``; jobs left unfinished in its jobs folder resume when it starts.

    No CORS headers are sent: only pages served by this server may call it from a browser.
    """
    context = AppContext(config)
    release = version("terrasight")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resumed = context.runner.resume()
        if resumed:
            log.warning("resuming %d unfinished job(s): %s", len(resumed), ", ".join(resumed))
        yield
        context.close()

    app = FastAPI(
        title="terrasight",
        version=release,
        summary="What changed between two images of one place: jobs, results, map tiles, questions.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; the spec stays served
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = context
    _add_error_handlers(app)
    app.include_router(jobs_router)
    app.include_router(results_router)
    app.include_router(search_router)
    app.include_router(openai_router)

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Whether the server is up (the one route that needs no token)."""
        return {"status": "ok", "version": release}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(static_dir() / "index.html", headers={"cache-control": "no-store"})

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    if config.token:
        app.add_middleware(TokenGuard, token=config.token)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"error": kind, "detail": sentence}``, never a traceback."""

    @app.exception_handler(TerrasightError)
    async def library_error(request: Request, exc: TerrasightError) -> JSONResponse:
        return _error(http_status(exc), type(exc).__name__, str(exc))

    @app.exception_handler(RasterioError)
    async def raster_error(request: Request, exc: RasterioError) -> JSONResponse:
        return _error(422, "RasterError", f"raster error: {exc}")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _error(422, "InvalidRequest", f"the request does not fit the API: {problems}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "InternalError", "internal error; the server log has the details.")


def _error(status: int, kind: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status)
