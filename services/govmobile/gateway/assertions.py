"""Identity assertions for upstream apps: short-lived ES256 JWTs (RFC 7519, RFC 7518 §3.4).

The gateway signs one per authorized request (reused while the decision is cached) with a key
that rotates; every key still needed to verify a live assertion is published as a JWKS
(RFC 7517) at ``/.well-known/jwks.json``. Claims: ``iss`` (the gateway's public URL), ``aud``
(the route name), ``sub`` (the person's username), ``device_id``, ``tenant`` and
``tenant_id``, ``groups``, ``iat``/``nbf``/``exp`` (at most five minutes) and a unique ``jti``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile.core.database import utcnow

MAX_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    created_at: dt.datetime
    private_key: ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }


class KeyRing:
    """Signing keys in a directory (the gateway's volume): the newest signs, recent ones verify.

    A new key is made when the newest is older than ``rotation``; a replaced key is kept and
    published until every assertion it signed has expired.
    """

    def __init__(
        self,
        directory: Path,
        *,
        rotation: dt.timedelta = dt.timedelta(hours=24),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.directory = directory
        self.rotation = rotation
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []

    def current(self) -> SigningKey:
        """The key to sign with now, rotating first when it is due."""
        with self._lock:
            if not self._keys:
                self._keys = self._load()
            now = self.clock()
            if not self._keys or now - self._keys[-1].created_at >= self.rotation:
                self._keys.append(self._create(now))
                self._prune(now)
            return self._keys[-1]

    def published(self) -> list[SigningKey]:
        self.current()
        with self._lock:
            return list(self._keys)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.jwk() for key in self.published()]}

    def _create(self, now: dt.datetime) -> SigningKey:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey(
            f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}", now, ec.generate_private_key(ec.SECP256R1())
        )
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = self.directory / f"{key.kid}.pem"
        descriptor = path.open("xb")  # never overwrite a key
        with descriptor:
            path.chmod(0o600)
            descriptor.write(pem)
        (self.directory / f"{key.kid}.json").write_text(json.dumps({"created_at": now.isoformat()}))
        return key

    def _load(self) -> list[SigningKey]:
        keys = []
        for meta in sorted(self.directory.glob("*.json")) if self.directory.exists() else []:
            pem = meta.with_suffix(".pem")
            if not pem.exists():
                continue
            private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
            if isinstance(private, ec.EllipticCurvePrivateKey):
                created = dt.datetime.fromisoformat(json.loads(meta.read_text())["created_at"])
                keys.append(SigningKey(meta.stem, created, private))
        return sorted(keys, key=lambda k: k.created_at)

    def _prune(self, now: dt.datetime) -> None:
        # A key stops signing when its successor is made; its assertions live on for at most
        # MAX_LIFETIME, so it stays published until then (plus an hour for clock skew and caches).
        keep: list[SigningKey] = []
        for key, successor in zip(self._keys, [*self._keys[1:], None], strict=True):
            if successor is None or now - successor.created_at < MAX_LIFETIME + dt.timedelta(hours=1):
                keep.append(key)
            else:
                (self.directory / f"{key.kid}.pem").unlink(missing_ok=True)
                (self.directory / f"{key.kid}.json").unlink(missing_ok=True)
        self._keys = keep


class AssertionIssuer:
    def __init__(self, keys: KeyRing, *, issuer: str, lifetime: dt.timedelta = MAX_LIFETIME) -> None:
        if lifetime > MAX_LIFETIME:
            raise ValueError("assertions live at most five minutes")
        self.keys = keys
        self.issuer = issuer
        self.lifetime = lifetime

    def issue(
        self,
        *,
        audience: str,
        person: str,
        device_id: str,
        tenant: str,
        tenant_id: str,
        groups: list[str],
        now: dt.datetime,
    ) -> str:
        """A signed assertion of who is calling, for one route."""
        key = self.keys.current()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": person,
            "device_id": device_id,
            "tenant": tenant,
            "tenant_id": tenant_id,
            "groups": groups,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()) - 5,
            "exp": int((now + self.lifetime).timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "JWT"})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
