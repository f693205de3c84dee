"""The office app's pages and API: documents awaiting approval."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import threading
from dataclasses import dataclass, field

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from office_app.identity import AssertionVerifier, Caller

ASSERTION_HEADER = "govmobile-assertion"


@dataclass
class Document:
    id: int
    title: str
    submitted_by: str
    status: str = "awaiting approval"
    decided_by: str | None = None
    decided_at: str | None = None


@dataclass
class Registry:
    """Documents in memory: this is a demonstration, not a records system."""

    documents: dict[int, Document] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def seeded(cls) -> Registry:
        registry = cls()
        for title, who in (
            ("Flood damage report, Ward 7", "district office"),
            ("Culvert repair order #118", "roads desk"),
            ("Relief supplies requisition", "logistics"),
        ):
            registry.add(title, who)
        return registry

    def add(self, title: str, submitted_by: str) -> Document:
        with self.lock:
            document = Document(next(self.ids), title, submitted_by)
            self.documents[document.id] = document
            return document


def create_app(verifier: AssertionVerifier, registry: Registry | None = None) -> Starlette:
    registry = registry or Registry.seeded()

    def caller_of(request: Request | WebSocket) -> Caller | None:
        token = request.headers.get(ASSERTION_HEADER)
        if not token:
            return None
        try:
            return verifier.verify(token)
        except jwt.PyJWTError:
            return None

    def refused() -> JSONResponse:
        return JSONResponse(
            {
                "error": "unauthenticated",
                "message": "this app accepts requests only through the GovMobile gateway",
            },
            401,
        )

    async def home(request: Request) -> Response:
        caller = caller_of(request)
        if caller is None:
            return refused()
        rows = "".join(
            f"<tr><td>{d.id}</td><td>{html.escape(d.title)}</td><td>{html.escape(d.status)}</td></tr>"
            for d in registry.documents.values()
        )
        return HTMLResponse(
            f"<!doctype html><title>Office approvals</title><h1>Documents</h1>"
            f"<p>Signed in as <b>{html.escape(caller.user)}</b> ({html.escape(', '.join(caller.groups))}) "
            f"of {html.escape(caller.tenant)}, on device {html.escape(caller.device_id)}.</p>"
            f"<table><tr><th>#</th><th>Title</th><th>Status</th></tr>{rows}</table>"
        )

    async def whoami(request: Request) -> Response:
        caller = caller_of(request)
        if caller is None:
            return refused()
        return JSONResponse(
            {
                "user": caller.user,
                "groups": caller.groups,
                "device_id": caller.device_id,
                "tenant": caller.tenant,
            }
        )

    async def documents(request: Request) -> Response:
        if caller_of(request) is None:
            return refused()
        return JSONResponse([vars(d) for d in registry.documents.values()])

    async def approve(request: Request) -> Response:
        caller = caller_of(request)
        if caller is None:
            return refused()
        document = registry.documents.get(int(request.path_params["document_id"]))
        if document is None:
            return JSONResponse({"error": "not_found", "message": "no such document"}, 404)
        if document.status != "awaiting approval":
            return JSONResponse({"error": "conflict", "message": f"already {document.status}"}, 409)
        document.status, document.decided_by = "approved", caller.user
        document.decided_at = dt.datetime.now(dt.UTC).isoformat()
        return JSONResponse(vars(document))

    async def live(websocket: WebSocket) -> None:
        caller = caller_of(websocket)
        if caller is None:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        await websocket.send_json(
            {
                "hello": caller.user,
                "pending": sum(d.status == "awaiting approval" for d in registry.documents.values()),
            }
        )
        while True:
            text = await websocket.receive_text()
            await websocket.send_json({"from": caller.user, "echo": text})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/whoami", whoami),
            Route("/healthz", health),
            Route("/api/documents", documents),
            Route("/api/documents/{document_id:int}/approve", approve, methods=["POST"]),
            WebSocketRoute("/live", live),
        ]
    )
