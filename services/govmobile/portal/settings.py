"""The portal's settings (environment prefix ``GOVMOBILE_PORTAL_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from govmobile.core.settings import ServiceSettings, check_secret


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOVMOBILE_PORTAL_", extra="ignore", case_sensitive=False)

    listen_port: int = 8004
    #: The secret the gateway sends with every device request it vouches for (govmobile/web/device_identity.py).
    gateway_secret: SecretStr | None = None
    #: The portal's volume: the TUF repository (``repository/metadata``, ``repository/targets``,
    #: which nginx serves) and ``incoming/``, where uploads are received on the same file system.
    data_dir: Path = Path("/var/lib/govmobile/portal")
    #: The root metadata the controller signed offline (``root.json``), and the online keys it made:
    #: ``targets.pem``, ``snapshot.pem``, ``timestamp.pem`` and ``desired-state.pem`` (Ed25519, PKCS#8).
    root_file: Path = Path("/run/secrets/portal/root.json")
    keys_dir: Path = Path("/run/secrets/portal")
    #: The largest package accepted, counted while it streams in.
    max_package_bytes: int = Field(default=300 << 20, ge=1 << 20)
    #: Every other request body.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    #: How often the job looks for online TUF roles past half their lifetime.
    refresh_interval_seconds: float = Field(default=600.0, gt=0)
    #: The nginx ``internal`` location that serves the repository's files (X-Accel-Redirect).
    internal_files_prefix: str = "/_portal_files"
    apksigner: str = "apksigner"

    @field_validator("gateway_secret")
    @classmethod
    def _usable(cls, value: SecretStr | None) -> SecretStr:
        return check_secret("gateway_secret", value)

    @field_validator("internal_files_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/") or ".." in value:
            raise ValueError("internal_files_prefix is an absolute path without a trailing slash")
        return value

    @property
    def repository_dir(self) -> Path:
        return self.data_dir / "repository"

    @property
    def incoming_dir(self) -> Path:
        return self.data_dir / "incoming"
