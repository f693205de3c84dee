"""The admin API of the CA: listing, search and revocation, tenant-scoped."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from tests.support.admins import make_admin, make_tenant
from tests.support.pki import csr_pem


@pytest.fixture
def tenants(database: Database) -> dict[str, str]:
    return {slug: make_tenant(database, slug) for slug in ("water", "roads")}


def _device(client: httpx.Client, mdm: tuple[str, str], tenant_id: str, device_id: str) -> str:
    body = {"profile": "device", "csr": csr_pem(), "device_id": device_id, "tenant_id": tenant_id}
    response = client.post("/api/v1/ra/sign", json=body, auth=mdm)
    assert response.status_code == 201, response.text
    return str(response.json()["serial"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_listing_needs_a_valid_token(ca_http: httpx.Client) -> None:
    assert ca_http.get("/api/v1/certificates").status_code == 401
    response = ca_http.get("/api/v1/certificates", headers=_bearer("gmt_forged"))
    assert response.status_code == 401
    assert "log in again" in response.json()["message"]


def test_platform_admin_sees_everything_and_pages(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str], tenants: dict[str, str]
) -> None:
    for index in range(5):
        _device(ca_http, mdm_auth, tenants["water"] if index % 2 else tenants["roads"], f"d{index}")
    token = make_admin(database, Role.PLATFORM_ADMIN)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = ca_http.get("/api/v1/certificates", params=params, headers=_bearer(token)).json()
        seen += [item["serial"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


def test_tenant_admin_sees_and_revokes_only_its_tenant(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str], tenants: dict[str, str]
) -> None:
    mine = _device(ca_http, mdm_auth, tenants["water"], "w1")
    theirs = _device(ca_http, mdm_auth, tenants["roads"], "r1")
    token = make_admin(database, Role.TENANT_ADMIN, tenants["water"])
    listed = ca_http.get("/api/v1/certificates", headers=_bearer(token)).json()["items"]
    assert [c["serial"] for c in listed] == [mine]
    # asking for the other tenant explicitly still shows nothing of it
    assert (
        ca_http.get(
            "/api/v1/certificates", params={"tenant_id": tenants["roads"]}, headers=_bearer(token)
        ).json()["items"]
        == []
    )
    assert ca_http.get(f"/api/v1/certificates/{theirs}", headers=_bearer(token)).status_code == 404
    refused = ca_http.post(
        f"/api/v1/certificates/{theirs}/revoke", json={"reason": "keyCompromise"}, headers=_bearer(token)
    )
    assert refused.status_code == 404
    platform = make_admin(database, Role.PLATFORM_ADMIN)
    assert (
        ca_http.get(f"/api/v1/certificates/{theirs}", headers=_bearer(platform)).json()["status"] == "valid"
    )
    ok = ca_http.post(
        f"/api/v1/certificates/{mine}/revoke", json={"reason": "keyCompromise"}, headers=_bearer(token)
    )
    assert ok.status_code == 200, ok.text


def test_auditor_reads_but_cannot_revoke(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str], tenants: dict[str, str]
) -> None:
    serial = _device(ca_http, mdm_auth, tenants["water"], "w1")
    token = make_admin(database, Role.AUDITOR)
    assert ca_http.get(f"/api/v1/certificates/{serial}", headers=_bearer(token)).status_code == 200
    refused = ca_http.post(f"/api/v1/certificates/{serial}/revoke", json={}, headers=_bearer(token))
    assert refused.status_code == 403
    assert "read-only" in refused.json()["message"]
    assert ca_http.get(f"/api/v1/certificates/{serial}", headers=_bearer(token)).json()["status"] == "valid"


def test_search_filters(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str], tenants: dict[str, str]
) -> None:
    target = _device(ca_http, mdm_auth, tenants["water"], "field-tablet-7")
    _device(ca_http, mdm_auth, tenants["water"], "other")
    token = make_admin(database, Role.PLATFORM_ADMIN)

    def query(**params: object) -> list[str]:
        response = ca_http.get("/api/v1/certificates", params=params, headers=_bearer(token))  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return [item["serial"] for item in response.json()["items"]]

    assert query(q="TABLET") == [target]
    assert query(device_id="field-tablet-7") == [target]
    assert query(serial=target.upper()) == [target]
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).isoformat()
    assert len(query(expiring_before=soon)) == 2
    assert query(status="revoked") == []
    bad = ca_http.get("/api/v1/certificates", params={"status": "sleeping"}, headers=_bearer(token))
    assert bad.status_code == 422
    assert "status" in bad.json()["message"]


def test_health_and_metrics(ca_http: httpx.Client, mdm_auth: tuple[str, str]) -> None:
    assert ca_http.get("/healthz").json() == {"status": "ok"}
    _device(ca_http, mdm_auth, "t", "d")
    ca_http.post("/api/v1/ra/sign", json={"profile": "nope", "csr": "x"}, auth=mdm_auth)
    metrics = ca_http.get("/metrics").text
    assert 'govmobile_ca_certificates_issued_total{profile="device"} 1.0' in metrics
    assert 'govmobile_ca_errors_total{code="unknown_profile"} 1.0' in metrics
