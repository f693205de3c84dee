"""Gateway routes through the client, against the real gateway's management listener (nginx)."""

from __future__ import annotations

import pytest

from govmobile.core.accounts import Role as ServerRole
from govmobile.core.database import Database
from govmobile_client import GovMobileClient, RouteSpec
from govmobile_client.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from govmobile_client.models import IdentityMode, Role
from tests.client.management import Appliance
from tests.support.admins import make_admin
from tests.support.gateway import Gateway
from tests.support.mdm import Department
from tests.support.upstreams import RecordingUpstream


def test_create_read_replace_delete(
    gateway: Gateway,
    gateway_client: GovMobileClient,
    water: Department,
    upstream: tuple[RecordingUpstream, str],
) -> None:
    made = gateway_client.routes.create(
        RouteSpec(
            name="oa",
            upstream_url=upstream[1] + "/",
            allowed_tenants=["water"],
            allowed_groups=["field-staff"],
            identity_mode=IdentityMode.ASSERTION_AND_HEADERS,
        )
    )
    assert made.allowed_tenants == [water.tenant_id]  # the slug, resolved by the gateway
    assert made.upstream_url == upstream[1]
    assert (made.version, made.updated_by, made.upstream_ca_configured) == (1, "admin:root-admin", False)
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/") == 401)  # live: it wants a device
    assert [r.name for r in gateway_client.routes.list()] == ["oa"]
    assert gateway_client.routes.show("oa") == made
    assert gateway_client.routes.show(made.id) == made

    spec = RouteSpec.of(made, upstream_ca_pem=None).model_copy(update={"rate_limit": 5})
    replaced = gateway_client.routes.replace("oa", spec)
    assert (replaced.rate_limit, replaced.version, replaced.allowed_groups) == (5, 2, ["field-staff"])
    assert replaced.identity_mode is IdentityMode.ASSERTION_AND_HEADERS
    renamed = gateway_client.routes.replace(made.id, spec.model_copy(update={"name": "office"}))
    assert (renamed.id, renamed.name) == (made.id, "office")
    gateway.wait_until(lambda: gateway.status_of("/apps/office/") == 401)

    gateway_client.routes.delete("office")
    with pytest.raises(NotFound, match="no route office"):
        gateway_client.routes.show("office")
    assert gateway_client.routes.list() == []
    gateway.wait_until(lambda: gateway.status_of("/apps/office/") == 404)


def test_the_gateway_checks_what_is_written(gateway_client: GovMobileClient, water: Department) -> None:
    def spec(**fields: object) -> RouteSpec:
        return RouteSpec.model_validate(
            {
                "name": "oa",
                "upstream_url": "http://127.0.0.1:9",
                "allowed_tenants": [water.tenant_id],
                **fields,
            }
        )

    with pytest.raises(InvalidRequest, match=r"upstream_url must be http\(s\)://host") as refused:
        gateway_client.routes.create(spec(upstream_url="ftp://files.example"))
    assert (refused.value.status, refused.value.code) == (422, "invalid_request")
    with pytest.raises(InvalidRequest, match="unknown tenant 'roads'"):
        gateway_client.routes.create(spec(allowed_tenants=["roads"]))
    with pytest.raises(InvalidRequest, match="is reserved") as reserved:
        gateway_client.routes.create(spec(name="api"))
    assert reserved.value.code == "reserved_name"
    with pytest.raises(InvalidRequest, match="may not impersonate"):
        gateway_client.routes.create(spec(user_header="GovMobile-Assertion"))
    gateway_client.routes.create(spec())
    with pytest.raises(Conflict, match="exists already"):
        gateway_client.routes.create(spec())
    with pytest.raises(NotFound, match="no route nope"):
        gateway_client.routes.replace("nope", spec(name="nope"))
    with pytest.raises(NotFound):
        gateway_client.routes.delete("nope")


def test_an_upstream_ca_is_never_read_back(
    gateway: Gateway, gateway_client: GovMobileClient, water: Department
) -> None:
    pem = gateway.tls.root.read_text()
    made = gateway_client.routes.create(
        RouteSpec(
            name="records",
            upstream_url="https://127.0.0.1:9",
            allowed_tenants=[water.tenant_id],
            upstream_ca_pem=pem,
        )
    )
    assert made.upstream_ca_configured
    assert pem not in gateway_client.connection.request("GET", "/api/v1/routes/records").text
    kept = gateway_client.routes.replace("records", RouteSpec.of(made, upstream_ca_pem=pem))
    assert kept.upstream_ca_configured
    dropped = gateway_client.routes.replace("records", RouteSpec.of(made, upstream_ca_pem=None))
    assert not dropped.upstream_ca_configured


def test_every_admin_reads_routes_and_only_platform_admins_write_them(
    gateway_appliance: Appliance, gateway_client: GovMobileClient, database: Database, water: Department
) -> None:
    made = gateway_client.routes.create(
        RouteSpec(name="oa", upstream_url="http://127.0.0.1:9", allowed_tenants=["water"])
    )
    for role in (ServerRole.TENANT_ADMIN, ServerRole.AUDITOR):
        token = make_admin(database, role, water.tenant_id)
        with GovMobileClient(gateway_appliance.url, token=token, ca_file=gateway_appliance.ca_file) as other:
            assert other.auth.me().role is Role(role.value)
            assert [r.name for r in other.routes.list()] == ["oa"]
            assert other.routes.show("oa").id == made.id
            with pytest.raises(PermissionDenied, match="needs a platform admin"):
                other.routes.create(
                    RouteSpec(name="mine", upstream_url="http://127.0.0.1:9", allowed_tenants=["water"])
                )
            with pytest.raises(PermissionDenied):
                other.routes.replace("oa", RouteSpec.of(made, upstream_ca_pem=None))
            with pytest.raises(PermissionDenied):
                other.routes.delete("oa")
    assert gateway_client.routes.show("oa").version == 1
