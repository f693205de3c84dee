"""Backup, destroy, restore: afterwards the CA still verifies, and revokes, what it issued before.

The destroy removes everything, images and controller secrets included, and the restore runs with
every HTTP proxy pointing nowhere: it deploys from the backup and an air-gap bundle alone.

Key custody: the root key is encrypted on the controller; a backup is encrypted (age) to the
deployment's backup key, and holds neither the root key nor its passphrase unless asked. The
operator keeps the backup key off the controller; a fresh controller restores with it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
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


def backup_members(backup: Path, key: Path, workdir: Path) -> tuple[list[str], list[str]]:
    """The names in a backup, and in its secrets.tar, decrypted with the backup key."""
    plain = workdir / "backup.tar.gz"
    subprocess.run(
        ["age", "--decrypt", "--identity", str(key), "--output", str(plain), str(backup)], check=True
    )
    with tarfile.open(plain) as outer:
        names = outer.getnames()
        secrets_tar = outer.extractfile("secrets.tar")
        assert secrets_tar is not None
        with tarfile.open(fileobj=secrets_tar) as inner:
            secret_names = inner.getnames()
    plain.unlink()
    return names, secret_names


def test_the_root_key_is_encrypted_on_the_controller() -> None:
    key = appliance.SECRETS / "pki" / "root.key"
    passphrase = appliance.SECRETS / "pki" / "root-key-passphrase"
    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in key.read_text()
    assert passphrase.stat().st_mode & 0o777 == 0o600
    # Without its passphrase the key does not open; with it, it does.
    empty = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-passin", "pass:", "-noout"], capture_output=True
    )
    assert empty.returncode != 0
    opened = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-passin", f"file:{passphrase}", "-noout"], capture_output=True
    )
    assert opened.returncode == 0, opened.stderr


def public_key(key: Path, passphrase: Path) -> str:
    done = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-passin", f"file:{passphrase}", "-pubout"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.timeout(1200)
def test_the_root_key_signs_only_with_its_passphrase_at_hand(tmp_path: Path) -> None:
    passphrase = appliance.SECRETS / "pki" / "root-key-passphrase"
    away = tmp_path / "root-key-passphrase"
    shutil.move(passphrase, away)  # the operator moved it off the controller, as the summary says
    try:
        # A deploy that has nothing to sign does not need it.
        run = appliance.govmobile("deploy")
        assert run.returncode == 0, run.output[-4000:]
        assert run.recap()["changed"] == 0, run.changed_tasks()
        # One that must sign the root's CRL (due now) stops before signing, and says what to do.
        due = json.dumps({"pki_root_crl_renew_before_days": 400})
        run = appliance.govmobile("deploy", "-e", due)
        said = " ".join(run.output.split())
        assert run.returncode != 0
        assert "the root's key is needed to sign the root's CRL" in said, said[-3000:]
        assert f"its passphrase is not at hand: put it back into {passphrase}" in said
        assert not passphrase.exists()  # none was made up in its place
    finally:
        shutil.move(away, passphrase)
    run = appliance.govmobile("deploy", "-e", due)
    assert run.returncode == 0, run.output[-4000:]
    assert any("Sign the root's CRL on the controller" in task for task in run.changed_tasks())


@pytest.mark.timeout(1200)
def test_an_unencrypted_root_key_of_an_older_deployment_is_encrypted_by_the_next_deploy() -> None:
    key = appliance.SECRETS / "pki" / "root.key"
    passphrase = appliance.SECRETS / "pki" / "root-key-passphrase"
    before = public_key(key, passphrase)
    plain = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-passin", f"file:{passphrase}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key.write_text(plain)
    passphrase.unlink()

    run = appliance.govmobile("deploy")
    assert run.returncode == 0, run.output[-4000:]
    assert any("Encrypt an unencrypted root key" in task or "Write the root key encrypted" in task
               for task in run.changed_tasks())  # fmt: skip
    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in key.read_text()
    assert passphrase.stat().st_mode & 0o777 == 0o600
    assert public_key(key, passphrase) == before  # the same root, encrypted


@pytest.mark.timeout(2400)
def test_backup_destroy_restore_keeps_the_ca_and_what_it_issued(tmp_path: Path) -> None:
    issued = issue_service_certificate(tmp_path)
    assert ocsp_status(tmp_path) == "good"

    backup = appliance.govmobile("backup")
    assert backup.returncode == 0, backup.output[-4000:]
    backup_file = re.search(r"Backup: (\S+\.tar\.gz\.age),", " ".join(backup.output.split()))
    assert backup_file, backup.output[-2000:]
    assert Path(backup_file[1]).stat().st_mode & 0o777 == 0o600

    # The file alone is ciphertext: neither tar nor another key opens it.
    assert subprocess.run(["tar", "-tzf", backup_file[1]], capture_output=True).returncode != 0
    stranger = tmp_path / "stranger.txt"
    subprocess.run(["age-keygen", "-o", str(stranger)], capture_output=True, check=True)
    assert (
        subprocess.run(["age", "-d", "-i", str(stranger), backup_file[1]], capture_output=True).returncode
        != 0
    )
    # With the backup key: the secrets are there, the root key and its passphrase are not.
    backup_key = appliance.SECRETS / "backup-key.txt"
    assert backup_key.stat().st_mode & 0o777 == 0o600
    names, secret_names = backup_members(Path(backup_file[1]), backup_key, tmp_path)
    assert sorted(names) == [
        "ca-volume.tar", "database.sqlite3", "manifest.json", "portal-volume.tar", "secrets.tar"
    ]  # fmt: skip
    assert "aio/pki/root.crt" in secret_names
    assert "aio/mdm/admin-password" in secret_names
    assert "aio/portal/root.json" in secret_names
    for kept_out in (
        "aio/pki/root.key",
        "aio/pki/root-key-passphrase",
        "aio/portal/root-key.pem",
        "aio/portal/root-key-passphrase",
        "aio/backup-key.txt",
    ):
        assert kept_out not in secret_names
    portal_root = (appliance.SECRETS / "portal" / "root.json").read_bytes()

    # The operator keeps the backup key, the root key and its passphrase off the controller.
    offline = tmp_path / "offline"
    offline.mkdir()
    for kept in (
        backup_key,
        appliance.SECRETS / "pki" / "root.key",
        appliance.SECRETS / "pki" / "root-key-passphrase",
    ):
        shutil.copy2(kept, offline / kept.name)

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

    # A fresh controller has no backup key: restore says how to give it, and changes nothing.
    keyless = appliance.govmobile("restore", backup_file[1], "--bundle", bundle_file[1], env=OFFLINE)
    assert keyless.returncode != 0
    assert "the backup is encrypted, and its key is not at" in " ".join(keyless.output.split())
    assert "--identity KEY. Nothing was changed." in " ".join(keyless.output.split())
    assert appliance.deployment_containers() == {}
    # Another key does not open it either.
    wrong = appliance.govmobile(
        "restore", backup_file[1], "--identity", str(stranger), "--bundle", bundle_file[1], env=OFFLINE
    )
    assert wrong.returncode != 0
    assert "does not open with" in " ".join(wrong.output.split())

    restored = appliance.govmobile(
        "restore", backup_file[1], "--identity", str(offline / "backup-key.txt"), "--bundle", bundle_file[1],
        env=OFFLINE,
    )  # fmt: skip
    assert restored.returncode == 0, restored.output[-4000:]
    # The restored controller has no root key: it stays offline until a deploy needs it.
    assert not (appliance.SECRETS / "pki" / "root.key").exists()
    # Nor the portal's TUF root key; the portal runs on the root devices trust, not on a new one.
    assert not (appliance.SECRETS / "portal" / "root-key.pem").exists()
    assert not (appliance.SECRETS / "portal" / "root-key-passphrase").exists()
    assert (appliance.SECRETS / "portal" / "root.json").read_bytes() == portal_root
    assert appliance.inspect("container", appliance.PORTAL_CONTAINER)["State"]["Running"]
    assert "Root CA key: not on this controller" in " ".join(restored.output.split())
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

    # The root key goes into a backup only when asked, still encrypted, and never its passphrase.
    shutil.copy2(offline / "root.key", appliance.SECRETS / "pki" / "root.key")
    with_key = appliance.govmobile("backup", "--with-root-key")
    assert with_key.returncode == 0, with_key.output[-4000:]
    with_key_file = re.search(r"Backup: (\S+\.tar\.gz\.age),", " ".join(with_key.output.split()))
    assert with_key_file, with_key.output[-2000:]
    _, secret_names = backup_members(Path(with_key_file[1]), offline / "backup-key.txt", tmp_path)
    assert "aio/pki/root.key" in secret_names
    assert "aio/pki/root-key-passphrase" not in secret_names
    (appliance.SECRETS / "pki" / "root.key").unlink()  # back offline
