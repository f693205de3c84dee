"""What the agent remembers: its identity, its runtime state, and the wipe-pending marker.

On disk (``FileStore``), in the state directory (0700, every file 0600, replaced atomically)::

    keystore/        the keys (see keystore.py)
    identity.json    server, pinned root, certificate chain, the private key sealed by the keystore
    agent.json       lock, lost mode, messages, results not yet delivered, pending installs, last server view
    container/       the work container (see container.py)
    profile.json     the device profile, unless --profile names another file (see profile.py)
    WIPE-PENDING     written before a wipe is confirmed to the server; its presence at start-up
                     means "finish the wipe now"

A damaged file is never repaired by guessing: a lost ``agent.json`` would silently unlock a
locked device, so the agent stops and says which file to restore instead. In memory
(``MemoryStore``) is the same contract for the fleet simulator's thousands of devices.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device import pki
from govmobile_device.container import EmptyContainer, FileContainer, WorkContainer
from govmobile_device.crypto import Cipher
from govmobile_device.errors import NotEnrolled, StateError
from govmobile_device.files import private_directory, read_private, shred, write_atomic
from govmobile_device.keystore import Keystore
from govmobile_device.protocol import CommandResult, DeviceStatus, Policy

MAX_MESSAGES = 50


@dataclass
class DeviceIdentity:
    """Who the device is to the appliance: its certificate and key, and whom it trusts."""

    server: str
    ca_sha256: str
    root: x509.Certificate
    intermediates: list[x509.Certificate]
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    enrolled_at: dt.datetime
    renewed_at: dt.datetime | None = None

    @property
    def device_id(self) -> str:
        return pki.common_name(self.certificate)

    @property
    def tenant_id(self) -> str:
        return pki.organisational_unit(self.certificate)

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def renew_after(self) -> dt.datetime:
        """Two thirds into the certificate's life (docs/device-protocol.md, simplereenroll)."""
        return self.not_before + (self.not_after - self.not_before) * 2 / 3


class Message(BaseModel):
    text: str
    at: dt.datetime
    command_id: str | None = None


class PendingInstall(BaseModel):
    app_id: str
    version: str | None = None
    command_id: str
    requested_at: dt.datetime


class AgentState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    locked: bool = False
    lock_message: str | None = None
    lock_phone: str | None = None
    lost_mode: bool = False
    lost_message: str | None = None
    lost_phone: str | None = None
    messages: list[Message] = Field(default_factory=list)
    #: Results not yet accepted by the server; sent with the next check-in (command id = idempotency key).
    pending_results: list[CommandResult] = Field(default_factory=list)
    pending_installs: list[PendingInstall] = Field(default_factory=list)
    server_view: DeviceStatus | None = None
    policy: Policy | None = None
    last_checkin_at: dt.datetime | None = None
    #: When a selective wipe removed the government apps and the work container. As with a work
    #: profile removed from an Android device, no managed app comes back until the device is
    #: enrolled again (a required app would otherwise reinstall at the very next check-in).
    work_container_wiped_at: dt.datetime | None = None

    def keep_message(self, message: Message) -> None:
        self.messages = [*self.messages, message][-MAX_MESSAGES:]


class StateStore(Protocol):
    """Where an agent keeps its identity and state (a directory, or memory)."""

    def try_lock(self) -> int | None:
        """Take the store for this process (None when another holds it); give it back with ``unlock``."""

    def unlock(self, handle: int) -> None: ...

    def load_identity(self) -> DeviceIdentity: ...

    def save_identity(self, identity: DeviceIdentity) -> None: ...

    def load_state(self) -> AgentState: ...

    def save_state(self, state: AgentState) -> None: ...

    def container(self) -> WorkContainer: ...

    def mark_wipe_pending(self, command_id: str) -> None: ...

    def wipe_pending(self) -> str | None: ...

    def destroy_all(self) -> None: ...


class _IdentityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    server: str
    ca_sha256: str
    root_pem: str
    intermediates_pem: str
    certificate_pem: str
    #: PKCS#8 DER of the private key, sealed by the keystore (base64).
    sealed_key: str
    enrolled_at: dt.datetime
    renewed_at: dt.datetime | None = None


