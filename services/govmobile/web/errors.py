"""Domain errors to HTTP responses, in exactly one place per service.

Every error body has the same shape: ``{"error": "<code>", "message": "<what to do>"}``.
Unexpected exceptions are logged with a reference and answered without any detail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import MISSING, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from govmobile.core.errors import (
    Conflict,
    Gone,
    GovMobileError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Throttled,
    Unauthenticated,
    UnavailableDependency,
)

log = logging.getLogger("govmobile.web")

STATUS_OF: dict[type[GovMobileError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    QuotaExceeded: 409,
    Gone: 410,
    Throttled: 429,
    UnavailableDependency: 503,
}

ErrorHook = Callable[[str], None]


class ErrorBody(BaseModel):
    """The body of every error answer (the OpenAPI documents name it for each status)."""

    error: str = Field(description="a stable code for programs, e.g. not_found or invalid_request")
    message: str = Field(description="what was wrong and what to do, for people")
    details: dict[str, Any] | MISSING = Field(
        default=MISSING, description="facts a program may act on, e.g. the ids a check-in must drop"
    )


def status_for(error: GovMobileError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def error_body(code: str, message: str, details: dict[str, object] | None = None) -> dict[str, object]:
    body: dict[str, object] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return body


def domain_error_response(exc: GovMobileError) -> JSONResponse:
    """The response for a domain error, wherever it was raised."""
    headers = None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(
        error_body(exc.code, exc.public_message, exc.details), status_code=status_for(exc), headers=headers
    )


def validation_error_response(errors: Sequence[Any]) -> JSONResponse:
    """422 for a body or query that does not validate (FastAPI's or pydantic's error list)."""
    return JSONResponse(error_body("invalid_request", describe_errors(errors)), status_code=422)


def unexpected_error_response(method: str, path: str, exc: BaseException) -> JSONResponse:
    """500 with a reference to quote; the details go to the log only."""
    reference = secrets.token_hex(6)
    log.error("unhandled error, reference %s, on %s %s", reference, method, path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", f"internal error; quote reference {reference} to the operator"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI, on_error: ErrorHook | None = None) -> None:
    """Register the handlers that turn every failure into the common error shape."""

    def count(code: str) -> None:
        if on_error is not None:
            on_error(code)

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GovMobileError)
        count(exc.code)
        return domain_error_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        count("invalid_request")
        return validation_error_response(exc.errors())

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        count(code)
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        count("internal_error")
        return unexpected_error_response(request.method, request.url.path, exc)

    app.add_exception_handler(GovMobileError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def describe_errors(errors: Sequence[Any]) -> str:
    """The same, for a list of pydantic errors."""
    parts = []
    for error in list(errors)[:10]:
        if error.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}")
    return "; ".join(parts) or "the request is invalid"
