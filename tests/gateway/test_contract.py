"""The published API contracts (issue 10, item 6): one OpenAPI document for the admin API and one
for the device API, both served on the management listener of the real gateway, merged from what
each service generates from its code; every route of the code is in one of them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from govmobile.ca.app import create_app as create_ca
from govmobile.ca.hierarchy import CaLayout
from govmobile.core.database import Database
from govmobile.web.fastpath import FastPaths
from tests.support.ca import ca_settings
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.mdm import Admin

#: Routes that no listener of the gateway passes on, each with the reason.
INTERNAL: dict[str, str] = {
    "/healthz": "container health checks, on the internal network",
    "/metrics": "Prometheus, on the internal network",
    "/api/openapi.json": "each service's own document; the gateway publishes the merged ones",
    "/api/docs": "each service's own interactive page",
    "/docs/oauth2-redirect": "part of the interactive page",
    "/api/v1/ra/sign": "the CA's registration-authority API, for the MDM and the deployment only",
    "/api/v1/ra/renew": "the same",
    "/api/v1/ra/revoke": "the same",
    "/internal/authorize": "nginx's authorization sub-request to the control plane",
    "/api/admin-openapi.json": "the admin document itself (published as /api/openapi.json)",
    "/api/device-openapi.json": "the device document itself",
}


@pytest.fixture
def documents(gateway: Gateway, management: Admin) -> dict[str, Any]:
    admin = management.client.get("/api/openapi.json")
    device = management.client.get("/api/device-openapi.json")
    assert admin.status_code == 200, admin.text
    assert device.status_code == 200, device.text
    return {"admin": admin.json(), "device": device.json()}


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every endpoint the application serves, fast paths included."""
    found = {
        (method, re.sub(r":\w+}", "}", str(route.path)))  # /ocsp/{encoded:path} is /ocsp/{encoded}
        for route in iter_route_contexts(app.routes)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    for middleware in app.user_middleware:
        if middleware.cls is FastPaths:
            found |= {(r.method, r.path) for r in middleware.kwargs["routes"]}
    return found


def operations_of(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_route_of_the_code_is_in_exactly_one_published_document(
    documents: dict[str, Any],
    gateway: Gateway,
    mdm_app: FastAPI,
    ca_layout: CaLayout,
    database: Database,
    database_url: str,
    portal_app: FastAPI,
) -> None:
    ca_app = create_ca(ca_settings(ca_layout, database_url), database=database)
    in_code = routes_of(mdm_app) | routes_of(ca_app) | routes_of(gateway.app) | routes_of(portal_app)
    admin, device = operations_of(documents["admin"]), operations_of(documents["device"])
    assert not admin & device
    published = admin | device
    unaccounted = {(m, p) for m, p in in_code - published if p not in INTERNAL}
    assert not unaccounted, f"routes in the code but in no document: {sorted(unaccounted)}"
    assert published <= in_code, f"documented but not served: {sorted(published - in_code)}"
    assert ("POST", "/api/v1/device/checkin") in device  # served in front of the framework
    assert {p for _, p in admin} >= {"/api/v1/certificates/{serial}/revoke", "/api/v1/routes/{route}"}
    assert all(p.startswith("/api/v1/") for _, p in admin)


def test_errors_are_documented_with_the_body_they_really_have(
    documents: dict[str, Any], management: Admin
) -> None:
    for name, document in documents.items():
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for status, response in operation["responses"].items():
                    if int(status) < 400:
                        continue
                    if path.startswith("/ocsp") and status == "400":
                        # A malformed request gets an OCSP response (RFC 6960); the gateway's
                        # refusal of a bad path, the common body.
                        assert "application/ocsp-response" in response["content"]
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (name, method, path, status)
                assert "500" in operation["responses"], (name, method, path)
        error_body = document["components"]["schemas"]["ErrorBody"]
        assert error_body["required"] == ["error", "message"]
        assert "HTTPValidationError" not in str(document)
    # And what is sent is that shape: a 422, a 404 and a 401 as they come.
    for response in (
        management("PATCH", "/api/v1/tenants/nowhere/policy", json={"require_encryption": None}),
        management("GET", "/api/v1/devices/00000000-0000-0000-0000-000000000000"),
        httpx.get(f"{management.client.base_url}/api/v1/auth/me", verify=False),  # noqa: S501 - body only
    ):
        assert set(response.json()) <= {"error", "message", "details"}, response.text
        assert (
            str(response.status_code)
            in documents["admin"]["paths"][_template(response.request.url.path, documents["admin"])][
                response.request.method.lower()
            ]["responses"]
        )


def _template(path: str, document: dict[str, Any]) -> str:
    for template in document["paths"]:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return template
    raise AssertionError(f"{path} is in no document")


def test_security_schemes_say_how_each_operation_authenticates(documents: dict[str, Any]) -> None:
    admin, device = documents["admin"], documents["device"]
    assert admin["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "gmt_...",
        "description": admin["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, item in admin["paths"].items():
        for method, operation in item.items():
            expected = [] if path == "/api/v1/auth/login" else [{"bearer": []}]
            assert operation.get("security", []) == expected, (method, path)
            if expected:
                assert "401" in operation["responses"]
    assert device["components"]["securitySchemes"]["deviceCertificate"]["type"] == "mutualTLS"
    needs_certificate = {
        p for p, item in device["paths"].items() for op in item.values() if op.get("security")
    }
    assert {
        "/api/v1/device/checkin",
        "/api/v1/device/wait",
        "/.well-known/est/simplereenroll",
    } <= needs_certificate
    assert device["paths"]["/.well-known/est/simpleenroll"]["post"]["security"] == [{"enrollmentToken": []}]


def test_the_constraints_the_code_enforces_are_in_the_schemas(documents: dict[str, Any]) -> None:
    schemas = documents["admin"]["components"]["schemas"]
    policy = schemas["PolicyUpdate"]["properties"]
    assert policy["checkin_interval_seconds"] == {
        "type": "integer",
        "minimum": 60,
        "maximum": 86400,
        "title": "Checkin Interval Seconds",
    }
    assert policy["require_encryption"]["type"] == "boolean"  # not nullable: null is refused
    assert {"type": "null"} in policy["max_offline_hours"]["anyOf"]  # null clears this limit
    assert schemas["PolicyUpdate"]["additionalProperties"] is False
    assert schemas["TenantCreate"]["properties"]["slug"]["pattern"].startswith("^[a-z0-9]")
    assert "lock" in schemas["CommandType"]["enum"]
    assert schemas["CommandCreate"]["properties"]["type"] == {"$ref": "#/components/schemas/CommandType"}
    audit = documents["admin"]["paths"]["/api/v1/audit"]["get"]["parameters"]
    cursor = next(p for p in audit if p["name"] == "cursor")["schema"]["anyOf"][0]
    assert cursor["maximum"] == 2**63 - 1
    login = documents["admin"]["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert set(login) >= {"401", "429"}
    checkin = documents["device"]["components"]["schemas"]["CheckinRequest"]["properties"]
    assert checkin["results"]["maxItems"] == 20


def test_options_and_wrong_methods_list_every_method_of_a_path(
    documents: dict[str, Any], management: Admin, mobile: ScriptedDevice
) -> None:
    paths = documents["admin"]["paths"]
    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        answer = management("OPTIONS", concrete)
        assert answer.status_code == 204, (path, answer.text)
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        # Every template the path fits (GET /commands/{id} serves /commands/bulk too: a 404).
        fitting = [t for t in paths if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), concrete)]
        assert allowed == {m.upper() for t in fitting for m in paths[t]} | {"OPTIONS"}, path
    # A path served by several routes (one per method): every method, not only the first route's.
    wrong = management("PATCH", "/api/v1/routes/oa")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE, GET, OPTIONS, PUT"
    assert wrong.json()["error"] == "method_not_allowed"
    with mobile.tls_client() as client:
        checkin = client.options("/api/v1/device/checkin")  # served in front of the framework
        assert (checkin.status_code, checkin.headers["allow"]) == (204, "OPTIONS, POST")
        assert client.get("/api/v1/device/checkin").headers["allow"] == "OPTIONS, POST"
