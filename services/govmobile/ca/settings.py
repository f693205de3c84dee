"""The CA's settings (environment prefix ``GOVMOBILE_CA_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from govmobile.ca.profiles import ProfileName
from govmobile.core.settings import ServiceSettings, check_secret


class AuthoritySettings(ServiceSettings):
    """What it takes to sign: the CA directory, its key passphrase and the profile lifetimes."""

    model_config = SettingsConfigDict(env_prefix="GOVMOBILE_CA_", extra="ignore", case_sensitive=False)

    ca_dir: Path = Path("ca")
    #: Passphrase of the issuing key when it is stored encrypted.
    key_passphrase: SecretStr | None = None
    organisation: str = "GovMobile"
    device_validity_days: int = Field(default=30, ge=1, le=397)
    service_validity_days: int = Field(default=365, ge=1, le=825)
    admin_validity_days: int = Field(default=365, ge=1, le=825)
    codesign_validity_days: int = Field(default=730, ge=1, le=1825)
    #: How long after expiry a never-revoked certificate may still be renewed.
    renewal_grace_days: int = Field(default=7, ge=0, le=90)
    crl_lifetime_hours: int = Field(default=24, ge=1, le=24 * 14)
    crl_refresh_margin_hours: int = Field(default=6, ge=0)
    #: Where relying parties fetch the CRL and ask OCSP, written into certificates
    #: (``<url>/pki/crl`` and ``<url>/ocsp``). Omitted from certificates when unset.
    public_base_url: str | None = None
    approved_curves: list[str] = ["secp256r1", "secp384r1"]
    min_rsa_bits: int = Field(default=2048, ge=2048)

    @model_validator(mode="after")
    def _margin_inside_lifetime(self) -> AuthoritySettings:
        if self.crl_refresh_margin_hours >= self.crl_lifetime_hours:
            raise ValueError("crl_refresh_margin_hours must be smaller than crl_lifetime_hours")
        return self


class CAServiceSettings(AuthoritySettings):
    """The CA's HTTP service: listener, registration authorities, limits."""

    listen_port: int = 8001
    #: Two processes sign in parallel on two cores (bench/ca.py: about 1.4x one worker).
    workers: int = 2
    #: One secret per registration authority, e.g. ``{"mdm": "...", "deploy": "..."}``.
    ra_secrets: dict[str, SecretStr] = {}
    #: Which profiles each registration authority may request (least privilege).
    ra_profiles: dict[str, list[ProfileName]] = {
        "mdm": [ProfileName.DEVICE],
        "deploy": [ProfileName.SERVICE, ProfileName.ADMIN, ProfileName.CODESIGN],
        "portal": [ProfileName.CODESIGN],
    }
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    crl_check_interval_seconds: float = Field(default=60.0, gt=0)

    @field_validator("ra_secrets")
    @classmethod
    def _secrets_usable(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if not value:
            raise ValueError('no registration authority secrets: set at least one, e.g. {"mdm": "<random>"}')
        return {
            name: check_secret(f"secret of registration authority {name!r}", s) for name, s in value.items()
        }

    @model_validator(mode="after")
    def _every_ra_has_profiles(self) -> CAServiceSettings:
        missing = sorted(set(self.ra_secrets) - set(self.ra_profiles))
        if missing:
            raise ValueError(
                f"registration authorities without profiles in ra_profiles: {', '.join(missing)}"
            )
        return self
