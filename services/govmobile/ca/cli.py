"""``govmobile-ca``: set up the CA hierarchy, serve the CA, and sign locally when bootstrapping."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile.ca import hierarchy, keyfiles
from govmobile.ca.hierarchy import CaLayout, NamePolicy
from govmobile.ca.profiles import SubjectRequest
from govmobile.ca.settings import AuthoritySettings, CAServiceSettings
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import ConfigurationError, GovMobileError
from govmobile.core.settings import load_settings

_CA_DIR = click.option(
    "--ca-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GOVMOBILE_CA_CA_DIR",
    default="ca",
    show_default=True,
    help="Directory holding issuing.key, issuing.crt and root.crt (the CA's volume).",
)
_PASSPHRASE = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Encrypt the issuing key with the passphrase in this file "
    "(or set GOVMOBILE_CA_KEY_PASSPHRASE). Never pass a passphrase on the command line.",
)


@click.group()
def main() -> None:
    """GovMobile certificate authority."""


@main.command()
@_CA_DIR
@click.option("--organisation", "--org", default="GovMobile", show_default=True)
@click.option("--root-cn", default="GovMobile Root CA", show_default=True)
@click.option("--issuing-cn", default="GovMobile Issuing CA", show_default=True)
@click.option("--permit-dns", multiple=True, help="Name constraint: DNS subtree service names must be in.")
@click.option(
    "--permit-ip", multiple=True, help="Name constraint: IP range (CIDR) service addresses must be in."
)
@click.option("--root-validity-days", type=click.IntRange(1, 30 * 365), default=20 * 365, show_default=True)
@click.option(
    "--issuing-validity-days", type=click.IntRange(1, 20 * 365), default=10 * 365, show_default=True
)
@click.option(
    "--root-key-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write a newly created root key (default: <ca-dir>/root-offline/root.key). "
    "Move it off this host: the CA never needs it to run.",
)
@click.option(
    "--import-root",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Use this existing root certificate.",
)
@click.option(
    "--root-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The imported root's key (to sign a new issuing CA).",
)
@click.option(
    "--import-issuing",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Install this existing issuing CA certificate.",
)
@click.option(
    "--issuing-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The imported issuing CA's key.",
)
@_PASSPHRASE
def init(
    ca_dir: Path,
    organisation: str,
    root_cn: str,
    issuing_cn: str,
    permit_dns: tuple[str, ...],
    permit_ip: tuple[str, ...],
    root_validity_days: int,
    issuing_validity_days: int,
    root_key_out: Path | None,
    import_root: Path | None,
    root_key: Path | None,
    import_issuing: Path | None,
    issuing_key: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Create (or import) the root and the issuing CA in CA_DIR."""
    layout = CaLayout(ca_dir)
    passphrase = _passphrase(passphrase_file)
    now = utcnow()
    with _clear_errors():
        if layout.is_initialised():
            raise ConfigurationError(f"{ca_dir} already holds an issuing CA; refusing to replace it")
        if import_issuing is not None:
            if issuing_key is None or import_root is None:
                raise ConfigurationError("--import-issuing needs --issuing-key and --import-root")
            key = keyfiles.read_private_key(issuing_key, passphrase=_passphrase_for_import())
            certificate = keyfiles.read_certificates(import_issuing)[0]
            root = keyfiles.read_certificates(import_root)[0]
            hierarchy.validate_issuer(key, certificate, root)
            keyfiles.write_private_key(layout.issuing_key, key, passphrase=passphrase)
            keyfiles.write_certificates(layout.issuing_certificate, [certificate])
            keyfiles.write_certificates(layout.root_certificate, [root])
            click.echo(f"imported issuing CA {certificate.subject.rfc4514_string()} into {ca_dir}")
            return
        if import_root is not None:
            if root_key is None:
                raise ConfigurationError("--import-root needs --root-key to sign a new issuing CA")
            root_certificate = keyfiles.read_certificates(import_root)[0]
            root_private = keyfiles.read_private_key(root_key, passphrase=_passphrase_for_import())
        else:
            root_private, root_certificate = hierarchy.create_root(
                organisation=organisation,
                common_name=root_cn,
                now=now,
                validity=dt.timedelta(days=root_validity_days),
            )
            out = root_key_out or ca_dir / "root-offline" / "root.key"
            keyfiles.write_private_key(out, root_private, passphrase=passphrase)
            click.echo(f"root key written to {out} (mode 0600): move it offline")
        issuing_private = ec.generate_private_key(ec.SECP256R1())
        csr = hierarchy.issuing_request(issuing_private, organisation=organisation, common_name=issuing_cn)
        certificate = hierarchy.sign_issuing(
            csr,
            root_key=root_private,  # type: ignore[arg-type]
            root_certificate=root_certificate,
            names=NamePolicy.parse(list(permit_dns), list(permit_ip)),
            now=now,
            validity=dt.timedelta(days=issuing_validity_days),
        )
        keyfiles.write_private_key(layout.issuing_key, issuing_private, passphrase=passphrase)
        keyfiles.write_certificates(layout.issuing_certificate, [certificate])
        keyfiles.write_certificates(layout.root_certificate, [root_certificate])
        click.echo(f"issuing CA ready in {ca_dir}: {certificate.subject.rfc4514_string()}")
        click.echo(f"root certificate (pin this): {layout.root_certificate}")
        click.echo(f"root SHA-256 fingerprint: {root_certificate.fingerprint(hashes.SHA256()).hex()}")


