"""The few admin-API calls the fleet simulator needs, over plain httpx.

The device distribution must not depend on the server package or its typed client, so this is
a deliberately small client of its own: log in (or use an API token), find or create a tenant
and a person, make enrollment tokens, queue commands. Errors become the agent's own.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from govmobile_device import __version__
from govmobile_device.errors import AgentError, ServerUnreachable
from govmobile_device.gateway import refusal, send_once_more_if_dropped, transport_error


class AdminClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            verify=verify,
            timeout=timeout,
            headers={"User-Agent": f"govmobile-device-simulator/{__version__}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def login(self, username: str, password: str) -> None:
        body = await self._call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": password}
        )
        self._token = str(body["token"])

    async def tenant(self, tenant: str) -> dict[str, Any]:
        """A tenant by id or slug."""
        return _object(await self._call("GET", f"/api/v1/tenants/{tenant}"))

    async def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
        return _object(await self._call("POST", "/api/v1/tenants", json={"slug": slug, "name": name}))

    async def find_person(self, tenant_id: str, username: str) -> dict[str, Any] | None:
        people = await self._call("GET", "/api/v1/people", params={"tenant_id": tenant_id, "q": username})
        for person in people if isinstance(people, list) else []:
            if isinstance(person, dict) and username in (person.get("username"), person.get("id")):
                return _object(person)
        return None

    async def create_person(self, tenant_id: str, username: str, display_name: str) -> dict[str, Any]:
        return _object(
            await self._call(
                "POST",
                "/api/v1/people",
                json={"tenant_id": tenant_id, "username": username, "display_name": display_name},
            )
        )

    async def enrollment_token(
        self, tenant_id: str, person_id: str, *, max_uses: int, ttl_hours: int = 24
    ) -> dict[str, Any]:
        body = {"tenant_id": tenant_id, "person_id": person_id, "max_uses": max_uses, "ttl_hours": ttl_hours}
        return _object(await self._call("POST", "/api/v1/enrollment-tokens", json=body))

    async def send_command(self, device_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"type": kind, "payload": payload}
        return _object(await self._call("POST", f"/api/v1/devices/{device_id}/commands", json=body))

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = await send_once_more_if_dropped(self._client, method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"the admin API at {self.base_url} did not answer in time", cause="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise transport_error(self.base_url, exc) from exc
        if response.status_code >= 400:
            raise refusal(response)
        try:
            return response.json()
        except ValueError as exc:
            raise AgentError(f"the admin API at {self.base_url} did not answer with JSON ({path})") from exc


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AgentError("the admin API answered with something other than a JSON object")
    return value
