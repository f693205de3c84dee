"""One inspection of an uploaded Android package: is it safe, what is it, and who signed it.

The order is the point:

1. the size, before anything is read;
2. the zip container (``archive``), so that no parser or verifier ever meets a bomb, a traversal
   name or headers that two readers would read differently;
3. the signature verifier (``apksigner``, a child process) starts, and while it runs on one core
   the manifest is read (androguard) on the other;
4. the verdict, and then a cross-check: the certificates that the manifest reader found must be
   exactly the ones the verifier verified, so that what the catalogue shows and pins is what
   Android will check.

A malformed manifest is reported as such even though apksigner would also fail on it (it needs
the manifest's minimum SDK); a package altered after signing is reported as tampered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from govmobile.portal.archive import ArchiveLimits, check_archive
from govmobile.portal.errors import NotAnApk, PackageTooLarge, SignatureInvalid
from govmobile.portal.manifest import AppManifest, read_manifest
from govmobile.portal.signatures import SignatureVerifier, VerifiedSignature
from govmobile.portal.uploads import sha256_of_file


@dataclass(frozen=True)
class PackageLimits:
    """The largest package the portal takes, and the limits on its zip container."""

    max_package_bytes: int = 300 << 20
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True)
class InspectedPackage:
    """A package that passed every check: its facts, its verified signers, its size and SHA-256."""

    manifest: AppManifest
    signature: VerifiedSignature
    size: int
    sha256: str

    @property
    def signers(self) -> frozenset[str]:
        """The SHA-256 of each verified signer certificate: what the release rules pin."""
        return frozenset(self.signature.signer_sha256)


def inspect_package(
    path: Path,
    verifier: SignatureVerifier,
    *,
    limits: PackageLimits | None = None,
    size: int | None = None,
    sha256: str | None = None,
) -> InspectedPackage:
    """Check, read and verify the APK at ``path``; refuse it with a ``PackageRefused`` error.

    Give ``size`` and ``sha256`` when the upload was hashed as it arrived (``uploads``); otherwise
    the file is hashed here, in chunks.
    """
    limits = limits or PackageLimits()
    on_disk = path.stat().st_size
    if on_disk > limits.max_package_bytes:
        raise PackageTooLarge(
            f"the package is larger than the limit of {limits.max_package_bytes:,} bytes",
            details={"max_bytes": limits.max_package_bytes},
        )
    if size is not None and size != on_disk:
        raise NotAnApk("the package on disk is not the one that was received; upload it again")
    archive = check_archive(path, limits.archive)
    if "AndroidManifest.xml" not in archive.entries:
        raise NotAnApk("the file is a zip archive but not an Android package (it has no AndroidManifest.xml)")
    verification = verifier.start(path)
    try:
        manifest = read_manifest(path)
        if sha256 is None:
            _, sha256 = sha256_of_file(path)
    except BaseException:
        verification.cancel()
        raise
    signature = verification.result()
    _check_same_signers(manifest, signature)
    return InspectedPackage(manifest, signature, on_disk, sha256)


def _check_same_signers(manifest: AppManifest, signature: VerifiedSignature) -> None:
    found = sorted(hashlib.sha256(der).hexdigest() for der in manifest.signer_certificates)
    if found != sorted(signature.signer_sha256):
        # Seen with v3 key rotation (the newest key verifies, older ones sign v1/v2) and with
        # crafted signing blocks. Either way the portal would pin something Android does not check.
        raise SignatureInvalid(
            "the package's signer certificates differ between its signature schemes; "
            "sign it with one release key (key rotation is not supported yet)"
        )
