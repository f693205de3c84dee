"""A few hot endpoints served as bare ASGI handlers, in front of the framework.

FastAPI's routing, dependency injection and response validation cost several times more than
the work behind a heartbeat check-in, the most frequent request of the appliance. An endpoint
registered here reads its body (within the size limit), gets the request headers, and returns a
response; its errors become the same responses as everywhere else (``govmobile.web.errors``).

Each endpoint is declared as a :class:`FastRoute` with the models it reads and answers, so that
the service's OpenAPI document describes it like any other (``govmobile.web.openapi``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmobile.core.errors import GovMobileError
from govmobile.web.errors import (
    ErrorHook,
    domain_error_response,
    error_body,
    unexpected_error_response,
    validation_error_response,
)
from govmobile.web.text import NUL_MESSAGE, json_holds_nul

FastHandler = Callable[[Headers, bytes], Awaitable[Response]]
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class FastRoute:
    """An endpoint served in front of the framework, with what its OpenAPI operation says."""

    method: str
    path: str
    handler: FastHandler
    request_model: type[BaseModel]
    response_model: type[BaseModel]
    summary: str
    description: str = ""
    tags: Sequence[str] = ()
    #: Error statuses the handler can answer besides 413, 422 and 500 (every fast route's).
    error_statuses: Sequence[int] = field(default_factory=tuple)


class FastPaths:
    """ASGI middleware: serve ``(method, path)`` pairs with their handlers, the rest downstream."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[FastRoute],
        max_body_bytes: int,
        on_error: ErrorHook | None = None,
    ) -> None:
        self.app = app
        self.routes = {(route.method, route.path): route.handler for route in routes}
        self.max_body_bytes = max_body_bytes
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        body = await self._body(receive)
        if body is None:
            response: Response = JSONResponse(
                error_body("too_large", f"the request body is larger than {self.max_body_bytes} bytes"),
                status_code=413,
            )
            self._count("too_large")
        elif json_holds_nul(body):
            response = JSONResponse(error_body("invalid_request", NUL_MESSAGE), status_code=422)
            self._count("invalid_request")
        else:
            response = await self._answer(handler, Headers(scope=scope), body, scope)
        response.headers.update(_SECURITY_HEADERS)
        await response(scope, receive, send)

    async def _answer(self, handler: FastHandler, headers: Headers, body: bytes, scope: Scope) -> Response:
        try:
            return await handler(headers, body)
        except GovMobileError as error:
            self._count(error.code)
            return domain_error_response(error)
        except ValidationError as error:
            self._count("invalid_request")
            return validation_error_response(error.errors())
        except Exception as error:  # noqa: BLE001 - one clear 500, details in the log
            self._count("internal_error")
            return unexpected_error_response(scope["method"], scope["path"], error)

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it exceeds the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _count(self, code: str) -> None:
        if self.on_error is not None:
            self.on_error(code)
