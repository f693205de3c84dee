"""Admin bearer-token authentication for every service's admin API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from govmobile.core.accounts import Principal, resolve_token
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Unauthenticated

#: As a FastAPI security scheme, so that every route that needs a token says so in its OpenAPI
#: document (``bearer``); ``auto_error=False`` leaves the refusal to the common error shape.
BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="gmt_...",
    description="a session token from POST /api/v1/auth/login, or an API token from POST /api/v1/tokens",
    auto_error=False,
)


class BearerAuthenticator:
    """A FastAPI dependency: the ``Principal`` behind ``Authorization: Bearer <token>``."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
    ) -> Principal:
        if credentials is None or not credentials.credentials.strip():
            raise Unauthenticated(
                "this endpoint needs an admin token: send 'Authorization: Bearer <token>' "
                "(get one with `govmobile-admin login`)"
            )
        with self.database.session() as session:
            return resolve_token(session, credentials.credentials.strip(), now=self.clock())
