"""Enrollment tokens and the device inventory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from govmobile_client.connection import Connection, segment
from govmobile_client.models import Device, DeviceDetail, DevicePage, EnrollmentToken, IssuedEnrollmentToken
from govmobile_client.paging import follow
from govmobile_client.queries import DeviceFilter

#: The largest page the device list serves.
MAX_PAGE = 500


class EnrollmentTokens:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(
        self,
        tenant_id: str,
        person_id: str | None,
        *,
        group_id: str | None = None,
        device_id: str | None = None,
        ttl_hours: int = 24,
        max_uses: int = 1,
    ) -> IssuedEnrollmentToken:
        """A token for one person's device; its secret and QR payload are in this answer only.

        With ``device_id``, a re-enrollment token: it enrolls that device again, and no other
        (for its current person when ``person_id`` is None, else handing it to that person).
        A known device cannot be enrolled again with a token made for someone else."""
        body = {
            "tenant_id": tenant_id,
            "person_id": person_id,
            "group_id": group_id,
            "device_id": device_id,
            "ttl_hours": ttl_hours,
            "max_uses": max_uses,
        }
        return self._connection.call(IssuedEnrollmentToken, "POST", "/api/v1/enrollment-tokens", body=body)

    def list(self, *, tenant_id: str | None = None) -> Sequence[EnrollmentToken]:
        return self._connection.call_list(
            EnrollmentToken, "GET", "/api/v1/enrollment-tokens", params={"tenant_id": tenant_id}
        )

    def show(self, token_id: str) -> EnrollmentToken:
        return self._connection.call(EnrollmentToken, "GET", f"/api/v1/enrollment-tokens/{segment(token_id)}")

    def revoke(self, token_id: str) -> EnrollmentToken:
        return self._connection.call(
            EnrollmentToken, "DELETE", f"/api/v1/enrollment-tokens/{segment(token_id)}"
        )


class Devices:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(
        self, where: DeviceFilter | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> DevicePage:
        """One page of the devices you may see, ordered by id."""
        params = {**(where or DeviceFilter()).params(), "cursor": cursor, "limit": limit}
        return self._connection.call(DevicePage, "GET", "/api/v1/devices", params=params)

    def iterate(self, where: DeviceFilter | None = None, *, page_size: int = 200) -> Iterator[Device]:
        """Every matching device, page after page."""
        return follow(lambda cursor: self.list(where, cursor=cursor, limit=min(page_size, MAX_PAGE)))

    def show(self, device_id: str) -> DeviceDetail:
        """A device with its pending actions, history and recent check-ins."""
        return self._connection.call(DeviceDetail, "GET", f"/api/v1/devices/{segment(device_id)}")

    def retire(self, device_id: str) -> Device:
        """Take a device out of service: its queue is cleared and its certificate revoked."""
        return self._connection.call(Device, "POST", f"/api/v1/devices/{segment(device_id)}/retire")
