"""The per-device desired-state document: what this device should have, signed by the portal.

TUF says *what exists*; this document says *what this device should have*: each app's intent
(required, available, uninstall), the release to install (its TUF target path and SHA-256), its
track, its managed configuration and its protection policy, and the apps left alone because their
assignments conflict. It is built from ``assignments.resolve_desired_apps`` and the releases.

A device acts on a document only if:

- it is signed by the portal's desired-state key, which the device learns through TUF (a target
  listed by the online targets role, so the trust still comes from the offline root);
- it names this device (a document for another device is refused, even if validly signed);
- its sequence is greater than the last one the device accepted (a replayed older document, which
  might re-enable an app since removed, is refused);
- it has not expired (a portal that stops answering cannot keep a device on an old state forever).

The format reuses TUF's envelope: canonical JSON (securesystemslib) under ``signed``, Ed25519
signatures under ``signatures``, so the agent verifies it with the libraries it already has for
TUF. ``DesiredStateVerifier`` is the reference for the agent's side and is what the tests run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Key, Signature, Signer, SSlibKey

from govmobile.core.errors import InvalidInput
from govmobile.portal.assignments import ConfigValue, Intent, Resolution, check_config
from govmobile.portal.errors import DocumentRefused
from govmobile.portal.manifest import check_package_id
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import Release, Track, current_release
from govmobile.portal.repository import package_target_path

DOCUMENT_TYPE = "govmobile-desired-state"
SPEC_VERSION = 1
#: A device re-fetches well before this; an unreachable portal leaves it on its state at most this long.
LIFETIME = dt.timedelta(days=7)
MAX_DOCUMENT_BYTES = 1 << 20
#: The TUF target under which the portal publishes the key that signs desired-state documents.
KEY_TARGET = "keys/desired-state.json"
_T = TypeVar("_T")


@dataclass(frozen=True)
class AppState:
    package: str
    intent: Intent
    track: Track | None = None
    version_code: int | None = None
    version_name: str | None = None
    #: The TUF target to download and its SHA-256 (for required and available apps).
    target: str | None = None
    sha256: str | None = None
    config: Mapping[str, ConfigValue] = field(default_factory=dict)
    protection: ProtectionPolicy | None = None
    remove_when_unassigned: bool = True


@dataclass(frozen=True)
class DesiredState:
    device_id: str
    sequence: int
    issued: dt.datetime
    expires: dt.datetime
    apps: tuple[AppState, ...]
    #: Packages whose assignments conflict: the device leaves them as they are.
    conflicts: tuple[str, ...] = ()

    def content_digest(self) -> str:
        """SHA-256 of what the device should do (not of sequence or times): a new sequence is due when it changes."""
        body = {
            "device_id": self.device_id,
            "apps": [_app_json(a) for a in self.apps],
            "conflicts": list(self.conflicts),
        }
        return hashlib.sha256(_canonical(body)).hexdigest()


def build_desired_state(
    device_id: str,
    resolution: Resolution,
    releases: Mapping[str, Sequence[Release]],
    *,
    sequence: int,
    now: dt.datetime,
    lifetime: dt.timedelta = LIFETIME,
) -> DesiredState:
    """The document's content for a device from its resolution and the apps' releases.

    A required or available app without a live release on its track is left out: there is
    nothing to install yet (the admin's status view shows it as waiting).
    """
    apps: list[AppState] = []
    for package, app in sorted(resolution.apps.items()):
        if app.intent is Intent.UNINSTALL:
            apps.append(AppState(package, app.intent, remove_when_unassigned=app.remove_when_unassigned))
            continue
        assert app.track is not None
        release = current_release(releases.get(package, ()), app.track)
        if release is None:
            continue
        apps.append(
            AppState(
                package,
                app.intent,
                app.track,
                release.version_code,
                release.version_name,
                package_target_path(package, release.version_code),
                release.sha256,
                dict(app.config),
                app.protection,
                app.remove_when_unassigned,
            )
        )
    issued = now.astimezone(dt.UTC).replace(microsecond=0)
    return DesiredState(
        device_id, sequence, issued, issued + lifetime, tuple(apps), tuple(sorted(resolution.conflicts))
    )


def sign_desired_state(state: DesiredState, signer: Signer) -> bytes:
    """The signed document a device fetches."""
    signed = {
        "type": DOCUMENT_TYPE,
        "spec_version": SPEC_VERSION,
        "device_id": state.device_id,
        "sequence": state.sequence,
        "issued": _time(state.issued),
        "expires": _time(state.expires),
        "apps": [_app_json(app) for app in state.apps],
        "conflicts": list(state.conflicts),
    }
    signature = signer.sign(_canonical(signed))
    return json.dumps({"signed": signed, "signatures": [signature.to_dict()]}, ensure_ascii=False).encode()


def public_key_document(key: Key) -> bytes:
    """The desired-state public key as the TUF target ``KEY_TARGET`` (securesystemslib's key form)."""
    return json.dumps({"keyid": key.keyid, "key": key.to_dict()}, sort_keys=True).encode()


def key_from_document(data: bytes) -> Key:
    document = json.loads(data)
    return SSlibKey.from_dict(document["keyid"], dict(document["key"]))


class DesiredStateVerifier:
    """The device's side: accept a document only for this device, newer than the last, unexpired."""

    def __init__(self, key: Key, device_id: str) -> None:
        self._key = key
        self._device_id = device_id

    def verify(self, data: bytes, *, last_sequence: int, now: dt.datetime) -> DesiredState:
        signed = self._signed_part(data)
        if signed.get("type") != DOCUMENT_TYPE or signed.get("spec_version") != SPEC_VERSION:
            raise DocumentRefused(
                "this is not a desired-state document this agent understands", code="document_malformed"
            )
        if signed.get("device_id") != self._device_id:
            raise DocumentRefused(
                "the desired-state document is for another device", code="document_other_device"
            )
        sequence = signed.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence <= last_sequence:
            raise DocumentRefused(
                f"the desired-state document is not newer than the last one accepted (sequence {last_sequence}): "
                "a replayed or older document",
                code="document_replayed",
            )
        state = _parse(signed)
        if now >= state.expires:
            raise DocumentRefused("the desired-state document has expired", code="document_expired")
        return state

    def _signed_part(self, data: bytes) -> dict[str, Any]:
        if len(data) > MAX_DOCUMENT_BYTES:
            raise DocumentRefused("the desired-state document is too large", code="document_malformed")
        try:
            document = json.loads(data)
            signed = document["signed"]
            signatures = [Signature.from_dict(dict(s)) for s in document["signatures"]]
            payload = _canonical(signed)
        except (ValueError, KeyError, TypeError, AttributeError, FormatError) as exc:
            raise DocumentRefused(
                "the desired-state document is not well formed", code="document_malformed"
            ) from exc
        if not isinstance(signed, dict):
            raise DocumentRefused("the desired-state document is not well formed", code="document_malformed")
        for signature in signatures:
            if signature.keyid == self._key.keyid:
                try:
                    self._key.verify_signature(signature, payload)
                except (UnverifiedSignatureError, VerificationError) as exc:
                    raise DocumentRefused(
                        "the desired-state document's signature does not verify",
                        code="document_bad_signature",
                    ) from exc
                return signed
        raise DocumentRefused(
            "the desired-state document is not signed by the portal's key", code="document_bad_signature"
        )


def _parse(signed: Mapping[str, Any]) -> DesiredState:
    try:
        apps = tuple(_app_from_json(app) for app in signed["apps"])
        conflicts = tuple(check_package_id(str(p)) for p in signed["conflicts"])
        return DesiredState(
            str(signed["device_id"]),
            int(signed["sequence"]),
            _parse_time(signed["issued"]),
            _parse_time(signed["expires"]),
            apps,
            conflicts,
        )
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        raise DocumentRefused(
            "the desired-state document is not well formed", code="document_malformed"
        ) from exc


def _app_json(app: AppState) -> dict[str, Any]:
    return {
        "package": app.package,
        "intent": str(app.intent),
        "track": None if app.track is None else str(app.track),
        "version_code": app.version_code,
        "version_name": app.version_name,
        "target": app.target,
        "sha256": app.sha256,
        "config": dict(app.config),
        "protection": None if app.protection is None else app.protection.to_document(),
        "remove_when_unassigned": app.remove_when_unassigned,
    }


def _app_from_json(entry: Mapping[str, Any]) -> AppState:
    config = dict(entry["config"])
    check_config(config)
    protection = entry["protection"]
    return AppState(
        package=check_package_id(str(entry["package"])),
        intent=Intent(entry["intent"]),
        track=None if entry["track"] is None else Track(entry["track"]),
        version_code=_optional(entry["version_code"], int),
        version_name=_optional(entry["version_name"], str),
        target=_optional(entry["target"], str),
        sha256=_optional(entry["sha256"], str),
        config=config,
        protection=None if protection is None else ProtectionPolicy.from_document(protection),
        remove_when_unassigned=bool(entry["remove_when_unassigned"]),
    )


def _optional(value: Any, kind: type[_T]) -> _T | None:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}")
    return value


def _canonical(value: Any) -> bytes:
    text = encode_canonical(value)
    assert text is not None
    return text.encode("utf-8")


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> dt.datetime:
    return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
