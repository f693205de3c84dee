"""The managed apps on this device: what is installed, what is still to do, and what was reported.

Kept in the state directory (0700, files 0600, replaced atomically like everything else)::

    apps/
      records.json          this module's ``AppRecords``
      packages/<package>.apk the installed package files (what a tablet's package manager holds)
    portal/                  the portal's trust anchor and python-tuf's metadata (see portal.py)

Per installed app: package, version code, signer (SHA-256 of its signing certificate's DER),
SHA-256 of the file and when it was installed. Per app not (yet) installed: the attempts, the last
error and when the next attempt is due. And for the portal: the sequence of the last desired-state
document accepted (a replayed older one is refused), the apps that document listed, the retry
requests already acted on, and what was last reported (a report goes up only when it changes).

A damaged records file is not repaired by guessing (a lost ``last_sequence`` would let a replayed
document through): the agent stops and names the file, as it does for ``agent.json``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device.errors import StateError
from govmobile_device.files import private_directory, read_private, shred, write_atomic

ReportedState = Literal["installed", "failed", "removed", "pending"]
MAX_ERROR_CHARS = 1000


class InstalledApp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: str
    version_code: int
    version_name: str | None = None
    #: Lowercase hex SHA-256 of the signing certificate's DER (Android pins it across updates).
    signer_sha256: str
    #: SHA-256 of the installed package file.
    sha256: str
    installed_at: dt.datetime
    #: From the desired state: remove the app when no assignment gives it to the device any more.
    remove_when_unassigned: bool = True


class InstallProgress(BaseModel):
    """An app the device should install (or update) and has not yet: its attempts and last error."""

    model_config = ConfigDict(extra="forbid")

    package: str
    version_code: int | None = None
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: dt.datetime | None = None
    #: No more automatic attempts after the bound; an admin's retry or a new version starts again.
    gave_up: bool = False


class CatalogueApp(BaseModel):
    """An app of the last accepted desired state (``desired_state.DesiredApp``, as kept on disk)."""

    model_config = ConfigDict(extra="forbid")

    package: str
    intent: str
    track: str | None = None
    version_code: int | None = None
    version_name: str | None = None
    target: str | None = None
    sha256: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    protection: dict[str, Any] | None = None
    remove_when_unassigned: bool = True
    retry: int = 0
    #: A web app: the path it opens through the gateway (nothing is installed for it).
    url: str | None = None

    @property
    def is_web(self) -> bool:
        return self.url is not None


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: str
    state: ReportedState
    version_code: int | None = None
    attempts: int = 0
    last_error: str | None = None


class AppRecords(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    #: The device these records' documents were for: enrolled again as another device, the
    #: sequence starts over (the installed apps stay: they are on the hardware).
    device_id: str | None = None
    #: The sequence of the last desired-state document accepted; a document must be above it.
    last_sequence: int = 0
    catalogue: list[CatalogueApp] = Field(default_factory=list)
    catalogue_expires: dt.datetime | None = None
    conflicts: list[str] = Field(default_factory=list)
    installed: dict[str, InstalledApp] = Field(default_factory=dict)
    progress: dict[str, InstallProgress] = Field(default_factory=dict)
    #: Available apps the person asked for: installed like required ones from then on.
    requested: list[str] = Field(default_factory=list)
    #: Per app, the admin's retry generation the agent has acted on (each is acted on once).
    retries_seen: dict[str, int] = Field(default_factory=dict)
    #: Apps removed since the last delivered report (reported once as ``removed``).
    removed: list[str] = Field(default_factory=list)
    #: What the portal last accepted, so that an unchanged report is not sent again.
    reported: list[Report] = Field(default_factory=list)
    #: The last refusal of the whole portal (rollback, freeze, a bad document), shown by ``apps``.
    last_refusal: str | None = None

    def reports(self) -> list[Report]:
        """Where every managed app stands, as the portal's install report says it."""
        reports = [
            Report(package=app.package, state="installed", version_code=app.version_code)
            for app in self.installed.values()
        ]
        installed = set(self.installed)
        for progress in self.progress.values():
            if progress.package in installed and progress.last_error is None:
                continue
            failed = progress.gave_up or progress.last_error is not None
            reports.append(
                Report(
                    package=progress.package,
                    state="failed" if failed else "pending",
                    version_code=self.installed[progress.package].version_code
                    if progress.package in installed
                    else None,
                    attempts=progress.attempts,
                    last_error=None if progress.last_error is None else progress.last_error[:MAX_ERROR_CHARS],
                )
            )
        named = {r.package for r in reports}
        reports += [Report(package=p, state="removed") for p in self.removed if p not in named]
        return sorted(reports, key=lambda r: r.package)

    def inventory(self) -> list[dict[str, object]]:
        """The posture's ``app_inventory`` (docs/portal.md, seam with MDM app admission)."""
        return [
            {"package": app.package, "version_code": app.version_code, "signer": app.signer_sha256}
            for app in sorted(self.installed.values(), key=lambda a: a.package)
        ][:500]


class AppRecordStore(Protocol):
    def load(self) -> AppRecords: ...

    def save(self, records: AppRecords) -> None: ...

    def package_path(self, package: str) -> Path | None:
        """Where an installed package's file is kept (None: files are not kept)."""

    def keep_package(self, package: str, source: Path) -> None: ...

    def drop_package(self, package: str) -> None: ...


class FileAppRecords:
    """``STATE/apps/``: the records and the installed package files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / "records.json"

    @property
    def packages_dir(self) -> Path:
        return self.directory / "packages"

    def load(self) -> AppRecords:
        try:
            return AppRecords.model_validate_json(read_private(self.path))
        except FileNotFoundError:
            return AppRecords()
        except (ValidationError, ValueError):
            raise StateError(
                f"{self.path} is damaged and was left as it is. It holds the managed apps and the last "
                "desired-state sequence accepted: restore it from a backup, or enroll again with --force"
            ) from None

    def save(self, records: AppRecords) -> None:
        private_directory(self.directory)
        write_atomic(self.path, records.model_dump_json(indent=2).encode())

    def package_path(self, package: str) -> Path | None:
        return self.packages_dir / f"{package}.apk"

    def keep_package(self, package: str, source: Path) -> None:
        """Move the verified download in (same file system: one rename, never half a package)."""
        private_directory(self.packages_dir)
        try:
            source.chmod(0o600)
            os.replace(source, self.packages_dir / f"{package}.apk")
        except OSError as exc:
            raise StateError(f"cannot keep the package of {package}: {exc.strerror or exc}") from exc

    def drop_package(self, package: str) -> None:
        shred(self.packages_dir / f"{package}.apk")


class MemoryAppRecords:
    """The same in memory (simulated devices keep no package files)."""

    def __init__(self) -> None:
        self.records = AppRecords()

    def load(self) -> AppRecords:
        return self.records.model_copy(deep=True)

    def save(self, records: AppRecords) -> None:
        self.records = records.model_copy(deep=True)

    def package_path(self, package: str) -> Path | None:
        return None

    def keep_package(self, package: str, source: Path) -> None:
        pass

    def drop_package(self, package: str) -> None:
        pass
