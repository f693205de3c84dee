"""What an Android package says about itself: read from its binary manifest and resources.

The parsing is androguard's (``androguard.core.apk``), the maintained Python reader of Android's
binary XML, resource tables and signing blocks, as F-Droid's server uses it. What is read here is
only a *claim*: the signer certificates become trusted once ``signatures`` has verified them, and
the caller must have passed the file through ``archive.check_archive`` first, because androguard
inflates entries without a bound.

androguard is written for analysts and tolerates broken input by logging and going on; the portal
instead wants a clear refusal, so every failure to find what an installable app must declare
(package, version code) is a ``MalformedManifest``. Its logging (loguru) is switched off: it would
write attacker-chosen text to the service's log.

The package id is checked against Android's own grammar, and that grammar has no ``/`` or ``..``,
so a package id can safely become part of a file name or a repository path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from govmobile.portal.errors import InvalidPackageId, MalformedManifest, printable

logger.disable("androguard")

#: Android's package name grammar (two or more Java identifiers of ASCII letters, digits and _).
PACKAGE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
MAX_PACKAGE_ID = 255
MAX_VERSION_CODE = 2**31 - 1
MAX_TEXT = 256
#: Icons bigger than this are not shown in the catalogue (real launcher icons are a few kB).
MAX_ICON_BYTES = 1 << 20
_ICON_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"RIFF": "image/webp", b"\xff\xd8\xff": "image/jpeg"}


def icon_media_type(data: bytes) -> str | None:
    """The media type of a PNG, WebP or JPEG icon by its first bytes; None for anything else."""
    return next((media for magic, media in _ICON_TYPES.items() if data.startswith(magic)), None)


@dataclass(frozen=True)
class AppIcon:
    path: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class AppManifest:
    """The facts of one APK that the catalogue and the release rules use."""

    package: str
    version_code: int
    version_name: str
    min_sdk: int
    target_sdk: int | None
    permissions: tuple[str, ...]
    #: The app's label by locale in BCP 47 form ("zh-CN"); "" is the default label.
    labels: dict[str, str]
    icon: AppIcon | None
    #: DER certificates of the signers, as the package carries them (v3, else v2, else v1): unverified.
    signer_certificates: tuple[bytes, ...]


def check_package_id(package: str) -> str:
    """Return ``package`` if it is an Android package name; refuse anything else (``../``, ``/``)."""
    if len(package) > MAX_PACKAGE_ID or not PACKAGE_ID.fullmatch(package):
        raise InvalidPackageId(
            f"{printable(package)!r} is not an Android package name (letters, digits and _ in dot-separated parts)"
        )
    return package


def read_manifest(path: Path) -> AppManifest:
    """Read an already checked APK's manifest, labels, icon and signer certificates."""
    from androguard.core.apk import APK  # imported late: it takes a third of a second

    try:
        apk = APK(str(path))
        valid = apk.is_valid_APK()
    except Exception as exc:  # androguard raises anything on hostile bytes
        raise MalformedManifest("AndroidManifest.xml cannot be read; rebuild the package") from exc
    if not valid:
        raise MalformedManifest(
            "AndroidManifest.xml is missing or is not Android binary XML; rebuild the package"
        )
    try:
        return _facts(apk)
    except (MalformedManifest, InvalidPackageId):
        raise
    except Exception as exc:  # as above: a broken resource table or signing block
        raise MalformedManifest(
            "the package's manifest or resources cannot be read; rebuild the package"
        ) from exc


def _facts(apk: Any) -> AppManifest:
    package = check_package_id(str(apk.get_package() or ""))
    version_code = _integer(apk.get_androidversion_code(), "android:versionCode", required=True)
    assert version_code is not None
    if not 1 <= version_code <= MAX_VERSION_CODE:
        raise MalformedManifest(f"android:versionCode must be between 1 and {MAX_VERSION_CODE}")
    return AppManifest(
        package=package,
        version_code=version_code,
        version_name=_text(apk.get_androidversion_name() or "", "android:versionName"),
        # Android treats a missing minSdkVersion as 1.
        min_sdk=_integer(apk.get_min_sdk_version(), "android:minSdkVersion", required=False) or 1,
        target_sdk=_integer(apk.get_target_sdk_version(), "android:targetSdkVersion", required=False),
        permissions=tuple(sorted({_text(p, "uses-permission") for p in apk.get_permissions()})),
        labels=_labels(apk),
        icon=_icon(apk),
        signer_certificates=tuple(
            bytes(der)
            for der in (
                apk.get_certificates_der_v3() or apk.get_certificates_der_v2() or _v1_certificates(apk)
            )
        ),
    )


def _integer(value: object, attribute: str, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise MalformedManifest(f"the manifest has no {attribute}; an installable app must declare it")
        return None
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise MalformedManifest(f"{attribute} in the manifest is not a number")
    return int(text)


def _text(value: object, what: str) -> str:
    text = str(value)
    if len(text) > MAX_TEXT or any(ord(c) < 0x20 for c in text):
        raise MalformedManifest(f"{what} in the manifest is too long or holds control characters")
    return text


def _labels(apk: Any) -> dict[str, str]:
    """The application label in every locale the resource table has it (default under "")."""
    raw = apk.get_attribute_value("application", "label")
    resources = apk.get_android_resources() if raw and str(raw).startswith("@") else None
    if resources is None:
        label = apk.get_app_name()
        return {"": _text(label, "the application label")} if label else {}
    labels: dict[str, str] = {}
    resource_id = int(str(raw)[1:], 16)
    for config, value in resources.get_resolved_res_configs(resource_id):
        if isinstance(value, str) and value:
            labels[_bcp47(config.get_language_and_region())] = _text(value, "the application label")
    return labels


def _bcp47(qualifier: str) -> str:
    """Android's resource qualifier ("zh-rCN", "en") as a BCP 47 tag ("zh-CN", "en"); "" stays ""."""
    return qualifier.replace("-r", "-").strip("\x00")


def _icon(apk: Any) -> AppIcon | None:
    path = apk.get_app_icon()
    if not path:
        return None
    data = apk.get_file(path)
    if len(data) > MAX_ICON_BYTES:
        return None
    for magic, media_type in _ICON_TYPES.items():
        if data.startswith(magic):
            return AppIcon(path, media_type, bytes(data))
    return None  # an adaptive (XML) icon: the catalogue shows a placeholder


def _v1_certificates(apk: Any) -> list[bytes]:
    return [certificate.dump() for certificate in apk.get_certificates_v1() if certificate is not None]
