"""The device's desired-state document, verified before anything in it is believed.

The portal signs, per device, what the device should have (docs/portal.md, "Assignment and
desired state"): a DSSE envelope (securesystemslib, which python-tuf brings anyway) around compact
JSON, signed with the portal's desired-state key, which the device learns as a TUF target (so the
trust still comes from the root it received at enrollment). The agent acts on a document only if:

- the signature verifies over the exact payload bytes, checked before the payload is parsed;
- it names this device (a validly signed document for another device is refused);
- its sequence is above the last one this device accepted (a replayed older document, which
  might bring back an app since removed, is refused);
- it has not expired (a portal that stops answering cannot hold a device on an old state).

These are the rules of the server's reference, ``govmobile.portal.desired_state.DesiredStateVerifier``
(the agent never imports the server package; a test keeps the two in step).
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.signer import Key, SSlibKey

from govmobile_device.errors import TrustFailure

DOCUMENT_TYPE = "govmobile-desired-state"
PAYLOAD_TYPE = "application/vnd.govmobile.desired-state+json"
SPEC_VERSION = 1
MAX_DOCUMENT_BYTES = 1 << 20
#: The TUF target under which the portal publishes the key that signs desired-state documents.
KEY_TARGET = "keys/desired-state.json"
PACKAGE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
INTENTS = ("required", "available", "uninstall")
#: A web app's URL as the portal sends it (``govmobile.portal.desired_state.WEB_URL``): a path under
#: a gateway route, never a host, a scheme or a climb out of the route.
WEB_URL = re.compile(
    r"/apps/[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?/(?!(?:[^?]*/)?\.\.?(?:/|\?|$))(?!/)(?![^?]*//)"
    r"[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,500}"
)


class DocumentRefused(TrustFailure):
    """The desired-state document was not accepted; ``code`` says why (for reports and tests)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DesiredApp:
    package: str
    intent: str
    track: str | None = None
    version_code: int | None = None
    version_name: str | None = None
    #: The TUF target to download, and the SHA-256 the document expects it to have.
    target: str | None = None
    sha256: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    #: The app's protection policy as the portal sends it (enforced by the protection module).
    protection: dict[str, Any] | None = None
    remove_when_unassigned: bool = True
    #: The admin's retry requests so far: the agent retries once for each one it has not acted on.
    retry: int = 0
    #: A web app: the path it opens through the gateway; nothing is downloaded or installed.
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
    apps: tuple[DesiredApp, ...]
    conflicts: tuple[str, ...] = ()

    def app(self, package: str) -> DesiredApp | None:
        return next((a for a in self.apps if a.package == package), None)


def key_from_document(data: bytes) -> Key:
    """The desired-state public key from its TUF target (``{"keyid", "key"}``)."""
    try:
        document = json.loads(data)
        return SSlibKey.from_dict(str(document["keyid"]), dict(document["key"]))
    except (ValueError, KeyError, TypeError, FormatError) as exc:
        raise DocumentRefused(
            "the portal's desired-state key (a signed TUF target) is not a key this agent can read",
            code="key_malformed",
        ) from exc


class DesiredStateVerifier:
    """Accept a document only for this device, newer than the last accepted, and unexpired."""

    def __init__(self, key: Key, device_id: str) -> None:
        self._key = key
        self._device_id = device_id

    def verify(self, data: bytes, *, last_sequence: int, now: dt.datetime) -> DesiredState:
        signed = self._signed_part(data)
        if signed.get("type") != DOCUMENT_TYPE or signed.get("spec_version") != SPEC_VERSION:
            raise DocumentRefused(
                "the desired-state document is not one this agent understands", code="document_malformed"
            )
        if signed.get("device_id") != self._device_id:
            raise DocumentRefused(
                "the desired-state document is for another device; it was ignored",
                code="document_other_device",
            )
        sequence = signed.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence <= last_sequence:
            raise DocumentRefused(
                f"the desired-state document (sequence {sequence}) is not newer than the last one this "
                f"device accepted (sequence {last_sequence}): a replayed or older document; it was ignored",
                code="document_replayed",
            )
        state = _parse(signed)
        if now >= state.expires:
            raise DocumentRefused(
                f"the desired-state document expired at {state.expires:%Y-%m-%d %H:%M} UTC; it was ignored",
                code="document_expired",
            )
        return state

    def _signed_part(self, data: bytes) -> dict[str, Any]:
        malformed = DocumentRefused(
            "the desired-state document is not well formed", code="document_malformed"
        )
        if len(data) > MAX_DOCUMENT_BYTES:
            raise malformed
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
                "the desired-state document's signature does not verify (tampered on the way?); it was ignored",
                code="document_bad_signature",
            ) from exc
        # Only now, with the signature verified, is the payload parsed.
        try:
            signed = json.loads(envelope.payload)
        except ValueError as exc:
            raise malformed from exc
        if not isinstance(signed, dict):
            raise malformed
        return signed


def _parse(signed: dict[str, Any]) -> DesiredState:
    try:
        apps = tuple(_app(entry) for entry in signed["apps"])
        conflicts = tuple(_package(str(p)) for p in signed["conflicts"])
        return DesiredState(
            str(signed["device_id"]),
            int(signed["sequence"]),
            _time(signed["issued"]),
            _time(signed["expires"]),
            apps,
            conflicts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DocumentRefused(
            "the desired-state document is not well formed", code="document_malformed"
        ) from exc


def _app(entry: dict[str, Any]) -> DesiredApp:
    intent = str(entry["intent"])
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}")
    config = entry["config"]
    protection = entry["protection"]
    if not isinstance(config, dict) or not (protection is None or isinstance(protection, dict)):
        raise TypeError("config and protection must be objects")
    return DesiredApp(
        package=_package(str(entry["package"])),
        intent=intent,
        track=_optional(entry["track"], str),
        version_code=_optional(entry["version_code"], int),
        version_name=_optional(entry["version_name"], str),
        target=_optional(entry["target"], str),
        sha256=_optional(entry["sha256"], str),
        config=config,
        protection=protection,
        remove_when_unassigned=bool(entry["remove_when_unassigned"]),
        retry=_optional(entry.get("retry", 0), int) or 0,
        url=_web_url(entry),
    )


def _web_url(entry: dict[str, Any]) -> str | None:
    """A web app's path on the gateway, or None for an Android app; anything else is refused."""
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


def _package(value: str) -> str:
    if len(value) > 255 or not PACKAGE_ID.fullmatch(value):
        raise ValueError(f"{value[:60]!r} is not an Android package name")
    return value


def _optional(value: Any, kind: type) -> Any:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}")
    return value


def _time(value: Any) -> dt.datetime:
    return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
