"""The demo office app behind the gateway: it trusts a name only from a valid assertion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from office_app.app import create_app
from office_app.identity import AssertionVerifier
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department
from tests.support.servers import serving


@pytest.fixture
def office(gateway: Gateway) -> Iterator[str]:
    verifier = AssertionVerifier(
        f"{gateway.public_url}/.well-known/jwks.json",
        audience="oa",
        issuer="https://localhost",
        ca_file=str(gateway.tls.root),
    )
    with serving(create_app(verifier)) as url:
        yield url


@pytest.fixture
def office_route(management: Admin, water: Department, office: str, gateway: Gateway) -> dict[str, Any]:
    route: dict[str, Any] = gateway.add_route(
        management,
        name="oa",
        upstream_url=office,
        allowed_tenants=["water"],
        allowed_groups=["field-staff"],
        websocket=True,
    )
    assert gateway.status_of("/apps/oa/") == 401
    return route


def test_the_app_sees_the_verified_person(office_route: dict[str, Any], mobile: ScriptedDevice) -> None:
    with mobile.tls_client() as client:
        who = client.get("/apps/oa/whoami")
        assert who.status_code == 200, who.text
        assert who.json() == {
            "user": "water-inspector",
            "groups": ["field-staff"],
            "device_id": mobile.device_id,
            "tenant": "water",
        }
        approved = client.post("/apps/oa/api/documents/1/approve")
        assert approved.json()["decided_by"] == "water-inspector"
        page = client.get("/apps/oa/", headers={"Accept": "text/html"})
        assert "Signed in as <b>water-inspector</b>" in page.text


def test_the_app_refuses_requests_that_bypass_the_gateway(office: str, gateway: Gateway) -> None:
    assert httpx.get(f"{office}/whoami").status_code == 401
    assert httpx.get(f"{office}/whoami", headers={"X-Remote-User": "minister"}).status_code == 401
    forger = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    with gateway.client() as client:
        kid = client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    forged = jwt.encode(
        {
            "sub": "minister",
            "aud": "oa",
            "iss": "https://localhost",
            "iat": now,
            "exp": now + dt.timedelta(minutes=5),
        },
        forger,
        algorithm="ES256",
        headers={"kid": kid},
    )
    assert httpx.get(f"{office}/whoami", headers={"GovMobile-Assertion": forged}).status_code == 401
