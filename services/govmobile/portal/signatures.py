"""APK signature verification, by the Android SDK's own verifier: Debian's ``apksigner``.

Why a Java tool in a Python service: a package's signature is what pins it to its publisher, and
getting it almost right is the same as getting it wrong. ``apksigner verify`` is the reference
implementation (the same apksig library that Android's build and Play use): it checks the v1 (JAR)
scheme entry by entry, the v2/v3 schemes over the whole file, the rules about which scheme an
Android version enforces, and stripping protection. No maintained Python library does all of that:
androguard checks the v1 PKCS#7 signature over the ``.SF`` file but neither the per-entry digests
nor the v2/v3 content digests, and the pure-Python verifiers on PyPI (apkverify, apksigtool) have
had no release for years. F-Droid's server makes the same choice. The cost is a Java runtime in the
portal's image and about 0.4 s of JVM start per verification, paid once per upload.

The verifier is an interface (``SignatureVerifier``) so that the service depends on the shape of
the answer, not on the tool; ``Apksigner`` is its one implementation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from govmobile.portal.errors import SignatureInvalid, VerifierUnavailable

_SCHEME = re.compile(r"^Verified using v(\d) scheme[^:]*: (true|false)$", re.MULTILINE)
_SIGNER = re.compile(r"^Signer #(\d+) certificate SHA-256 digest: ([0-9a-f]{64})$", re.MULTILINE)
_WARNING = re.compile(r"^WARNING: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class VerifiedSignature:
    """What the verifier proved: the schemes that verified, and the SHA-256 of each signer's certificate."""

    schemes: frozenset[int]
    signer_sha256: tuple[str, ...]
    #: The verifier's warnings (e.g. a v1-only entry not covered by the signature), shown to reviewers.
    warnings: tuple[str, ...] = ()


class Verification(Protocol):
    def result(self) -> VerifiedSignature:
        """Wait for the verdict: the verified signature, or ``SignatureInvalid``."""
        ...

    def cancel(self) -> None:
        """Stop verifying (the package was refused for another reason meanwhile)."""
        ...


class SignatureVerifier(Protocol):
    def start(self, path: Path) -> Verification:
        """Start verifying the package at ``path``; the verdict comes from ``result()``."""
        ...


class Apksigner:
    """``apksigner verify`` in a child process, bounded in time and memory."""

    def __init__(
        self, executable: str = "apksigner", *, timeout_seconds: float = 120, max_heap: str = "512m"
    ) -> None:
        self._executable = executable
        self._timeout = timeout_seconds
        self._max_heap = max_heap

    def start(self, path: Path) -> PendingVerification:
        """Start verifying ``path`` and return at once, so that other checks can run meanwhile."""
        found = shutil.which(self._executable)
        if found is None:
            raise VerifierUnavailable("the APK signature verifier (apksigner) is not installed on the portal")
        # -J passes an option to the JVM: the heap stays bounded whatever the package holds.
        command = [found, f"-JXmx{self._max_heap}", "verify", "--verbose", "--print-certs", "--in", str(path)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return PendingVerification(process, self._timeout)

    def verify(self, path: Path) -> VerifiedSignature:
        return self.start(path).result()


class PendingVerification:
    """A running ``apksigner``; ``result()`` waits for it, ``cancel()`` stops it."""

    def __init__(self, process: subprocess.Popen[str], timeout: float) -> None:
        self._process = process
        self._timeout = timeout

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()

    def result(self) -> VerifiedSignature:
        try:
            out, err = self._process.communicate(timeout=self._timeout)
        except subprocess.TimeoutExpired as exc:
            self.cancel()
            raise VerifierUnavailable("verifying the package's signature took too long; try again") from exc
        return parse_verification(self._process.returncode, out, err)


def parse_verification(returncode: int, out: str, err: str) -> VerifiedSignature:
    """Read apksigner's verdict. Only an exit status of 0 with "Verifies" first counts as verified."""
    if returncode != 0 or not out.startswith("Verifies\n"):
        raise SignatureInvalid(_reason(out + "\n" + err))
    schemes = frozenset(int(v) for v, ok in _SCHEME.findall(out) if ok == "true")
    signers = tuple(digest for _, digest in sorted(_SIGNER.findall(out), key=lambda m: int(m[0])))
    if not schemes or not signers:
        raise SignatureInvalid("the package verifies with no signature scheme and no signer; sign it")
    warnings = tuple(w.strip()[:200] for w in _WARNING.findall(out + "\n" + err))
    return VerifiedSignature(schemes, signers, warnings)


def _reason(output: str) -> str:
    """A short, safe reason for a refusal, from apksigner's own words where they are recognisable."""
    if "DOES NOT VERIFY" in output and ("digest mismatch" in output or "integrity check failed" in output):
        return "the package's signature does not match its content: it was altered after signing (tampered)"
    if (
        "No JAR signatures" in output
        or "Missing META-INF/MANIFEST.MF" in output
        or "no signatures" in output.lower()
    ):
        return "the package is not signed; sign it with the app's release key"
    if "Malformed" in output or "ZipFormatException" in output or "ApkFormatException" in output:
        return "the package is not a well-formed APK, so its signature cannot be checked"
    return "the package's signature does not verify; rebuild and sign it with the app's release key"
