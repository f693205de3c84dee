"""The parts of a FastAPI application every service sets up the same way."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmobile.web.errors import ErrorHook, install_error_handlers
from govmobile.web.fastpath import FastPaths, FastRoute
from govmobile.web.limits import BodySizeLimit
from govmobile.web.methods import AllowedMethods
from govmobile.web.openapi import describe
from govmobile.web.text import NoNulText


def configure_logging(level: str) -> None:
    """One line per record, with time, level and logger."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True
    )


def harden(
    app: FastAPI,
    *,
    max_body_bytes: int,
    on_error: ErrorHook | None = None,
    fast_routes: Sequence[FastRoute] = (),
    description: str = "",
    streamed_bodies: Mapping[str, int] | None = None,
) -> None:
    """Common error shape, refusals before routing (size, NUL, methods), security headers, the
    fast paths in front of it all, and an OpenAPI document that says all of it."""
    install_error_handlers(app, on_error)
    # The last added is the outermost: sizes first, then NULs, then which methods a path serves.
    app.add_middleware(
        AllowedMethods,
        routes=lambda: app.router.routes,
        extra=lambda: [(route.method, route.path) for route in fast_routes],
    )
    app.add_middleware(NoNulText)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, streamed=streamed_bodies)
    app.add_middleware(_SecurityHeaders)
    if fast_routes:
        # Outermost: these endpoints skip the framework's layers (see govmobile.web.fastpath).
        app.add_middleware(FastPaths, routes=fast_routes, max_body_bytes=max_body_bytes, on_error=on_error)
    describe(app, fast_routes=fast_routes, description=description)


class _SecurityHeaders:
    """Pure ASGI (not BaseHTTPMiddleware, whose task groups cost more than most endpoints)."""

    _HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in self._HEADERS if n not in present]
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
