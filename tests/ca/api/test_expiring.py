"""Certificates expiring soon (``/api/v1/certificates/expiring``): counted per profile by the CA,
revoked and expired ones left out, and a department admin counts only their department's."""

from __future__ import annotations

import datetime as dt

import httpx

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from tests.ca.api.test_certificates import _bearer, _device
from tests.support.admins import make_admin, make_tenant
from tests.support.ca import Clock


def expiring(client: httpx.Client, token: str, **params: str) -> dict[str, tuple[int, int]]:
    response = client.get("/api/v1/certificates/expiring", params=params, headers=_bearer(token))
    assert response.status_code == 200, response.text
    return {p["profile"]: (p["within_7_days"], p["within_30_days"]) for p in response.json()["profiles"]}


def test_expiring_certificates_are_counted_per_profile_and_department(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str], clock: Clock
) -> None:
    water, roads = make_tenant(database, "water"), make_tenant(database, "roads")
    serials = [_device(ca_http, mdm_auth, water, f"w{n}") for n in range(3)]
    _device(ca_http, mdm_auth, roads, "r1")
    platform = make_admin(database, Role.PLATFORM_ADMIN)
    water_admin = make_admin(database, Role.TENANT_ADMIN, water)
    revoked = ca_http.post(
        f"/api/v1/certificates/{serials[0]}/revoke",
        json={"reason": "keyCompromise"},
        headers=_bearer(platform),
    )
    assert revoked.status_code == 200, revoked.text

    # Device certificates live 30 days: a day later they all expire within 30 days, none within 7.
    clock.advance(dt.timedelta(days=1))
    assert expiring(ca_http, platform) == {"device": (0, 3)}
    assert expiring(ca_http, platform, tenant_id="water") == {"device": (0, 2)}
    assert expiring(ca_http, platform, tenant_id=roads) == {"device": (0, 1)}
    clock.advance(dt.timedelta(days=24))
    assert expiring(ca_http, platform) == {"device": (3, 3)}
    assert expiring(ca_http, water_admin) == {"device": (2, 2)}
    assert expiring(ca_http, water_admin, tenant_id="water") == {"device": (2, 2)}
    clock.advance(dt.timedelta(days=6))  # expired now: no longer "expiring"
    assert expiring(ca_http, platform) == {}


def test_a_department_admin_never_counts_another_department(
    ca_http: httpx.Client, database: Database, mdm_auth: tuple[str, str]
) -> None:
    water, roads = make_tenant(database, "water"), make_tenant(database, "roads")
    _device(ca_http, mdm_auth, roads, "r1")
    water_admin = make_admin(database, Role.TENANT_ADMIN, water)
    for other in ("roads", roads, "nowhere"):
        response = ca_http.get(
            "/api/v1/certificates/expiring", params={"tenant_id": other}, headers=_bearer(water_admin)
        )
        assert response.status_code == 404, response.text
    assert ca_http.get("/api/v1/certificates/expiring").status_code == 401
    too_long = ca_http.get(
        "/api/v1/certificates/expiring", params={"tenant_id": "x" * 64}, headers=_bearer(water_admin)
    )
    assert too_long.status_code == 422
