"""Refuse request bodies larger than a limit before the application reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length, or a chunked body, exceeds ``max_bytes``.

    A declared length is checked up front (the server will not deliver more than it). A body
    without one is read into memory up to the limit and replayed, so the application never
    sees a partial body.

    ``streamed`` names the few routes that take large bodies (the portal's package uploads) with
    their own limit: a declared length over it is refused here, and a body without one is passed
    on unread, because such a route writes it to disk as it arrives and counts every byte itself
    (buffering 300 MB here would be the memory exhaustion this middleware exists to prevent).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, streamed: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length")
        limit = self.streamed.get(scope.get("path", ""), self.max_bytes)
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _refuse(send, 400, "invalid_request", "the Content-Length header is not a number")
                return
            if size > limit:
                await _refuse(send, 413, "too_large", f"the request body is larger than {limit} bytes")
                return
            await self.app(scope, receive, send)
            return
        if scope.get("path", "") in self.streamed:
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_bytes:
                await _refuse(send, 413, "too_large", self._message())
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
