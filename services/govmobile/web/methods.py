"""Which methods a path serves: ``OPTIONS`` answers them, and a method the path does not serve
is a 405 that lists them all.

The framework's router answers for the first route whose path matches, so a path served by
several routes (``GET``, ``PUT`` and ``DELETE`` of one route each) would advertise only one
method. RFC 9110 §9.3.7 and §15.5.6: ``Allow`` lists every method the target resource supports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmobile.web.errors import error_body


class AllowedMethods:
    """ASGI middleware around an application's router.

    ``routes`` is read at each request (the application adds its routes after its middleware);
    ``extra`` names endpoints served in front of the framework, as ``(method, path)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Iterable[BaseRoute]],
        extra: Callable[[], Iterable[tuple[str, str]]] = lambda: (),
    ) -> None:
        self.app = app
        self.routes = routes
        self.extra = extra

    def allowed(self, scope: Scope) -> set[str]:
        methods: set[str] = {m for m, p in self.extra() if p == scope.get("path")}
        # Included routers are flattened into the routes they hold, as the framework sees them.
        for route in iter_route_contexts(list(self.routes())):
            match, _ = route.matches({**scope, "method": "GET"})
            if match is Match.NONE:
                continue
            if not route.methods:
                return set()  # a mount or a catch-all: it answers for itself
            methods.update(route.methods)
        return methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed and "OPTIONS" not in allowed:
                await _answer(send, 204, _allow(allowed), b"")
                return
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        in_front = {m for m, p in self.extra() if p == path}
        if in_front and method not in in_front:
            # A path served in front of the framework, which would call it unknown (404).
            await self._refuse(send, scope)
            return
        # Served methods pass untouched (nothing to compute on the way); a 405 from the router
        # is answered again here, with every method of the path.
        refused = False

        async def send_or_replace(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 405:
                refused = True
                await self._refuse(send, scope)
                return
            if not refused:
                await send(message)

        await self.app(scope, receive, send_or_replace)

    async def _refuse(self, send: Send, scope: Scope) -> None:
        allow = _allow(self.allowed(scope))
        message = f"{scope.get('method', '')} is not served here; this path serves {allow}"
        await _answer(send, 405, allow, json.dumps(error_body("method_not_allowed", message)).encode())


def _allow(methods: set[str]) -> str:
    return ", ".join(sorted(methods | {"OPTIONS"}))


async def _answer(send: Send, status: int, allow: str, body: bytes) -> None:
    headers = [(b"allow", allow.encode()), (b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
