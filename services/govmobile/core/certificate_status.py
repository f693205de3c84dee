"""Whether a certificate the gateway vouched for may still be used, asked on every request.

The gateway checks the chain and the CRL in the TLS handshake, but a resumed TLS session skips
the handshake, and with it the CRL. So every service that serves devices (the MDM's binding
check and its heartbeat fast path, and the portal) also reads the CA's record of the certificate:
revoked, expired or unknown to the CA, it is refused, however the connection was made. The CA
owns that table; the others read the two columns they need here, in one place (services never
import each other).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, MetaData, String, Table

from govmobile.core.database import UTCDateTime
from govmobile.core.errors import Unauthenticated

#: The CA's certificates (the columns the MDM reads).
certificates = Table(
    "certificate",
    MetaData(),
    Column("sha256", String),
    Column("revoked_at", UTCDateTime),
    Column("not_after", UTCDateTime),
)


def usable(revoked_at: dt.datetime | None, not_after: dt.datetime | None, now: dt.datetime) -> bool:
    """Known to the CA, never revoked, not expired: what the fast path may accept without a word."""
    return not_after is not None and revoked_at is None and not_after > now


def refuse_unusable(
    revoked_at: dt.datetime | None,
    not_after: dt.datetime | None,
    *,
    now: dt.datetime,
    expired_allowed: bool = False,
) -> None:
    """Unauthenticated when the certificate was revoked, has expired, or the CA never issued it.

    ``expired_allowed``: renewal in the grace window, where the CA judges the expiry itself."""
    if not_after is None:
        raise Unauthenticated(
            "this certificate was not issued by this appliance's CA; enroll again",
            code="certificate_not_bound",
        )
    if revoked_at is not None:
        raise Unauthenticated(
            "this device's certificate has been revoked; enroll the device again", code="certificate_revoked"
        )
    if not expired_allowed and not_after <= now:
        raise Unauthenticated(
            "this device's certificate has expired; renew it or enroll again", code="certificate_expired"
        )
