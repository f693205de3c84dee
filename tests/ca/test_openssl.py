"""The CA seen by real clients written by others: openssl and curl, over a real socket."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("ca_url")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def work(tmp_path: Path, ca_url: str) -> Path:
    """root.crt, issuing.crt and chain.pem downloaded with curl, as a relying party would."""
    for name in ("root.crt", "issuing.crt", "chain.pem"):
        run("curl", "-fsS", "-o", str(tmp_path / name), f"{ca_url}/pki/{name}")
    return tmp_path


def issue_with_curl(
    ca_url: str, work: Path, auth: tuple[str, str], request: dict[str, object], name: str
) -> dict[str, str]:
    """openssl makes the key and CSR; curl submits it; the certificate lands in <name>.pem."""
    key, csr = work / f"{name}.key", work / f"{name}.csr"
    run(
        "openssl",
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=whatever-the-device-likes",
    )
    body = work / f"{name}.json"
    body.write_text(json.dumps({**request, "csr": csr.read_text()}))
    out = run(
        "curl",
        "-fsS",
        "-u",
        f"{auth[0]}:{auth[1]}",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        f"@{body}",
        f"{ca_url}/api/v1/ra/sign",
    )
    issued: dict[str, str] = json.loads(out.stdout)
    (work / f"{name}.pem").write_text(issued["certificate"])
    return issued


def fetch_crl_pem(ca_url: str, work: Path) -> Path:
    der, pem = work / "crl.der", work / "crl.pem"
    run("curl", "-fsS", "-o", str(der), f"{ca_url}/pki/crl")
    run("openssl", "crl", "-inform", "DER", "-in", str(der), "-out", str(pem))
    return pem


def verify_with_crl(work: Path, crl: Path, certificate: Path) -> subprocess.CompletedProcess[str]:
    return run(
        "openssl",
        "verify",
        "-crl_check",
        "-CAfile",
        str(work / "root.crt"),
        "-untrusted",
        str(work / "issuing.crt"),
        "-CRLfile",
        str(crl),
        str(certificate),
        check=False,
    )


def test_chain_and_crl_verify_then_revocation_is_seen(
    ca_url: str, work: Path, mdm_auth: tuple[str, str]
) -> None:
    issued = issue_with_curl(
        ca_url, work, mdm_auth, {"profile": "device", "device_id": "tablet-1", "tenant_id": "water"}, "device"
    )
    ok = verify_with_crl(work, fetch_crl_pem(ca_url, work), work / "device.pem")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ": OK" in ok.stdout
    crl_text = run("openssl", "crl", "-in", str(fetch_crl_pem(ca_url, work)), "-noout", "-text").stdout
    assert "X509v3 CRL Number" in crl_text
    assert "Next Update" in crl_text
    revoked = httpx.post(
        f"{ca_url}/api/v1/ra/revoke",
        json={"serial": issued["serial"], "reason": "keyCompromise"},
        auth=mdm_auth,
    )
    assert revoked.status_code == 200
    refused = verify_with_crl(work, fetch_crl_pem(ca_url, work), work / "device.pem")
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def test_ocsp_good_then_revoked(ca_url: str, work: Path, mdm_auth: tuple[str, str]) -> None:
    issued = issue_with_curl(
        ca_url, work, mdm_auth, {"profile": "device", "device_id": "tablet-2", "tenant_id": "water"}, "device"
    )

    def ask() -> str:
        result = run(
            "openssl",
            "ocsp",
            "-issuer",
            str(work / "issuing.crt"),
            "-cert",
            str(work / "device.pem"),
            "-url",
            f"{ca_url}/ocsp",
            "-CAfile",
            str(work / "root.crt"),
            "-verify_other",
            str(work / "issuing.crt"),
        )
        assert "Response verify OK" in result.stderr + result.stdout, result.stderr
        return result.stdout

    assert "device.pem: good" in ask()
    httpx.post(
        f"{ca_url}/api/v1/ra/revoke",
        json={"serial": issued["serial"], "reason": "keyCompromise"},
        auth=mdm_auth,
    )
    answer = ask()
    assert "device.pem: revoked" in answer
    assert "Reason: keyCompromise" in answer


def test_ocsp_over_get(ca_url: str, work: Path, mdm_auth: tuple[str, str]) -> None:
    issue_with_curl(
        ca_url, work, mdm_auth, {"profile": "device", "device_id": "tablet-3", "tenant_id": "water"}, "device"
    )
    request = work / "req.der"
    run(
        "openssl",
        "ocsp",
        "-issuer",
        str(work / "issuing.crt"),
        "-cert",
        str(work / "device.pem"),
        "-reqout",
        str(request),
        "-no_nonce",
    )
    encoded = urllib.parse.quote(base64.b64encode(request.read_bytes()).decode(), safe="")
    response = work / "resp.der"
    run("curl", "-fsS", "-o", str(response), f"{ca_url}/ocsp/{encoded}")
    result = run(
        "openssl",
        "ocsp",
        "-respin",
        str(response),
        "-issuer",
        str(work / "issuing.crt"),
        "-cert",
        str(work / "device.pem"),
        "-CAfile",
        str(work / "root.crt"),
        "-verify_other",
        str(work / "issuing.crt"),
    )
    assert "device.pem: good" in result.stdout


def test_ocsp_garbage_gets_malformed_request(ca_url: str) -> None:
    response = httpx.post(
        f"{ca_url}/ocsp", content=b"garbage", headers={"content-type": "application/ocsp-request"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/ocsp-response"
    from cryptography.x509 import ocsp

    assert (
        ocsp.load_der_ocsp_response(response.content).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


@pytest.mark.parametrize(
    ("profile", "request_fields", "expected", "absent"),
    [
        (
            "device",
            {"device_id": "tablet-9", "tenant_id": "water"},
            ["TLS Web Client Authentication", "CN=tablet-9", "OU=water", "Digital Signature", "CA:FALSE"],
            ["Server Authentication", "Certificate Sign"],
        ),
        (
            "service",
            {"dns_names": ["ca.govmobile.internal"], "ip_addresses": ["10.0.0.5"]},
            ["TLS Web Server Authentication", "DNS:ca.govmobile.internal", "IP Address:10.0.0.5", "CA:FALSE"],
            ["Client Authentication"],
        ),
        (
            "admin",
            {"common_name": "alice"},
            ["TLS Web Client Authentication", "CN=alice", "OU=Administrators"],
            ["Server Authentication"],
        ),
        (
            "codesign",
            {"common_name": "GovMobile App Portal"},
            ["Code Signing", "CN=GovMobile App Portal"],
            ["TLS Web"],
        ),
    ],
)
def test_profile_extensions_as_openssl_reads_them(
    ca_url: str,
    work: Path,
    deploy_auth: tuple[str, str],
    mdm_auth: tuple[str, str],
    profile: str,
    request_fields: dict[str, object],
    expected: list[str],
    absent: list[str],
) -> None:
    auth = mdm_auth if profile == "device" else deploy_auth
    issue_with_curl(ca_url, work, auth, {"profile": profile, **request_fields}, profile)
    text = run(
        "openssl",
        "x509",
        "-in",
        str(work / f"{profile}.pem"),
        "-noout",
        "-text",
        "-nameopt",
        "sep_comma_plus_space",
    ).stdout
    for fragment in expected:
        assert fragment in text, f"{fragment!r} missing from {profile} certificate"
    for fragment in absent:
        assert fragment not in text, f"{fragment!r} unexpectedly in {profile} certificate"
    assert "X509v3 Key Usage: critical" in text
    assert "X509v3 Basic Constraints: critical" in text
    assert "CRL Distribution Points" in text
    assert "OCSP - URI:http://gateway.test/ocsp" in text


def test_issuing_ca_has_pathlen_zero(work: Path) -> None:
    text = run("openssl", "x509", "-in", str(work / "issuing.crt"), "-noout", "-text").stdout
    assert "CA:TRUE, pathlen:0" in text
    assert "Certificate Sign, CRL Sign" in text


@pytest.mark.parametrize("garbage", ["%0A", "not%20base64", "a%0Ab", "%F1%BD%BA%87"])
def test_an_ocsp_get_that_holds_no_request_gets_malformed_request(
    ca_url: str, work: Path, garbage: str
) -> None:
    """RFC 6960 §2.3: malformedRequest, as an OCSP response (a line break once made it a 404)."""
    response = work / "malformed.der"
    run("curl", "-sS", "-o", str(response), f"{ca_url}/ocsp/{garbage}")
    result = run("openssl", "ocsp", "-respin", str(response), "-resp_text", "-noverify", check=False)
    assert "malformedrequest" in (result.stdout + result.stderr).lower()
