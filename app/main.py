"""The FastAPI application: lifespan resources, the one error shape, the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.admin.router import router as admin_router
from app.answers.admin_router import router as gaps_router
from app.answers.router import router as answers_router
from app.config import Settings, get_settings
from app.consular.router import router as consular_router
from app.content.router import router as content_router
from app.content.service import ContentStore
from app.conversations.router import router as conversations_router
from app.conversations.service import Conversations, SQLiteStateWriter
from app.db import create_engine, create_sessionmaker
from app.errors import ContentUnavailable, JolError, error_body

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.content_store = ContentStore(
            app.state.sessionmaker, settings.content_refresh_seconds
        )
        # SQLite: ordinary events are written on a connection of their own (see the class).
        writer = SQLiteStateWriter.for_url(settings.resolved_database_url, engine.dialect)
        app.state.conversations = Conversations(writer=writer)
        try:
            # Compile the content and build the question index now, not on a user's request.
            await app.state.content_store.current()
        except ContentUnavailable:
            log.warning("no content is published yet: run `jol content load`")
        try:
            yield
        finally:
            if writer is not None:
                writer.close()
            await engine.dispose()

    app = FastAPI(
        title="Jol API",
        version="0.1.0",
        lifespan=lifespan,
        description="Pre-departure orientation for labour migrants from Kyrgyzstan.",
    )
    app.state.settings = settings

    @app.exception_handler(JolError)
    async def _jol_error(_request: Request, exc: JolError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "the request is not valid", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side"), status_code=500
        )

    @app.get("/healthz", tags=["ops"], operation_id="healthz")
    async def healthz() -> dict[str, str]:
        """Say the process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], operation_id="readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Say whether the database answers and content is published."""
        checks: dict[str, str] = {}
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready, with the reason
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            content = await request.app.state.content_store.current()
            checks["content"] = f"version {content.version}"
        except Exception as exc:
            checks["content"] = f"error: {getattr(exc, 'message', type(exc).__name__)}"
        ready = not any(v.startswith("error") for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app.include_router(content_router)
    app.include_router(conversations_router)
    app.include_router(answers_router)
    app.include_router(consular_router)
    app.include_router(admin_router)
    app.include_router(gaps_router)
    return app
