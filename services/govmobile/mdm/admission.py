"""App admission: which installed apps a department's devices may have and stay compliant.

A department's policy holds a mode and two lists. An entry names an app by its **package id**
(``cn.gov.water.inspect``) or by its **signer**: the lowercase hex SHA-256 of the DER signing
certificate, the same fingerprint the portal pins across releases and ``apksigner verify
--print-certs`` prints. A signer entry admits (or blocks) every app signed with that key, which
is how a department trusts a publisher rather than a list of packages.

- ``off``: no rule.
- ``allowlist``: every installed app must be listed, by package or by signer.
- ``blocklist``: no installed app may be listed, by package or by signer.

What the device tells us: ``installed_apps`` (package ids, every agent) and ``app_inventory``
(package, version code and signer, newer agents). An app is known by the union of both; its
signer only from the inventory. So for an older agent that sends no inventory:

- package entries apply to ``installed_apps`` as they always did;
- an allowlist's signer entries cannot admit an app whose signer was not reported (it is not
  admitted, and the reason says the signer is unknown): an allowlist fails closed;
- a blocklist's signer entries cannot match an app whose signer was not reported: a blocklist
  names what is known to be bad, and an app that nothing says is bad is not blocked.

Pure functions and value types: no database, no HTTP.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

#: Android's package id syntax (two or more Java identifiers joined by dots), as the portal reads it.
PACKAGE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
MAX_PACKAGE_ID = 255
SIGNER = re.compile(r"[0-9a-f]{64}")
#: Entries per department, packages and signers together: enough for any real catalogue, and a
#: bound on what every check-in of the department compares against.
MAX_ENTRIES = 1000
#: Apps a posture may report (as ``installed_apps`` always allowed).
MAX_INVENTORY = 500
#: Offending apps named one by one in the compliance reasons; the rest are counted.
MAX_NAMED = 5


class AdmissionMode(enum.StrEnum):
    OFF = "off"
    ALLOWLIST = "allowlist"
    BLOCKLIST = "blocklist"


def check_package_id(value: str) -> str:
    if len(value) > MAX_PACKAGE_ID or not PACKAGE_ID.fullmatch(value):
        raise ValueError(
            f"{value[:80]!r} is not an Android package id (like cn.gov.water.inspect: "
            f"two or more names of letters, digits and _ joined by dots, at most {MAX_PACKAGE_ID} characters)"
        )
    return value


def normalise_signer(value: str) -> str:
    """A signer as an admin may type it: any case, with or without colons (keytool prints
    ``AB:CD:…``), stored as 64 lowercase hex characters."""
    plain = value.strip().replace(":", "").lower()
    if not SIGNER.fullmatch(plain):
        raise ValueError(
            f"{value[:80]!r} is not a signer: give the SHA-256 of the signing certificate as 64 "
            "hexadecimal characters (apksigner verify --print-certs shows it)"
        )
    return plain


class InstalledApp(BaseModel):
    """One app on the device, as the agent reports it in ``app_inventory``.

    Checked by pydantic's own patterns, not Python validators: a posture holds up to 500 of these
    at every check-in, and this is about 2.7 times faster (docs/mdm.md, app admission)."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(pattern=f"^{PACKAGE_ID.pattern}$", max_length=MAX_PACKAGE_ID)
    version_code: StrictInt = Field(ge=0, le=2**63 - 1)
    signer: str = Field(pattern=f"^{SIGNER.pattern}$", description="lowercase hex SHA-256 of the certificate")


class AdmissionDocument(BaseModel):
    """A department's app admission, as an admin sets it (the whole of it at once)."""

    model_config = ConfigDict(extra="forbid")

    mode: AdmissionMode
    packages: list[Annotated[str, Field(max_length=MAX_PACKAGE_ID)]] = Field(
        default_factory=list, max_length=MAX_ENTRIES
    )
    signers: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=MAX_ENTRIES)

    @model_validator(mode="after")
    def _entries(self) -> AdmissionDocument:
        if len(self.packages) + len(self.signers) > MAX_ENTRIES:
            raise ValueError(f"at most {MAX_ENTRIES} entries, packages and signers together")
        self.packages = sorted({check_package_id(p) for p in self.packages})
        self.signers = sorted({normalise_signer(s) for s in self.signers})
        return self


def duplicate_packages(inventory: Sequence[InstalledApp]) -> list[str]:
    """Packages listed more than once in an inventory (a device has one copy of each app)."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for app in inventory:
        (duplicates if app.package in seen else seen).add(app.package)
    return sorted(duplicates)


@dataclass(frozen=True)
class Admission:
    """A department's rule, ready to judge postures against."""

    mode: AdmissionMode
    packages: frozenset[str]
    signers: frozenset[str]

    def reasons(self, installed_apps: Iterable[str], inventory: Sequence[InstalledApp]) -> list[str]:
        """Why the installed apps break the rule, one reason per offending app (the first few named)."""
        if self.mode is AdmissionMode.OFF:
            return []
        signer_of = {app.package: app.signer for app in inventory}
        known = set(installed_apps) | signer_of.keys()
        # Set operations find the few candidates; only they are looked at one by one.
        if self.mode is AdmissionMode.ALLOWLIST:
            candidates = known - self.packages
        else:
            candidates = (known & self.packages) | {p for p, s in signer_of.items() if s in self.signers}
        offending = [
            reason
            for package in sorted(candidates)
            if (reason := self._offence(package, signer_of.get(package))) is not None
        ]
        if len(offending) > MAX_NAMED:
            more = len(offending) - MAX_NAMED
            return [
                *offending[:MAX_NAMED],
                f"and {more} more app{'s' if more > 1 else ''} break the {self.mode} rule",
            ]
        return offending

    def _offence(self, package: str, signer: str | None) -> str | None:
        if self.mode is AdmissionMode.ALLOWLIST:
            if package in self.packages or (signer is not None and signer in self.signers):
                return None
            if signer is None:
                unknown = ", and the device did not report its signer" if self.signers else ""
                return f"app {package} is not admitted: the allowlist does not list the package{unknown}"
            return f"app {package} is not admitted: the allowlist lists neither the package nor its signer {signer}"
        if package in self.packages:
            return f"app {package} is blocked: the blocklist lists the package"
        if signer is not None and signer in self.signers:
            return f"app {package} is blocked: the blocklist lists its signer {signer}"
        return None
