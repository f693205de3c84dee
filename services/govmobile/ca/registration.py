"""Registration authorities: the callers allowed to ask the CA for signatures.

The MDM (device certificates), the deployment (service and admin certificates) and later the
app portal (code signing) each have their own secret and may request only their profiles.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from govmobile.ca.profiles import ProfileName
from govmobile.core.errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True)
class RegistrationAuthority:
    name: str
    profiles: frozenset[ProfileName]

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"ra:{self.name}"

    def require_profile(self, profile: ProfileName) -> None:
        if profile not in self.profiles:
            allowed = ", ".join(sorted(p.value for p in self.profiles)) or "none"
            raise PermissionDenied(
                f"registration authority {self.name!r} may not request {profile.value!r} "
                f"certificates (allowed: {allowed})",
                code="profile_not_allowed",
            )


class RegistrationAuthorities:
    def __init__(self, secrets: Mapping[str, str], profiles: Mapping[str, Iterable[ProfileName]]) -> None:
        # Compare digests, not secrets, so the comparison time does not depend on length.
        self._digests = {name: hashlib.sha256(s.encode()).digest() for name, s in secrets.items()}
        self._profiles = {name: frozenset(profiles.get(name, ())) for name in secrets}

    def authenticate(self, name: str, secret: str) -> RegistrationAuthority:
        """The RA for a name and secret, or Unauthenticated (the same for either mistake)."""
        offered = hashlib.sha256(secret.encode()).digest()
        expected = self._digests.get(name, hashlib.sha256(b"\0unknown").digest())
        if not hmac.compare_digest(offered, expected) or name not in self._digests:
            raise Unauthenticated("registration authority name or secret is wrong", code="ra_unauthenticated")
        return RegistrationAuthority(name, self._profiles[name])
