"""Refuse the NUL character (U+0000) anywhere in a request's path, query or JSON body.

No GovMobile text holds it, PostgreSQL's text columns cannot store it (the driver raises on it,
in a filter as much as in a row), and C-based tools downstream treat it as the end of a string.
Refusing it once, at the edge of every service, keeps that out of every field and filter.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govmobile.web.errors import error_body

NUL_MESSAGE = "the request contains a NUL character (U+0000), which no GovMobile text may hold"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def json_holds_nul(body: bytes) -> bool:
    """Whether a JSON body has U+0000 in a string or a key (cheap unless it may have)."""
    if b"\\u0000" not in body and b"\x00" not in body:
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False  # not JSON: the endpoint refuses it for what it is
    return _holds_nul(document)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def url_holds_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or (
        b"%00" in query.lower() and b"\x00" in urllib.parse.unquote_to_bytes(query)
    )


class NoNulText:
    """ASGI middleware: 422 ``invalid_request`` for a NUL in the path, the query or a JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if url_holds_nul(scope):
            await _refuse(send)
            return
        content_type = dict(scope.get("headers", ())).get(b"content-type", b"")
        if scope.get("method") not in _BODY_METHODS or b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # the size limit, outside this middleware, bounds what is read here
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_holds_nul(body):
            await _refuse(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send) -> None:
    body = json.dumps(error_body("invalid_request", NUL_MESSAGE)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
