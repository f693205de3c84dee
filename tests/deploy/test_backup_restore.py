"""Backup, destroy, restore: afterwards the CA still verifies, and revokes, what it issued before.

The destroy removes everything, images and controller secrets included, and the restore runs with
every HTTP proxy pointing nowhere: it deploys from the backup and an air-gap bundle alone.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy import appliance

pytestmark = pytest.mark.deploy

NOWHERE = "http://127.0.0.1:9"
OFFLINE = {"http_proxy": NOWHERE, "https_proxy": NOWHERE, "HTTP_PROXY": NOWHERE, "HTTPS_PROXY": NOWHERE}


def openssl(*args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def issue_service_certificate(workdir: Path) -> dict:
    """A certificate signed through the CA's registration-authority API (RA "deploy")."""
    key, csr = workdir / "client.key", workdir / "client.csr"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-subj", "/CN=backup-test.govmobile.internal", "-out", str(csr))  # fmt: skip
    body = {"profile": "service", "csr": csr.read_text(), "dns_names": ["backup-test.govmobile.internal"]}
    response = appliance.curl_ca(
        "/api/v1/ra/sign",
        "--user", f"deploy:{appliance.ra_secret()}",
        "--header", "content-type: application/json",
        "--data", json.dumps(body),
    )  # fmt: skip
    assert response.returncode == 0, response.stderr
    issued = json.loads(response.stdout)
    (workdir / "client.crt").write_text(issued["certificate"])
    (workdir / "issuing.crt").write_text(issued["chain"][0])
    return issued


def ocsp_status(workdir: Path) -> str:
    """The CA's OCSP answer for the certificate, verified against the controller's root."""
    request, response = workdir / "ocsp.req", workdir / "ocsp.resp"
    certificate, issuing = str(workdir / "client.crt"), str(workdir / "issuing.crt")
    openssl("ocsp", "-issuer", issuing, "-cert", certificate, "-no_nonce", "-reqout", str(request))
    answer = appliance.curl_ca(
        "/ocsp", "--header", "content-type: application/ocsp-request", "--data-binary", f"@{request}",
        "--output", str(response),
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    checked = openssl("ocsp", "-respin", str(response), "-issuer", issuing, "-cert", certificate,
                      "-CAfile", str(appliance.ROOT_CERTIFICATE), "-verify_other", issuing)  # fmt: skip
    return checked.split(f"{certificate}:", 1)[1].split()[0]


@pytest.mark.timeout(2400)
def test_backup_destroy_restore_keeps_the_ca_and_what_it_issued(tmp_path: Path) -> None:
    issued = issue_service_certificate(tmp_path)
    assert ocsp_status(tmp_path) == "good"

    backup = appliance.govmobile("backup")
    assert backup.returncode == 0, backup.output[-4000:]
    backup_file = re.search(r"Backup: (\S+\.tar\.gz)", " ".join(backup.output.split()))
    assert backup_file, backup.output[-2000:]
    assert Path(backup_file[1]).stat().st_mode & 0o777 == 0o600

    bundle = appliance.govmobile("bundle")
    assert bundle.returncode == 0, bundle.output[-4000:]
    bundle_file = re.search(r"Bundle: (\S+\.tar\.gz)\.", " ".join(bundle.output.split()))
    assert bundle_file, bundle.output[-2000:]

    # Without its confirmation, destroy refuses and changes nothing.
    before = appliance.deployment_containers()
    refused = appliance.govmobile("destroy")
    assert refused.returncode != 0
    assert "Nothing was changed" in " ".join(refused.output.split())
    assert appliance.deployment_containers() == before
    assert appliance.inspect("volume", "govmobile_ca")

    gone = appliance.govmobile("destroy", "--confirm", appliance.DEPLOYMENT, "--images", "--secrets")
    assert gone.returncode == 0, gone.output[-4000:]
    assert appliance.deployment_containers() == {}
    assert not appliance.inspect("volume", "govmobile_ca")
    assert not appliance.inspect("volume", "govmobile_data")
    assert appliance.docker("images", "--quiet", "govmobile/*") == ""
    assert not appliance.SECRETS.exists()

    restored = appliance.govmobile("restore", backup_file[1], "--bundle", bundle_file[1], env=OFFLINE)
    assert restored.returncode == 0, restored.output[-4000:]
    assert "Load the bundle's images" in restored.output
    # Loaded, not built: nothing was fetched from a Debian mirror or a package index.
    assert "TASK [images : Debootstrap" not in restored.output
    assert "TASK [images : Build the image]" not in restored.output

    # The certificate issued before still chains to the (restored) root, is known and good...
    openssl("verify", "-CAfile", str(appliance.ROOT_CERTIFICATE), "-untrusted", str(tmp_path / "issuing.crt"),
            str(tmp_path / "client.crt"))  # fmt: skip
    assert ocsp_status(tmp_path) == "good"
    # ... and the CA can still revoke it: OCSP and the CRL say so.
    revoked = appliance.curl_ca(
        "/api/v1/ra/revoke",
        "--user", f"deploy:{appliance.ra_secret()}",
        "--header", "content-type: application/json",
        "--data", json.dumps({"serial": issued["serial"], "reason": "keyCompromise"}),
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert ocsp_status(tmp_path) == "revoked"
    crl = appliance.curl_ca("/pki/crl")
    text = openssl("crl", "-inform", "DER", "-noout", "-text", stdin=crl.stdout)
    assert issued["serial"].upper() in text.replace(":", "").upper()
