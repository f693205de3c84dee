"""The app portal's device API, through the gateway with the device's certificate.

What this module trusts, and why (docs/portal.md, "Trust chain"):

- The **TUF root** the device received right after enrollment (``GET /api/v1/device/enrollment-profile``
  over its first mutual-TLS connection, verified against the CA root it pinned): kept in
  ``STATE/portal/`` and from then on replaced only by python-tuf with a newer root signed by the
  old one. Every refresh goes through ``tuf.ngclient``, which refuses metadata older than what the
  device already has (rollback), expired metadata (freeze), and metadata not signed by the keys
  the root names.
- **Packages** only as TUF targets: ngclient checks the length and SHA-256 the signed targets
  metadata lists before the file is handed over; a package the metadata does not list is never
  fetched.
- The **desired-state document** only after ``DesiredStateVerifier`` accepts it, with the key
  published as a TUF target.

python-tuf's client is synchronous, so this module is too; the installer runs it in a thread.
Every failure becomes an ``AgentError`` with a reason a person can act on: ``PortalRefused``
(a trust failure, with a ``code``) for what the device refuses, and the gateway's translations
(``gateway.refusal``, ``gateway.transport_error``) for what the network and the server say.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from securesystemslib.signer import Key
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import FetcherInterface, Updater  # type: ignore[attr-defined]

from govmobile_device import __version__
from govmobile_device.apps import NoPortal
from govmobile_device.desired_state import KEY_TARGET, DesiredApp, key_from_document
from govmobile_device.errors import (
    AgentError,
    CertificateRejected,
    ServerUnreachable,
    StateError,
    TrustFailure,
)
from govmobile_device.files import private_directory, read_private, write_atomic
from govmobile_device.gateway import DEFAULT_TIMEOUT, mutual_context, refusal, transport_error
from govmobile_device.state import DeviceIdentity

ENROLLMENT_PROFILE = "/api/v1/device/enrollment-profile"
DOCUMENT_MEDIA_TYPE = "application/vnd.govmobile.desired-state+dsse+json"
#: The largest metadata file or package the agent accepts from the portal.
MAX_PACKAGE_BYTES = 300 << 20
NO_PORTAL = "this appliance has no app portal (its enrollment profile names none)"
ASK_AGAIN_AFTER = dt.timedelta(hours=24)


class PortalRefused(TrustFailure):
    """The device refused what the portal sent; ``code`` names the check that failed."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrustAnchor:
    """Where the portal is, and the TUF root the device received at enrollment."""

    base_path: str
    root: bytes


