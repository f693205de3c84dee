"""An intranet app stand-in for gateway tests: it records what reached it and echoes WebSockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket


@dataclass
class RecordingUpstream:
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def anything(request: Request) -> JSONResponse:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "headers": dict(request.headers),
                    "body": await request.body(),
                }
            )
            return JSONResponse({"path": request.url.path, "saw": sorted(request.headers.keys())})

        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            self.requests.append(
                {"method": "WEBSOCKET", "path": websocket.url.path, "headers": dict(websocket.headers)}
            )
            while True:
                message = await websocket.receive_text()
                await websocket.send_text(f"echo: {message}")

        return Starlette(
            routes=[
                WebSocketRoute("/ws", echo),
                Route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    def headers_seen(self) -> list[dict[str, str]]:
        return [r["headers"] for r in self.requests]
