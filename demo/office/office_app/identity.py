"""Verify the gateway's identity assertion: the ten lines any upstream app needs."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import jwt


@dataclass(frozen=True)
class Caller:
    user: str
    groups: list[str]
    device_id: str
    tenant: str


class AssertionVerifier:
    def __init__(self, jwks_url: str, *, audience: str, issuer: str, ca_file: str | None = None) -> None:
        context = ssl.create_default_context(cafile=ca_file)
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, ssl_context=context)
        self.audience = audience
        self.issuer = issuer

    def verify(self, token: str) -> Caller:
        """The caller named by a valid assertion; jwt.PyJWTError otherwise."""
        key = self._keys.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        return Caller(
            claims["sub"],
            list(claims.get("groups", [])),
            claims.get("device_id", ""),
            claims.get("tenant", ""),
        )
