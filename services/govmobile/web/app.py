"""The parts of a FastAPI application every service sets up the same way."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from govmobile.web.errors import ErrorHook, install_error_handlers
from govmobile.web.limits import BodySizeLimit


def configure_logging(level: str) -> None:
    """One line per record, with time, level and logger."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True
    )


def harden(app: FastAPI, *, max_body_bytes: int, on_error: ErrorHook | None = None) -> None:
    """Common error shape, body size limit and security headers."""
    install_error_handlers(app, on_error)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(_SecurityHeaders)


class _SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)

    async def dispatch(self, request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response