class PortalConnection:
    """HTTP to the gateway with the device's certificate (a synchronous client, for python-tuf)."""

    def __init__(
        self,
        identity: DeviceIdentity,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = identity.server
        self.client = httpx.Client(
            base_url=identity.server,
            verify=mutual_context(identity),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": f"govmobile-device/{__version__}"},
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"{self.server} did not answer in time; try again later", cause="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise transport_error(self.server, exc) from exc
        if response.status_code not in ok:
            raise refusal(response)
        return response

    def enrollment_profile(self) -> TrustAnchor | None:
        """The portal's trust anchor from the MDM's enrollment profile (None: no portal)."""
        body = self.request("GET", ENROLLMENT_PROFILE).json()
        portal = body.get("portal") if isinstance(body, dict) else None
        if portal is None:
            return None
        try:
            root = base64.b64decode(str(portal["root"]), validate=True)
            base_path = str(portal["base_path"])
            signed = json.loads(root)["signed"]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise TrustFailure("the enrollment profile's portal root is not TUF root metadata") from exc
        if not isinstance(signed, dict) or signed.get("_type") != "root" or not base_path.startswith("/"):
            raise TrustFailure("the enrollment profile's portal root is not TUF root metadata")
        return TrustAnchor(base_path.rstrip("/"), root)


class _HttpRefusal(tuf_errors.DownloadHTTPError):
    """A 403 or 404 from the gateway, as python-tuf expects it, with the agent's own reading."""

    def __init__(self, error: AgentError, status_code: int) -> None:
        super().__init__(error.message, status_code)
        self.error = error


class _GatewayFetcher(FetcherInterface):
    """python-tuf's downloads over the device's mutual-TLS connection, streamed."""

    def __init__(self, connection: PortalConnection) -> None:
        self.connection = connection

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            with self.connection.client.stream("GET", url) as response:
                if response.status_code != 200:
                    response.read()
                    error = refusal(response)
                    if response.status_code in (403, 404):
                        # python-tuf needs these as its own error (a 404 ends its root updates).
                        raise _HttpRefusal(error, response.status_code)
                    raise error
                yield from response.iter_bytes(64 << 10)
        except httpx.HTTPError as exc:
            raise transport_error(self.connection.server, exc) from exc


class PortalClient:
    """One session with the portal: refresh TUF, fetch and download, report."""

    def __init__(self, connection: PortalConnection, home: Path, anchor: TrustAnchor) -> None:
        self.connection = connection
        self.home = home
        self.anchor = anchor
        self._updater: Updater | None = None

    # -- the signed repository -----------------------------------------------------------------

    def refresh(self) -> Updater:
        """Update the TUF metadata: refuses rollback, freeze, and anything not signed as the root says."""
        if self._updater is not None:
            return self._updater
        metadata, targets = self.home / "metadata", self.home / "targets"
        private_directory(metadata)
        private_directory(targets)
        # The root kept from earlier runs (perhaps rotated since enrollment), else the enrollment one.
        bootstrap = None if (metadata / "root.json").exists() else self.anchor.root
        base = f"{self.connection.server}{self.anchor.base_path}"
        try:
            updater = Updater(
                metadata_dir=str(metadata),
                metadata_base_url=f"{base}/metadata/",
                target_dir=str(targets),
                target_base_url=f"{base}/targets/",
                fetcher=_GatewayFetcher(self.connection),
                bootstrap=bootstrap,
            )
            updater.refresh()
        except Exception as exc:  # python-tuf raises its own tree and, through the fetcher, ours
            raise _translated(exc, "the portal's signed metadata") from exc
        self._updater = updater
        return updater

    def desired_state_key(self) -> Key:
        """The key that signs desired-state documents, as a TUF target (trusted through the root)."""
        updater = self.refresh()
        info = updater.get_targetinfo(KEY_TARGET)
        if info is None:
            raise PortalRefused(
                "the portal's signed repository does not list its desired-state key", code="unlisted"
            )
        try:
            path = updater.find_cached_target(info) or updater.download_target(info)
        except Exception as exc:
            raise _translated(exc, "the desired-state key") from exc
        return key_from_document(Path(path).read_bytes())

    def package(self, app: DesiredApp) -> tuple[Path, TargetFile]:
        """Download a package the desired state names, only as a TUF target (length and SHA-256 checked)."""
        if app.target is None:
            raise PortalRefused(f"the desired state names no package file for {app.package}", code="unlisted")
        updater = self.refresh()
        info = updater.get_targetinfo(app.target)
        if info is None:
            raise PortalRefused(
                f"{app.package} ({app.target}) is not listed in the portal's signed repository; it was not "
                "downloaded",
                code="unlisted",
            )
        if app.sha256 is not None and info.hashes.get("sha256") != app.sha256:
            raise PortalRefused(
                f"the desired state and the signed repository disagree on {app.package}'s SHA-256; it was not "
                "installed",
                code="mismatch",
            )
        if info.length > MAX_PACKAGE_BYTES:
            raise PortalRefused(f"{app.package} is larger than this agent accepts", code="too_large")
        try:
            cached = updater.find_cached_target(info)
            path = cached or updater.download_target(info)
        except Exception as exc:
            raise _translated(exc, f"the package of {app.package}") from exc
        return Path(path), info

    # -- the device's own documents ------------------------------------------------------------

    def desired_state(self, device_id: str, last_sequence: int, *, fresh: bool = False) -> bytes | None:
        """The device's signed document, or None when it is unchanged since ``last_sequence`` (304).

        ``fresh``: the answer must reflect every change committed so far. Without it the gateway
        may answer 304 for up to about a second after a change (docs/device-protocol.md)."""
        headers = {"Accept": DOCUMENT_MEDIA_TYPE}
        if last_sequence > 0:
            headers["If-None-Match"] = f'"{last_sequence}"'
        if fresh:
            headers["Cache-Control"] = "no-cache"
        response = self.connection.request(
            "GET",
            f"{self.anchor.base_path}/devices/{device_id}/desired-state",
            headers=headers,
            ok=(200, 304),
        )
        return None if response.status_code == 304 else response.content

    def report(self, device_id: str, apps: list[dict[str, Any]]) -> None:
        """Tell the portal where each managed app stands (its admin sees attempts and errors)."""
        self.connection.request(
            "POST", f"{self.anchor.base_path}/installations", json={"device_id": device_id, "apps": apps}
        )


def load_anchor(home: Path) -> TrustAnchor | None:
    """The anchor kept in ``home`` (None: not received yet)."""
    try:
        saved = json.loads(read_private(home / "anchor.json"))
        return TrustAnchor(str(saved["base_path"]), base64.b64decode(saved["root"]))
    except FileNotFoundError:
        return None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise StateError(
            f"{home / 'anchor.json'} (the app portal's trust anchor) is damaged; enroll again with --force"
        ) from None


def save_anchor(home: Path, anchor: TrustAnchor) -> None:
    private_directory(home)
    record = {"base_path": anchor.base_path, "root": base64.b64encode(anchor.root).decode()}
    write_atomic(home / "anchor.json", json.dumps(record, indent=2).encode())


def receive_anchor(connection: PortalConnection, home: Path, now: dt.datetime) -> TrustAnchor:
    """The anchor kept, or the one from the enrollment profile (kept from then on).

    An appliance without a portal is asked again at most once every ``ASK_AGAIN_AFTER`` (a portal
    added later reaches devices enrolled before it), not at every check-in."""
    anchor = load_anchor(home)
    if anchor is not None:
        return anchor
    marker = home / "no-portal"
    try:
        asked = dt.datetime.fromisoformat(read_private(marker).decode())
        if dt.timedelta(0) <= now - asked < ASK_AGAIN_AFTER:
            raise NoPortal(NO_PORTAL)
    except (FileNotFoundError, ValueError):
        pass
    received = connection.enrollment_profile()
    if received is None:
        private_directory(home)
        write_atomic(marker, now.isoformat().encode())
        raise NoPortal(NO_PORTAL)
    save_anchor(home, received)
    return received


def _translated(exc: Exception, what: str) -> AgentError:
    """python-tuf's refusals as the agent says them: the check that failed and what was kept."""
    if isinstance(exc, AgentError):
        return exc
    cause = exc.__cause__
    if isinstance(cause, AgentError):
        return cause
    if isinstance(exc, tuf_errors.BadVersionNumberError | tuf_errors.EqualVersionNumberError):
        return PortalRefused(
            f"rollback refused: {what} is older than what this device already trusts (a replayed catalogue); "
            f"nothing was installed ({exc})",
            code="rollback",
        )
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return PortalRefused(
            f"freeze refused: {what} has expired, so it may be stale; nothing was installed ({exc})",
            code="freeze",
        )
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError | tuf_errors.DownloadLengthMismatchError):
        return PortalRefused(
            f"tampered: {what} does not match the length or SHA-256 the signed repository lists; it was "
            f"discarded ({exc})",
            code="tampered",
        )
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return PortalRefused(
            f"{what} is not signed by the keys this device trusts; it was discarded ({exc})", code="unsigned"
        )
    if isinstance(exc, _HttpRefusal) and isinstance(exc.error, CertificateRejected):
        return exc.error
    if isinstance(exc, tuf_errors.DownloadHTTPError):
        if exc.status_code == 404:
            return PortalRefused(
                f"the portal does not offer {what} to this device ({exc})", code="not_offered"
            )
        return PortalRefused(f"the portal refused to send {what} ({exc.status_code}: {exc})", code="refused")
    if isinstance(exc, tuf_errors.DownloadError | tuf_errors.SlowRetrievalError):
        return ServerUnreachable(f"{what} could not be downloaded ({exc}); try again later")
    if isinstance(exc, tuf_errors.RepositoryError):
        return PortalRefused(f"{what} was refused by the TUF client: {exc}", code="repository")
    if isinstance(exc, OSError):
        return StateError(f"cannot keep {what} on this device: {exc}")
    raise exc
