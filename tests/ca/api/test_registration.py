"""The signing API for registration authorities, over a real socket."""

from __future__ import annotations

import httpx
import pytest
from cryptography import x509
from sqlalchemy import func
from sqlmodel import select

from govmobile.ca.models import Certificate
from govmobile.core import audit
from govmobile.core.database import Database
from tests.support.pki import csr_pem, csr_with_foreign_key, weak_rsa_csr


def _sign(client: httpx.Client, auth: tuple[str, str] | None, **body: object) -> httpx.Response:
    payload = {"profile": "device", "csr": csr_pem(), "device_id": "dev-1", "tenant_id": "water"}
    payload.update(body)
    return client.post("/api/v1/ra/sign", json=payload, auth=auth)


def _state(database: Database) -> tuple[int, int]:
    """How many certificates and audit events exist."""
    with database.session() as session:
        certificates = session.exec(select(func.count()).select_from(Certificate)).one()
        events = audit.verify_chain(session).events_checked
    return certificates, events


def test_the_mdm_signs_a_device_certificate(ca_http: httpx.Client, mdm_auth: tuple[str, str]) -> None:
    response = _sign(ca_http, mdm_auth)
    assert response.status_code == 201, response.text
    body = response.json()
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert format(certificate.serial_number, "x") == body["serial"]
    assert len(body["chain"]) == 2


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "ra_unauthenticated"),
        (("mdm", "wrong-secret-wrong-secret"), "ra_unauthenticated"),
        (("nobody", "x" * 20), "ra_unauthenticated"),
    ],
)
def test_signing_needs_the_right_ra_secret(
    ca_http: httpx.Client, database: Database, auth: tuple[str, str] | None, code: str
) -> None:
    before = _state(database)
    response = _sign(ca_http, auth)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert "registration authorit" in response.json()["message"]
    assert _state(database) == before


def test_an_ra_may_not_use_another_ras_profiles(
    ca_http: httpx.Client, mdm_auth: tuple[str, str], database: Database
) -> None:
    response = _sign(
        ca_http,
        mdm_auth,
        profile="service",
        dns_names=["ca.govmobile.internal"],
        device_id=None,
        tenant_id=None,
    )
    assert response.status_code == 403
    assert "may not request 'service'" in response.json()["message"]
    assert _state(database)[0] == 0


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (
            {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----"},
            400,
            "invalid_csr",
            "not a valid PKCS#10",
        ),
        ({"csr": "bm90IGEgQ1NS"}, 400, "invalid_csr", "not a valid PKCS#10"),
        ({"csr": csr_with_foreign_key()}, 400, "bad_csr_signature", "signature does not verify"),
        ({"csr": weak_rsa_csr()}, 400, "weak_key", "at least 2048"),
        ({"profile": "root"}, 404, "unknown_profile", "unknown certificate profile"),
        ({"device_id": None}, 400, "name_not_allowed", "device_id"),
        ({"dns_names": ["evil.example"]}, 400, "name_not_allowed", "certifies no DNS names"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    ca_http: httpx.Client,
    mdm_auth: tuple[str, str],
    database: Database,
    body: dict[str, object],
    status: int,
    code: str,
    message: str,
) -> None:
    crl_before = ca_http.get("/pki/crl").headers["X-CRL-Number"]
    before = _state(database)
    response = _sign(ca_http, mdm_auth, **body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert message in response.json()["message"]
    assert _state(database) == before
    assert ca_http.get("/pki/crl").headers["X-CRL-Number"] == crl_before


def test_malformed_json_and_oversized_bodies(ca_http: httpx.Client, mdm_auth: tuple[str, str]) -> None:
    response = ca_http.post(
        "/api/v1/ra/sign", content=b"{not json", headers={"content-type": "application/json"}, auth=mdm_auth
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]
    huge = ca_http.post(
        "/api/v1/ra/sign",
        content=b"x" * (200 * 1024),
        headers={"content-type": "application/json"},
        auth=mdm_auth,
    )
    assert huge.status_code == 413
    assert "larger than" in huge.json()["message"]

    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    chunked = ca_http.post(
        "/api/v1/ra/sign", content=chunks(), headers={"content-type": "application/json"}, auth=mdm_auth
    )  # type: ignore[arg-type]
    assert chunked.status_code == 413


def test_revocation_via_the_ra_api(
    ca_http: httpx.Client, mdm_auth: tuple[str, str], deploy_auth: tuple[str, str]
) -> None:
    serial = _sign(ca_http, mdm_auth).json()["serial"]
    other = ca_http.post(
        "/api/v1/ra/sign",
        json={"profile": "service", "csr": csr_pem(), "dns_names": ["ca"]},
        auth=deploy_auth,
    ).json()["serial"]
    revoked = ca_http.post(
        "/api/v1/ra/revoke", json={"serial": serial, "reason": "keyCompromise"}, auth=mdm_auth
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["reason"] == "keyCompromise"
    crl = x509.load_der_x509_crl(ca_http.get("/pki/crl").content)
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    again = ca_http.post("/api/v1/ra/revoke", json={"serial": serial, "reason": 1}, auth=mdm_auth)
    assert again.status_code == 409
    assert "already revoked" in again.json()["message"]
    unknown = ca_http.post("/api/v1/ra/revoke", json={"serial": "abc123", "reason": 1}, auth=mdm_auth)
    assert unknown.status_code == 404
    # the MDM may not revoke the deployment's service certificates
    assert ca_http.post("/api/v1/ra/revoke", json={"serial": other}, auth=mdm_auth).status_code == 404
    bad_reason = ca_http.post(
        "/api/v1/ra/revoke", json={"serial": other, "reason": "removeFromCRL"}, auth=deploy_auth
    )
    assert bad_reason.status_code == 400
    assert "keyCompromise (1)" in bad_reason.json()["message"]
    assert int(ca_http.get("/pki/crl").headers["X-CRL-Number"]) == revoked.json()["crl_number"]


def test_renewal_via_the_ra_api(ca_http: httpx.Client, mdm_auth: tuple[str, str]) -> None:
    first = _sign(ca_http, mdm_auth).json()
    renewed = ca_http.post(
        "/api/v1/ra/renew", json={"certificate": first["certificate"], "csr": csr_pem()}, auth=mdm_auth
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["subject"] == first["subject"]
    ca_http.post("/api/v1/ra/revoke", json={"serial": first["serial"]}, auth=mdm_auth)
    refused = ca_http.post(
        "/api/v1/ra/renew", json={"certificate": first["certificate"], "csr": csr_pem()}, auth=mdm_auth
    )
    assert refused.status_code == 409
    assert "can never be renewed" in refused.json()["message"]
    garbage = ca_http.post(
        "/api/v1/ra/renew", json={"certificate": "not a certificate", "csr": csr_pem()}, auth=mdm_auth
    )
    assert garbage.status_code == 400
    assert "not a valid PEM or DER certificate" in garbage.json()["message"]


def test_errors_never_leak_internals(ca_http: httpx.Client) -> None:
    response = ca_http.get("/api/v1/ra/sign")
    assert response.status_code == 405
    assert set(response.json()) == {"error", "message"}
    missing = ca_http.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == "no such endpoint: GET /nope"
