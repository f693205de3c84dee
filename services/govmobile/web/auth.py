"""Admin bearer-token authentication for every service's admin API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import Request

from govmobile.core.accounts import Principal, resolve_token
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Unauthenticated


class BearerAuthenticator:
    """A FastAPI dependency: the ``Principal`` behind ``Authorization: Bearer <token>``."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "this endpoint needs an admin token: send 'Authorization: Bearer <token>' "
                "(get one with `govmobile-admin login`)"
            )
        with self.database.session() as session:
            return resolve_token(session, token.strip(), now=self.clock())
