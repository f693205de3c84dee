"""The device profile: what the simulated tablet is and how it stands (docs/device-agent.md).

A real client reads these facts from the operating system. The agent reads them from a JSON
file that people and tests edit to play a device: an old OS version, a rooted phone, storage
not encrypted, an app that is not admitted, a new location. It is read afresh at every
check-in, so an edit shows at the next one.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device.errors import StateError
from govmobile_device.files import write_atomic


class ProfileLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0)


class DeviceProfile(BaseModel):
    # Unknown keys are refused: a misspelt "rooted" must not silently read as a clean device.
    model_config = ConfigDict(extra="forbid")

    serial_number: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
    model: str = Field(default="GovMobile simulated tablet", max_length=100)
    os_name: str = Field(default="android", max_length=50)
    os_version: str = Field(default="14.0.2", max_length=50)
    storage_encrypted: bool = True
    passcode_set: bool = True
    rooted: bool = False
    installed_apps: list[str] = Field(default_factory=list, max_length=500)
    battery_percent: int | None = Field(default=100, ge=0, le=100)
    location: ProfileLocation | None = None
    hardware_ids: dict[str, str] = Field(default_factory=dict, max_length=10)


def new_profile() -> DeviceProfile:
    """A healthy tablet with a fresh serial number."""
    return DeviceProfile(serial_number=f"SIM{secrets.token_hex(5).upper()}")


class ProfileFile:
    """The profile as a JSON file, read at every use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> DeviceProfile:
        try:
            return DeviceProfile.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            raise StateError(
                f"the device profile {self.path} is missing; create it (see docs/device-agent.md) or enroll "
                "without --profile to get a default one"
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read the device profile {self.path}: {exc.strerror or exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise StateError(f"the device profile {self.path} is not valid: {problems}") from None

    def save(self, profile: DeviceProfile) -> None:
        text = json.dumps(profile.model_dump(mode="json"), indent=2) + "\n"
        write_atomic(self.path, text.encode())

    def create_if_missing(self) -> DeviceProfile:
        if not self.path.exists():
            self.save(new_profile())
        return self.load()


class FixedProfile:
    """A profile held in memory (the fleet simulator's devices)."""

    def __init__(self, profile: DeviceProfile) -> None:
        self.profile = profile

    def load(self) -> DeviceProfile:
        return self.profile.model_copy(deep=True)

    def save(self, profile: DeviceProfile) -> None:
        self.profile = profile
