"""The fleet in figures: the aggregate endpoints behind the console's overview.

Each figure is one request, counted by the service that owns the data (devices, enrollments and
commands by the MDM, certificates by the CA, installs by the app portal), so a caller never pulls
devices to count them. ``tenant_id`` (id or slug) narrows a platform admin's figures to one
department; a department admin's are always their own department's, and naming another is a
``NotFound``.
"""

from __future__ import annotations

from govmobile_client.connection import Connection
from govmobile_client.models import (
    CommandOverview,
    DeviceOverview,
    EnrollmentOverview,
    ExpiringCertificates,
    InstallationOverview,
)


class Overview:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def devices(self, *, tenant_id: str | None = None) -> DeviceOverview:
        """Devices by state, compliance (with the kinds of reasons) and last check-in."""
        return self._connection.call(
            DeviceOverview, "GET", "/api/v1/overview/devices", params={"tenant_id": tenant_id}
        )

    def enrollments(
        self, *, tenant_id: str | None = None, days: int = 30, time_zone: str = "UTC"
    ) -> EnrollmentOverview:
        """Devices enrolled per day over the last ``days`` days, days as ``time_zone`` has them."""
        params = {"tenant_id": tenant_id, "days": days, "time_zone": time_zone}
        return self._connection.call(EnrollmentOverview, "GET", "/api/v1/overview/enrollments", params=params)

    def commands(self, *, tenant_id: str | None = None, failed_days: int = 7) -> CommandOverview:
        """Commands waiting for their device, and those that failed in the last ``failed_days`` days."""
        params = {"tenant_id": tenant_id, "failed_days": failed_days}
        return self._connection.call(CommandOverview, "GET", "/api/v1/overview/commands", params=params)

    def expiring_certificates(self, *, tenant_id: str | None = None) -> ExpiringCertificates:
        """Valid certificates expiring within 7 and 30 days, per profile."""
        return self._connection.call(
            ExpiringCertificates, "GET", "/api/v1/certificates/expiring", params={"tenant_id": tenant_id}
        )

    def installations(self, *, tenant_id: str | None = None) -> InstallationOverview:
        """Managed apps counted per app and state, as devices last reported them."""
        return self._connection.call(
            InstallationOverview,
            "GET",
            "/api/v1/portal/overview/installations",
            params={"tenant_id": tenant_id},
        )
