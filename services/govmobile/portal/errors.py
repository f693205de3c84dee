"""The portal's domain errors.

They extend the shared hierarchy of ``govmobile.core.errors`` so that the service's one error
handler maps them like every other service's, by base class; each has its own ``code`` for
clients and the admin CLI::

    InvalidInput
    └── PackageRefused              an uploaded file is not an APK the portal accepts
        ├── PackageTooLarge             over the configured size, refused while it streams in
        ├── NotAnApk                    not a zip, or no AndroidManifest.xml
        ├── UnsafeArchive               entry names that climb out (../), duplicates, odd headers
        ├── ZipBomb                     inflates past the limits, or past what it declares
        ├── MalformedManifest           AndroidManifest.xml cannot be read, or lacks what is needed
        ├── InvalidPackageId            a package id that is not an Android package name
        └── SignatureInvalid            unsigned, tampered, or a signer the verifier did not check
    InvalidInput
    └── InvalidAssignment           an assignment or protection policy that breaks a rule
    InvalidInput
    └── InvalidStartPath            a web app's route name or start path that would leave its route
    Conflict
    └── ReleaseRefused              the release rules refuse the step
        ├── SignerMismatch              an update signed by another key than the app's pinned one
        ├── VersionNotNewer             a version code not above the newest published one
        ├── TransitionRefused           a step the release's state, track or review does not allow
        ├── PackageOwnedElsewhere       a package id another department registered
        └── KindMismatch                an APK for a web app's id, or a web entry for an Android app's
    Conflict
    └── RouteRefused                a web app's gateway route is missing, disabled, or does not admit
    InvalidInput
    └── DocumentRefused             a signed document (desired state) a device must not act on
    UnavailableDependency
    └── VerifierUnavailable         apksigner is missing, failed or took too long

Messages say what was wrong and what to do. They never echo bytes from an uploaded file beyond a
short, sanitised entry name, because an attacker chooses those bytes.
"""

from __future__ import annotations

from govmobile.core.errors import Conflict, InvalidInput, UnavailableDependency


class PackageRefused(InvalidInput):
    code = "package_refused"


class PackageTooLarge(PackageRefused):
    code = "package_too_large"


class NotAnApk(PackageRefused):
    code = "not_an_apk"


class UnsafeArchive(PackageRefused):
    code = "unsafe_archive"


class ZipBomb(PackageRefused):
    code = "zip_bomb"


class MalformedManifest(PackageRefused):
    code = "malformed_manifest"


class InvalidPackageId(PackageRefused):
    code = "invalid_package_id"


class SignatureInvalid(PackageRefused):
    code = "signature_invalid"


class InvalidAssignment(InvalidInput):
    code = "invalid_assignment"


class ReleaseRefused(Conflict):
    code = "release_refused"


class SignerMismatch(ReleaseRefused):
    code = "signer_mismatch"


class VersionNotNewer(ReleaseRefused):
    code = "version_not_newer"


class TransitionRefused(ReleaseRefused):
    code = "release_transition_refused"


class PackageOwnedElsewhere(ReleaseRefused):
    code = "package_owned_elsewhere"


class KindMismatch(ReleaseRefused):
    code = "app_kind_mismatch"


class InvalidStartPath(InvalidInput):
    code = "invalid_start_path"


class RouteRefused(Conflict):
    code = "route_refused"


class DocumentRefused(InvalidInput):
    code = "document_refused"


class VerifierUnavailable(UnavailableDependency):
    code = "verifier_unavailable"


def printable(name: str, limit: int = 80) -> str:
    """An attacker-chosen name made safe to put in a message: escaped and cut short."""
    shown = name.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
