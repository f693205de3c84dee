"""``govmobile-ca`` as an operator runs it: a real subprocess, real files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from govmobile.ca.hierarchy import CaLayout, load_issuer
from govmobile.core.errors import ConfigurationError
from tests.support.pki import csr_pem

CLI = [sys.executable, "-m", "govmobile.ca"]


def ca(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_working_hierarchy_with_private_keys(tmp_path: Path) -> None:
    out = ca("init", "--ca-dir", str(tmp_path / "ca"), "--permit-dns", "govmobile.internal").stdout
    layout = CaLayout(tmp_path / "ca")
    assert mode(layout.issuing_key) == 0o600
    assert mode(tmp_path / "ca" / "root-offline" / "root.key") == 0o600
    assert "move it offline" in out
    issuer = load_issuer(layout)
    constraints = issuer.certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert [n.value for n in constraints.value.permitted_subtrees or []] == ["govmobile.internal"]
    assert issuer.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


def test_init_refuses_to_replace_an_existing_ca(tmp_path: Path) -> None:
    ca("init", "--ca-dir", str(tmp_path))
    before = (tmp_path / "issuing.key").read_bytes()
    again = ca("init", "--ca-dir", str(tmp_path), check=False)
    assert again.returncode == 2
    assert "already holds an issuing CA" in again.stderr
    assert "Traceback" not in again.stderr
    assert (tmp_path / "issuing.key").read_bytes() == before


def test_passphrase_encrypts_the_issuing_key(tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple")
    ca("init", "--ca-dir", str(tmp_path / "ca"), "--passphrase-file", str(secret))
    pem = (tmp_path / "ca" / "issuing.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(ConfigurationError, match="encrypted: give its passphrase"):
        load_issuer(CaLayout(tmp_path / "ca"))
    with pytest.raises(ConfigurationError, match="wrong passphrase"):
        load_issuer(CaLayout(tmp_path / "ca"), passphrase=b"wrong passphrase!!")
    assert load_issuer(CaLayout(tmp_path / "ca"), passphrase=b"correct horse battery staple")


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    ca("init", "--ca-dir", str(tmp_path))
    (tmp_path / "issuing.key").chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_issuer(CaLayout(tmp_path))


def test_offline_root_split_flow(tmp_path: Path) -> None:
    """Key made on the CA host, CSR signed where the root lives, certificate installed back."""
    controller, ca_host = tmp_path / "controller", tmp_path / "ca-host"
    ca("init", "--ca-dir", str(controller), "--root-key-out", str(controller / "root.key"))
    csr = Path(ca("request-issuing", "--ca-dir", str(ca_host)).stdout.strip())
    key_before = (ca_host / "issuing.key").read_bytes()
    ca("request-issuing", "--ca-dir", str(ca_host))  # a re-run keeps the same key
    assert (ca_host / "issuing.key").read_bytes() == key_before
    signed = tmp_path / "issuing.crt"
    ca(
        "sign-issuing",
        "--csr",
        str(csr),
        "--root-cert",
        str(controller / "root.crt"),
        "--root-key",
        str(controller / "root.key"),
        "--permit-dns",
        "govmobile.internal",
        "--out",
        str(signed),
    )
    ca(
        "install-issuing",
        "--ca-dir",
        str(ca_host),
        "--cert",
        str(signed),
        "--root-cert",
        str(controller / "root.crt"),
    )
    assert (
        load_issuer(CaLayout(ca_host)).root.subject
        == x509.load_pem_x509_certificate((controller / "root.crt").read_bytes()).subject
    )
    assert not (ca_host / "root.key").exists()


def test_install_refuses_a_certificate_for_another_key(tmp_path: Path) -> None:
    ca("init", "--ca-dir", str(tmp_path / "a"))
    ca("request-issuing", "--ca-dir", str(tmp_path / "b"))
    refused = ca(
        "install-issuing",
        "--ca-dir",
        str(tmp_path / "b"),
        "--cert",
        str(tmp_path / "a" / "issuing.crt"),
        "--root-cert",
        str(tmp_path / "a" / "root.crt"),
        check=False,
    )
    assert refused.returncode == 2
    assert "does not belong to the issuing certificate" in refused.stderr


def test_import_an_existing_root(tmp_path: Path) -> None:
    ca("init", "--ca-dir", str(tmp_path / "old"), "--root-key-out", str(tmp_path / "root.key"))
    ca(
        "init",
        "--ca-dir",
        str(tmp_path / "new"),
        "--import-root",
        str(tmp_path / "old" / "root.crt"),
        "--root-key",
        str(tmp_path / "root.key"),
    )
    old, new = load_issuer(CaLayout(tmp_path / "old")), load_issuer(CaLayout(tmp_path / "new"))
    assert old.root == new.root
    assert old.certificate != new.certificate


def test_issue_signs_locally_and_records(tmp_path: Path, database_url: str) -> None:
    ca("init", "--ca-dir", str(tmp_path / "ca"))
    csr = tmp_path / "svc.csr"
    csr.write_text(csr_pem())
    env = {"GOVMOBILE_CA_CA_DIR": str(tmp_path / "ca"), "GOVMOBILE_CA_DATABASE_URL": database_url}
    out = tmp_path / "svc.pem"
    ca(
        "issue",
        "--profile",
        "service",
        "--csr",
        str(csr),
        "--dns",
        "ca.govmobile.internal",
        "--out",
        str(out),
        env=env,
    )
    chain = x509.load_pem_x509_certificates(out.read_bytes())
    assert len(chain) == 2
    assert chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["ca.govmobile.internal"]
    refused = ca("issue", "--profile", "service", "--csr", str(csr), "--dns", "*.wild", env=env, check=False)
    assert refused.returncode == 2
    assert "not a valid DNS name" in refused.stderr


def test_serve_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    ca("init", "--ca-dir", str(tmp_path))
    env = {"GOVMOBILE_CA_CA_DIR": str(tmp_path), "GOVMOBILE_CA_RA_SECRETS": '{"mdm": "changeme"}'}
    refused = ca("serve", env=env, check=False)
    assert refused.returncode == 2
    assert "GOVMOBILE_CA_RA_SECRETS" in refused.stderr
    assert "placeholder" in refused.stderr
    assert "Traceback" not in refused.stderr
