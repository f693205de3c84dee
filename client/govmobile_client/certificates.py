"""Certificates the CA issued: list, show, revoke (through the same base URL as the MDM)."""

from __future__ import annotations

from collections.abc import Iterator

from govmobile_client.connection import Connection, segment
from govmobile_client.models import Certificate, CertificatePage, Revocation
from govmobile_client.paging import follow
from govmobile_client.queries import CertificateFilter

#: The largest page the certificate list serves.
MAX_PAGE = 500


class Certificates:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(
        self, where: CertificateFilter | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> CertificatePage:
        """One page of the certificates you may see, ordered by serial."""
        params = {**(where or CertificateFilter()).params(), "cursor": cursor, "limit": limit}
        return self._connection.call(CertificatePage, "GET", "/api/v1/certificates", params=params)

    def iterate(
        self, where: CertificateFilter | None = None, *, page_size: int = 200
    ) -> Iterator[Certificate]:
        return follow(lambda cursor: self.list(where, cursor=cursor, limit=min(page_size, MAX_PAGE)))

    def show(self, serial: str) -> Certificate:
        return self._connection.call(Certificate, "GET", f"/api/v1/certificates/{segment(serial)}")

    def revoke(self, serial: str, *, reason: str = "unspecified") -> Revocation:
        """Revoke for good (RFC 5280 reason name or code); the CRL is republished before this returns."""
        return self._connection.call(
            Revocation, "POST", f"/api/v1/certificates/{segment(serial)}/revoke", body={"reason": reason}
        )
