"""The client: one connection, one attribute per resource of the admin API."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import httpx

from govmobile_client.accounts import Admins, ApiTokens, Auth
from govmobile_client.apps import Apps, Assignments, DepartmentAppRules, Releases
from govmobile_client.audit import Audit
from govmobile_client.certificates import Certificates
from govmobile_client.commands import Commands
from govmobile_client.connection import DEFAULT_TIMEOUT, Connection
from govmobile_client.devices import Devices, EnrollmentTokens
from govmobile_client.directory import Groups, People, Tenants
from govmobile_client.overview import Overview
from govmobile_client.policies import Policies
from govmobile_client.routes import Routes


class GovMobileClient:
    """The admin API of a GovMobile appliance, typed.

        with GovMobileClient("https://127.0.0.1:8443", ca_file=Path("root.crt")) as client:
            client.auth.login("alice", password)
            for device in client.devices.iterate(DeviceFilter(compliant=False)):
                ...

    ``transport`` replaces the network (an ``httpx`` transport), for tests and embedding.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.connection = Connection(
            base_url, token=token, ca_file=ca_file, transport=transport, timeout=timeout
        )
        self.auth = Auth(self.connection)
        self.api_tokens = ApiTokens(self.connection)
        self.admins = Admins(self.connection)
        self.tenants = Tenants(self.connection)
        self.people = People(self.connection)
        self.groups = Groups(self.connection)
        self.enrollment_tokens = EnrollmentTokens(self.connection)
        self.devices = Devices(self.connection)
        self.commands = Commands(self.connection)
        self.policies = Policies(self.connection)
        self.audit = Audit(self.connection)
        self.certificates = Certificates(self.connection)
        self.routes = Routes(self.connection)
        self.apps = Apps(self.connection)
        self.releases = Releases(self.connection)
        self.app_rules = DepartmentAppRules(self.connection)
        self.assignments = Assignments(self.connection)
        self.overview = Overview(self.connection)

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> GovMobileClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
