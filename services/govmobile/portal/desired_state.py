"""The per-device desired-state document: what this device should have, signed by the portal.

TUF says *what exists*; this document says *what this device should have*: each app's intent
(required, available, uninstall), the release to install (its TUF target path and SHA-256), its
track, its managed configuration and its protection policy, and the apps left alone because their
assignments conflict. A web app's entry has ``"kind": "web"`` and the ``url`` it opens on the
gateway (``/apps/<route>/<start path>``) instead of a target: there is nothing to download, and
no protection policy (the app's data stays on the intranet server, behind the gateway). It is built from ``assignments.resolve_desired_apps`` and the releases.

A device acts on a document only if:

- it is signed by the portal's desired-state key, which the device learns through TUF (a target
  listed by the online targets role, so the trust still comes from the offline root);
- it names this device (a document for another device is refused, even if validly signed);
- its sequence is greater than the last one the device accepted (a replayed older document, which
  might re-enable an app since removed, is refused);
- it has not expired (a portal that stops answering cannot keep a device on an old state forever).

The document is a DSSE envelope (the signing envelope of in-toto and Sigstore, from
securesystemslib, which the agent has for TUF anyway) around compact JSON, signed with Ed25519. DSSE
signs the exact payload bytes, so a device verifies before it parses anything, and neither side
needs canonical JSON — whose pure-Python encoder cost more than resolving the device's apps (see
docs/benchmarks.md). ``DesiredStateVerifier`` is the reference for the agent's side and is what
the tests run.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.signer import Key, Signer, SSlibKey

from govmobile.core.errors import InvalidInput
from govmobile.portal.assignments import ConfigValue, Intent, Resolution, check_config
from govmobile.portal.errors import DocumentRefused
from govmobile.portal.manifest import check_package_id
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import Release, Track
from govmobile.portal.repository import package_target_path

DOCUMENT_TYPE = "govmobile-desired-state"
PAYLOAD_TYPE = "application/vnd.govmobile.desired-state+json"
SPEC_VERSION = 1
#: A device re-fetches well before this; an unreachable portal leaves it on its state at most this long.
LIFETIME = dt.timedelta(days=7)
MAX_DOCUMENT_BYTES = 1 << 20
#: The TUF target under which the portal publishes the key that signs desired-state documents.
KEY_TARGET = "keys/desired-state.json"
_T = TypeVar("_T")
#: A web app's URL as the document carries it: a path under a route, never a host or a climb.
WEB_URL = re.compile(
    r"/apps/[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?/(?!(?:[^?]*/)?\.\.?(?:/|\?|$))(?!/)(?![^?]*//)[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,500}"
)


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
    #: The admin's retry requests for this app on this device (``PortalInstallation.retry_generation``):
    #: it only grows, and the device retries a failed install once for each value it has not seen.
    retry: int = 0
    #: A web app: the path it opens on the gateway's public listener (None: an Android app).
    url: str | None = None

    @property
    def kind(self) -> str:
        return "android" if self.url is None else "web"


@dataclass(frozen=True)
class DesiredState:
    device_id: str
    sequence: int
    issued: dt.datetime
    expires: dt.datetime
    apps: tuple[AppState, ...]
    #: Packages whose assignments conflict: the device leaves them as they are.
    conflicts: tuple[str, ...] = ()

    @functools.cached_property
    def apps_json(self) -> bytes:
        """The apps as compact JSON, made once and shared by the digest and the signed payload."""
        return b"[" + b",".join(_app_bytes(_app_key(app)) for app in self.apps) + b"]"

    def content_digest(self) -> str:
        """SHA-256 of what the device should do (not of sequence or times): a new sequence is due when it changes."""
        digest = hashlib.sha256(_compact([self.device_id, list(self.conflicts)]))
        digest.update(self.apps_json)
        return digest.hexdigest()


def build_desired_state(
    device_id: str,
    resolution: Resolution,
    live: Mapping[tuple[str, Track], Release],
    *,
    sequence: int,
    now: dt.datetime,
    lifetime: dt.timedelta = LIFETIME,
    retries: Mapping[str, int] | None = None,
) -> DesiredState:
    """The document's content for a device from its resolution and the live releases.

    ``live`` is ``releases.live_releases`` of the catalogue: the current release per (package, track).
    ``retries``: the admin's retry generation per package (absent: none asked for).

    A required or available app without a live release on its track is left out: there is
    nothing to install yet (the admin's status view shows it as waiting).
    """
    apps: list[AppState] = []
    retries = retries or {}
    for package, app in sorted(resolution.apps.items()):
        if app.intent is Intent.UNINSTALL:
            apps.append(AppState(package, app.intent, remove_when_unassigned=app.remove_when_unassigned))
            continue
        assert app.track is not None
        release = live.get((package, app.track))
        if release is None:
            continue
        if release.web is not None:
            apps.append(
                AppState(
                    package,
                    app.intent,
                    app.track,
                    release.version_code,
                    release.version_name,
                    config=dict(app.config),
                    remove_when_unassigned=app.remove_when_unassigned,
                    url=release.web.url,
                )
            )
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
                retries.get(package, 0),
            )
        )
    issued = now.astimezone(dt.UTC).replace(microsecond=0)
    return DesiredState(
        device_id, sequence, issued, issued + lifetime, tuple(apps), tuple(sorted(resolution.conflicts))
    )


def sign_desired_state(state: DesiredState, signer: Signer) -> bytes:
    """The signed document a device fetches: a DSSE envelope around the state as compact JSON."""
    envelope = Envelope(_payload(state), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict(), separators=(",", ":")).encode()


def _payload(state: DesiredState) -> bytes:
    """The state as compact JSON with sorted keys; "apps" sorts first, so it is spliced in front."""
    rest = _compact(
        {
            "conflicts": list(state.conflicts),
            "device_id": state.device_id,
            "expires": _time(state.expires),
            "issued": _time(state.issued),
            "sequence": state.sequence,
            "spec_version": SPEC_VERSION,
            "type": DOCUMENT_TYPE,
        }
    )
    return b'{"apps":' + state.apps_json + b"," + rest[1:]


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
        malformed = DocumentRefused(
            "the desired-state document is not well formed", code="document_malformed"
        )
        if len(data) > MAX_DOCUMENT_BYTES:
            raise DocumentRefused("the desired-state document is too large", code="document_malformed")
        try:
            envelope = Envelope.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError, FormatError, binascii.Error) as exc:
            raise malformed from exc
        if envelope.payload_type != PAYLOAD_TYPE:
            raise malformed
        if self._key.keyid not in envelope.signatures:
            raise DocumentRefused(
                "the desired-state document is not signed by the portal's key", code="document_bad_signature"
            )
        try:
            envelope.verify([self._key], 1)
        except (UnverifiedSignatureError, VerificationError) as exc:
            raise DocumentRefused(
                "the desired-state document's signature does not verify", code="document_bad_signature"
            ) from exc
        # Only now, with the signature verified, is the payload parsed.
        try:
            signed = json.loads(envelope.payload)
        except ValueError as exc:
            raise malformed from exc
        if not isinstance(signed, dict):
            raise malformed
        return signed


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


_AppKey = tuple[
    str, Intent, Track | None, int | None, str | None, str | None, str | None,
    tuple[tuple[str, ConfigValue], ...], ProtectionPolicy | None, bool, int, str | None,
]  # fmt: skip


def _app_key(app: AppState) -> _AppKey:
    return (
        app.package, app.intent, app.track, app.version_code, app.version_name, app.target, app.sha256,
        tuple(sorted(app.config.items())), app.protection, app.remove_when_unassigned, app.retry, app.url,
    )  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _app_bytes(key: _AppKey) -> bytes:
    """One app entry as JSON.

    A fleet shares few distinct entries (apps x tracks x configurations), so each is serialised
    once rather than once per device: on the benchmark's fleet this cut building, digesting and
    signing one device's document from about 480 to 185 µs.
    """
    (
        package,
        intent,
        track,
        version_code,
        version_name,
        target,
        sha256,
        config,
        protection,
        remove,
        retry,
        url,
    ) = key
    entry: dict[str, Any] = {
        "package": package,
        "intent": str(intent),
        "track": None if track is None else str(track),
        "version_code": version_code,
        "version_name": version_name,
        "target": target,
        "sha256": sha256,
        "config": dict(config),
        "protection": None if protection is None else protection.to_document(),
        "remove_when_unassigned": remove,
    }
    if retry:
        # Only when asked for: the documents of devices without a retry stay as they were.
        entry["retry"] = retry
    if url is not None:
        # Only for web apps: Android apps' entries, and so their documents, stay as they were.
        entry["kind"], entry["url"] = "web", url
    return _compact(entry)


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
        retry=_optional(entry.get("retry", 0), int) or 0,
        url=_web_url(entry),
    )


def _web_url(entry: Mapping[str, Any]) -> str | None:
    """A web app's path on the gateway; refused unless it is one under ``/apps/``."""
    kind = entry.get("kind", "android")
    if kind == "android" and "url" not in entry:
        return None
    url = entry.get("url")
    if (
        kind != "web"
        or not isinstance(url, str)
        or not WEB_URL.fullmatch(url)
        or entry.get("target") is not None
    ):
        raise ValueError("a web app's entry names a path under /apps/ and no target")
    return url


def _optional(value: Any, kind: type[_T]) -> _T | None:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}")
    return value


def _compact(value: Any) -> bytes:
    """One JSON text per value (sorted keys, no spaces): what is signed, and what the digest covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> dt.datetime:
    return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
