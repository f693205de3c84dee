"""Settings shared by every service, and the rules that make start-up refuse insecure values.

Configuration flows one way: inventory → role defaults → container environment (and secret
files) → a settings object built once in a service's ``main`` → constructors. Nothing here reads
the environment at import time; call :func:`load_settings` from an entry point.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from govmobile.core.errors import ConfigurationError

# Values that people paste from examples. A secret equal to one of these, or containing
# "changeme", is refused even if long enough.
_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "passw0rd",
        "default",
        "admin",
        "test",
        "example",
        "todo",
        "xxx",
        "placeholder",
        "none",
        "null",
    }
)
MIN_SECRET_LENGTH = 16

#: Environment variable naming a directory of secret files (one file per setting, named like
#: the environment variable in lower case). Deployment mounts it read-only.
SECRETS_DIR_ENV = "GOVMOBILE_SECRETS_DIR"


def check_secret(name: str, value: SecretStr | str | None) -> SecretStr:
    """Return ``value`` as a SecretStr, or raise ValueError saying why it is unusable."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    if not raw.strip():
        raise ValueError(f"{name} is missing: set it in the environment or its secret file")
    folded = raw.strip().lower()
    if (
        folded in _PLACEHOLDERS
        or "changeme" in folded.replace("-", "").replace("_", "")
        or (folded.startswith("<") and folded.endswith(">"))
    ):
        raise ValueError(f"{name} is a placeholder value: generate a random secret instead")
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{name} is too short ({len(raw)} characters): use at least {MIN_SECRET_LENGTH} random characters"
        )
    return SecretStr(raw)


class ServiceSettings(BaseSettings):
    """What every service needs: where its database is and how it listens.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="GOVMOBILE_<SERVICE>_")``.
    """

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    #: SQLAlchemy URL. SQLite (a file on a volume) is the single-node default; PostgreSQL
    #: (``postgresql+psycopg://...``) for production and multi-node.
    database_url: str = "sqlite:///govmobile.sqlite3"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8000
    #: Server certificate and key for TLS on the internal network; plain HTTP when unset.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    #: Trust bundle (the appliance CA) used to verify other services' TLS.
    tls_ca_file: Path | None = None
    log_level: str = "info"
    #: Worker processes for the HTTP server.
    workers: int = 1

    def tls_enabled(self) -> bool:
        """True when both a certificate and a key are configured."""
        return self.tls_cert_file is not None and self.tls_key_file is not None


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment and secret files, or raise ConfigurationError.

    The message lists every problem at once so that an operator can fix them in one pass.
    """
    secrets_dir = os.environ.get(SECRETS_DIR_ENV)
    kwargs: dict[str, Any] = dict(overrides)
    if secrets_dir:
        if not Path(secrets_dir).is_dir():
            raise ConfigurationError(f"{SECRETS_DIR_ENV}={secrets_dir} is not a directory")
        kwargs["_secrets_dir"] = secrets_dir
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"  {prefix}{field.upper()}: {message}")
        raise ConfigurationError(
            "refusing to start, the configuration has problems:\n" + "\n".join(problems)
        ) from None
