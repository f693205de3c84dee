"""The MDM's settings (environment prefix ``GOVMOBILE_MDM_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from govmobile.core.settings import ServiceSettings, check_secret


class MdmSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOVMOBILE_MDM_", extra="ignore", case_sensitive=False)

    listen_port: int = 8002
    #: Where devices reach the appliance (the gateway's public URL); goes into enrollment QR codes.
    public_url: str = "https://localhost"
    #: The CA's base URL on the internal network, and this MDM's registration-authority secret.
    ca_url: str = "https://ca.govmobile.internal:8001"
    ca_ra_name: str = "mdm"
    ca_ra_secret: SecretStr | None = None
    #: The secret the gateway sends with every device request it vouches for (see govmobile/web/device_identity.py).
    gateway_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    long_poll_seconds: float = Field(default=55.0, gt=0, le=300)
    wakeup_poll_seconds: float = Field(default=0.5, gt=0)
    maintenance_interval_seconds: float = Field(default=60.0, gt=0)
    checkin_retention_days: int = Field(default=14, ge=1)
    session_hours: int = Field(default=8, ge=1, le=24 * 7)
    #: Login throttling (see govmobile.core.logins): how long a failed login counts, and the
    #: failures allowed per address and username, per address, and per username under attack.
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_source: int = Field(default=20, ge=1)
    login_name_under_attack_failures: int = Field(default=10, ge=1)
    #: Deployment creates the first platform admin from these (see ``govmobile-mdm bootstrap-admin``).
    bootstrap_admin_username: str = "admin"
    bootstrap_admin_password_file: Path | None = None
    #: The app portal's TUF root metadata (``root.json``, made on the controller), handed to every
    #: enrolled device as its trust anchor for the portal. Unset: the appliance has no portal.
    portal_root_file: Path | None = None

    @field_validator("ca_ra_secret", "gateway_secret")
    @classmethod
    def _usable(cls, value: SecretStr | None, info: object) -> SecretStr:
        name = getattr(info, "field_name", "secret")
        return check_secret(name, value)