class FileStore:
    def __init__(self, directory: Path, *, passphrase: str | None = None) -> None:
        self.directory = directory
        self.passphrase = passphrase
        self._keystore: Keystore | None = None

    @property
    def identity_path(self) -> Path:
        return self.directory / "identity.json"

    @property
    def state_path(self) -> Path:
        return self.directory / "agent.json"

    @property
    def marker_path(self) -> Path:
        return self.directory / "WIPE-PENDING"

    def is_enrolled(self) -> bool:
        return self.identity_path.exists()

    # -- one process at a time ----------------------------------------------------------------
    # `run` in one terminal and `checkin` or `files put` in another would otherwise both read
    # agent.json, change it and write it back, and one change would be lost (a lock, say).

    def try_lock(self) -> int | None:
        if not self.directory.is_dir():
            raise NotEnrolled(_not_enrolled(self.directory))
        descriptor = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        return descriptor

    def unlock(self, handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)

    @contextmanager
    def exclusive(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the store for a one-shot command (waits while another process holds it)."""
        deadline = time.monotonic() + timeout
        while (handle := self.try_lock()) is None:
            if time.monotonic() > deadline:
                raise StateError(busy(self.directory))
            time.sleep(0.05)
        try:
            yield
        finally:
            self.unlock(handle)

    # -- keystore ----------------------------------------------------------------------------

    def keystore(self) -> Keystore:
        if self._keystore is None:
            self._keystore = Keystore.open(self.directory / "keystore", self.passphrase)
        return self._keystore

    def prepare_keystore(self, cipher: Cipher) -> Keystore:
        """For enrollment: keep a usable keystore (and with it the work container), or make a new one."""
        private_directory(self.directory)
        path = self.directory / "keystore"
        if Keystore.exists(path):
            try:
                keystore = Keystore.open(path, self.passphrase)
                if keystore.cipher is cipher:
                    self._keystore = keystore
                    return keystore
            except StateError:
                pass
            # The old keys are unusable or of another cipher: what they protected goes with them.
            _destroy_tree(self.directory / "container")
            _destroy_tree(path)
        self._keystore = Keystore.create(path, cipher, self.passphrase)
        return self._keystore

    # -- identity ----------------------------------------------------------------------------

    def load_identity(self) -> DeviceIdentity:
        record = self._identity_record()
        keystore = self.keystore()
        der = keystore.open_sealed("identity-key", base64.b64decode(record.sealed_key))
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StateError(f"{self.identity_path} holds a key of an unexpected type")
        return DeviceIdentity(
            server=record.server,
            ca_sha256=record.ca_sha256,
            root=x509.load_pem_x509_certificate(record.root_pem.encode()),
            intermediates=pki.load_pem_list(record.intermediates_pem),
            certificate=x509.load_pem_x509_certificate(record.certificate_pem.encode()),
            key=key,
            enrolled_at=record.enrolled_at,
            renewed_at=record.renewed_at,
        )

    def load_certificate(self) -> tuple[str, x509.Certificate]:
        """Server and certificate without unlocking the keystore (for ``status``)."""
        record = self._identity_record()
        return record.server, x509.load_pem_x509_certificate(record.certificate_pem.encode())

    def save_identity(self, identity: DeviceIdentity) -> None:
        der = identity.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        record = _IdentityFile(
            server=identity.server,
            ca_sha256=identity.ca_sha256,
            root_pem=pki.pem(identity.root),
            intermediates_pem=pki.pem(*identity.intermediates),
            certificate_pem=pki.pem(identity.certificate),
            sealed_key=base64.b64encode(self.keystore().seal("identity-key", der)).decode(),
            enrolled_at=identity.enrolled_at,
            renewed_at=identity.renewed_at,
        )
        private_directory(self.directory)
        write_atomic(self.identity_path, record.model_dump_json(indent=2).encode())

    def _identity_record(self) -> _IdentityFile:
        try:
            return _IdentityFile.model_validate_json(read_private(self.identity_path))
        except FileNotFoundError:
            raise NotEnrolled(_not_enrolled(self.directory)) from None
        except (ValidationError, ValueError):
            raise StateError(_damaged(self.identity_path)) from None

    # -- runtime state -----------------------------------------------------------------------------

    def load_state(self) -> AgentState:
        try:
            return AgentState.model_validate_json(read_private(self.state_path))
        except FileNotFoundError:
            if not self.is_enrolled():
                raise NotEnrolled(f"no device is enrolled in {self.directory}") from None
            raise StateError(
                f"{self.state_path} is missing. It holds the lock state and undelivered command results, "
                "so the agent will not start without it: restore it from a backup, or enroll again with --force"
            ) from None
        except ValidationError:
            raise StateError(_damaged(self.state_path)) from None

    def save_state(self, state: AgentState) -> None:
        write_atomic(self.state_path, state.model_dump_json(indent=2).encode())

    def container(self) -> FileContainer:
        return FileContainer(self.directory / "container", self.keystore())

    # -- wipe --------------------------------------------------------------------------------

    def mark_wipe_pending(self, command_id: str) -> None:
        write_atomic(self.marker_path, command_id.encode())

    def wipe_pending(self) -> str | None:
        try:
            return self.marker_path.read_text().strip() or "unknown"
        except FileNotFoundError:
            return None

    def destroy_all(self) -> None:
        """Full wipe: keys first (everything sealed turns unreadable at once), then every file.

        The device profile stays: it stands for the hardware, which a wipe does not remove.
        The marker goes last, so a crash part-way leaves it to finish the job on the next start.
        """
        _destroy_tree(self.directory / "keystore")
        _destroy_tree(self.directory / "container")
        # Managed apps and the portal's trust (installed_apps.py, portal.py) go with the device.
        _destroy_tree(self.directory / "apps")
        _destroy_tree(self.directory / "portal")
        # A full wipe is a factory reset: the personal apps' data and the queued protection
        # events (which name government apps) go too; a selective wipe leaves them.
        _destroy_tree(self.directory / "personal")
        for path in (self.identity_path, self.state_path, self.directory / "protection-events.json"):
            shred(path)
        for path in self.directory.glob(".*.tmp"):
            shred(path)
        shred(self.marker_path)
        self._keystore = None


class MemoryStore:
    """The same contract in memory, for simulated devices."""

    def __init__(self) -> None:
        self.identity: DeviceIdentity | None = None
        self.state = AgentState()
        self.marker: str | None = None
        self._container = EmptyContainer()

    def try_lock(self) -> int | None:
        return 0  # one simulated device is driven by one task at a time

    def unlock(self, handle: int) -> None:
        pass

    def load_identity(self) -> DeviceIdentity:
        if self.identity is None:
            raise NotEnrolled("this simulated device is not enrolled")
        return self.identity

    def save_identity(self, identity: DeviceIdentity) -> None:
        self.identity = identity

    def load_state(self) -> AgentState:
        return self.state.model_copy(deep=True)

    def save_state(self, state: AgentState) -> None:
        self.state = state.model_copy(deep=True)

    def container(self) -> WorkContainer:
        return self._container

    def mark_wipe_pending(self, command_id: str) -> None:
        self.marker = command_id

    def wipe_pending(self) -> str | None:
        return self.marker

    def destroy_all(self) -> None:
        self.identity = None
        self.state = AgentState()
        self.marker = None


def _destroy_tree(directory: Path) -> None:
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_symlink():
            path.unlink()
        elif path.is_file():
            shred(path)
    shutil.rmtree(directory, ignore_errors=True)


def _not_enrolled(directory: Path) -> str:
    return (
        f"no device is enrolled in {directory}: run `govmobile-device --state {directory} enroll ...` first"
    )


def busy(directory: Path) -> str:
    return (
        f"another govmobile-device process has been using {directory} for a while; try again when it is done"
    )


def _damaged(path: Path) -> str:
    return (
        f"{path} is damaged and was left as it is. Restore it from a backup, or enroll again with "
        "--force (a new enrollment token is needed)"
    )