@main.command("request-issuing")
@_CA_DIR
@click.option("--organisation", "--org", default="GovMobile", show_default=True)
@click.option("--issuing-cn", default="GovMobile Issuing CA", show_default=True)
@_PASSPHRASE
def request_issuing(ca_dir: Path, organisation: str, issuing_cn: str, passphrase_file: Path | None) -> None:
    """Create the issuing key in CA_DIR and a CSR for a root kept elsewhere to sign.

    Does nothing if the key already exists (so that a re-run keeps the same key).
    """
    layout = CaLayout(ca_dir)
    with _clear_errors():
        if layout.issuing_key.exists():
            key = keyfiles.read_private_key(layout.issuing_key, passphrase=_passphrase(passphrase_file))
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            keyfiles.write_private_key(layout.issuing_key, key, passphrase=_passphrase(passphrase_file))
        csr = hierarchy.issuing_request(key, organisation=organisation, common_name=issuing_cn)  # type: ignore[arg-type]
        keyfiles.write_bytes(layout.issuing_request, csr.public_bytes(serialization.Encoding.PEM))
        click.echo(str(layout.issuing_request))


@main.command("sign-issuing")
@click.option(
    "--csr", "csr_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True
)
@click.option("--root-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--root-key", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--permit-dns", multiple=True)
@click.option("--permit-ip", multiple=True)
@click.option(
    "--issuing-validity-days", type=click.IntRange(1, 20 * 365), default=10 * 365, show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def sign_issuing(
    csr_path: Path,
    root_cert: Path,
    root_key: Path,
    permit_dns: tuple[str, ...],
    permit_ip: tuple[str, ...],
    issuing_validity_days: int,
    out: Path,
) -> None:
    """Sign an issuing CA's CSR with the root (run where the root key lives)."""
    with _clear_errors():
        csr = x509.load_pem_x509_csr(csr_path.read_bytes())
        certificate = hierarchy.sign_issuing(
            csr,
            root_key=keyfiles.read_private_key(root_key, passphrase=_passphrase_for_import()),  # type: ignore[arg-type]
            root_certificate=keyfiles.read_certificates(root_cert)[0],
            names=NamePolicy.parse(list(permit_dns), list(permit_ip)),
            now=utcnow(),
            validity=dt.timedelta(days=issuing_validity_days),
        )
        keyfiles.write_certificates(out, [certificate])
        click.echo(str(out))


@main.command("install-issuing")
@_CA_DIR
@click.option("--cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--root-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@_PASSPHRASE
def install_issuing(ca_dir: Path, cert: Path, root_cert: Path, passphrase_file: Path | None) -> None:
    """Install the signed issuing certificate next to its key, after checking they match."""
    layout = CaLayout(ca_dir)
    with _clear_errors():
        key = keyfiles.read_private_key(layout.issuing_key, passphrase=_passphrase(passphrase_file))
        certificate = keyfiles.read_certificates(cert)[0]
        root = keyfiles.read_certificates(root_cert)[0]
        hierarchy.validate_issuer(key, certificate, root)
        keyfiles.write_certificates(layout.issuing_certificate, [certificate])
        keyfiles.write_certificates(layout.root_certificate, [root])
        layout.issuing_request.unlink(missing_ok=True)
        click.echo(f"issuing CA installed in {ca_dir}")


@main.command("root-crl")
@click.option("--root-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--root-key", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def root_crl(root_cert: Path, root_key: Path, days: int, out: Path) -> None:
    """Write a CRL signed by the root (run where the root key lives; the gateway needs it)."""
    from govmobile.ca.hierarchy import IssuerKey
    from govmobile.ca.revocation_list import root_crl as make_root_crl

    with _clear_errors():
        certificate = keyfiles.read_certificates(root_cert)[0]
        key = keyfiles.read_private_key(root_key, passphrase=_passphrase_for_import())
        root = IssuerKey(certificate, key, certificate)  # type: ignore[arg-type]
        keyfiles.write_bytes(out, make_root_crl(root, now=utcnow(), validity=dt.timedelta(days=days)))
        click.echo(str(out))


@main.command()
def serve() -> None:
    """Run the CA's HTTP service (configured by GOVMOBILE_CA_* environment variables)."""
    from govmobile.web.server import run

    with _clear_errors():
        settings = load_settings(CAServiceSettings)
        run("govmobile.ca.app:app_from_environment", settings)


@main.command()
@click.option("--profile", required=True, type=click.Choice(["device", "service", "admin", "codesign"]))
@click.option(
    "--csr", "csr_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True
)
@click.option("--dns", "dns_names", multiple=True, help="service profile: a DNS name")
@click.option("--ip", "ip_addresses", multiple=True, help="service profile: an IP address")
@click.option("--common-name", help="admin and codesign profiles")
@click.option("--device-id")
@click.option("--tenant-id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write certificate + chain here (default: stdout)",
)
def issue(
    profile: str,
    csr_path: Path,
    dns_names: tuple[str, ...],
    ip_addresses: tuple[str, ...],
    common_name: str | None,
    device_id: str | None,
    tenant_id: str | None,
    out: Path | None,
) -> None:
    """Sign a CSR locally with the CA's key and record it (bootstrap: the CA's own TLS)."""
    from govmobile.ca.app import build_authority

    with _clear_errors():
        settings = load_settings(AuthoritySettings)
        database = Database(settings.database_url)
        authority = build_authority(settings, database)
        subject = SubjectRequest(device_id, tenant_id, common_name, dns_names, ip_addresses)
        issued = authority.sign(csr_path.read_bytes(), profile, subject, actor=f"cli:{_operator()}")
        pem = issued.record.pem + "".join(issued.chain_pem()[:1])
        if out is None:
            click.echo(pem, nl=False)
        else:
            keyfiles.write_bytes(out, pem.encode())
            click.echo(f"{issued.record.serial} {out}", err=True)


@main.command("publish-crl")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def publish_crl(out: Path | None) -> None:
    """Generate a new CRL now (the service also does this on every revocation and on schedule)."""
    from govmobile.ca.app import build_authority

    with _clear_errors():
        settings = load_settings(AuthoritySettings)
        authority = build_authority(settings, Database(settings.database_url))
        document = authority.publish_crl()
        if out is not None:
            keyfiles.write_bytes(out, document.der)
        click.echo(f"CRL number {document.number}, next update {document.next_update.isoformat()}")


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit status 2, without a traceback."""
    try:
        yield
    except GovMobileError as error:
        click.echo(f"govmobile-ca: {error.public_message}", err=True)
        sys.exit(2)
    except (ConfigurationError, OSError, ValueError) as error:
        click.echo(f"govmobile-ca: {error}", err=True)
        sys.exit(2)


def _passphrase(passphrase_file: Path | None) -> bytes | None:
    if passphrase_file is not None:
        value = passphrase_file.read_bytes().strip()
        if len(value) < 12:
            raise click.UsageError("the passphrase must be at least 12 characters")
        return value
    env = os.environ.get("GOVMOBILE_CA_KEY_PASSPHRASE")
    return env.encode() if env else None


def _passphrase_for_import() -> bytes | None:
    env = os.environ.get("GOVMOBILE_CA_IMPORT_PASSPHRASE")
    return env.encode() if env else None


def _operator() -> str:
    return os.environ.get("USER") or str(os.getuid())
