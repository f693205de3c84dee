"""Where ``govmobile-admin`` keeps the session from ``login``, and how the environment overrides it.

The file (``~/.config/govmobile/admin.json`` unless ``GOVMOBILE_ADMIN_CONFIG`` says otherwise)
holds the server URL, the CA bundle path, the username and the session token. The token is a
credential, so the file is written with mode 0600 in a 0700 directory, replaced atomically,
and a copy readable by others is reported.

For scripts, ``GOVMOBILE_ADMIN_SERVER``, ``GOVMOBILE_ADMIN_CA_FILE`` and ``GOVMOBILE_ADMIN_TOKEN``
override the file (use an API token from ``govmobile-admin api-token create``).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

CONFIG_ENV = "GOVMOBILE_ADMIN_CONFIG"
SERVER_ENV = "GOVMOBILE_ADMIN_SERVER"
CA_FILE_ENV = "GOVMOBILE_ADMIN_CA_FILE"
TOKEN_ENV = "GOVMOBILE_ADMIN_TOKEN"  # noqa: S105 - the variable's name, not a secret


class TokenSource(enum.StrEnum):
    LOGIN = "login"
    ENVIRONMENT = "environment"


class StoredSession(BaseModel):
    """What ``login`` remembers; the token is absent after ``logout``."""

    model_config = ConfigDict(extra="ignore")

    server: str
    ca_file: Path | None = None
    username: str | None = None
    token: str | None = None
    token_id: str | None = None
    expires_at: dt.datetime | None = None


class ConfigProblem(Exception):
    """The configuration file exists but cannot be used."""


@dataclass(frozen=True)
class Target:
    """The server, trust and credential a command runs with, and where each came from."""

    server: str | None
    ca_file: Path | None
    token: str | None
    token_source: TokenSource | None
    stored: StoredSession | None


def config_path(environ: Mapping[str, str]) -> Path:
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "govmobile" / "admin.json"


def load(path: Path) -> StoredSession | None:
    """The stored session, or None when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigProblem(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return StoredSession.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ConfigProblem(
            f"{path} is not a govmobile-admin configuration; delete it and log in again"
        ) from exc


def readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except FileNotFoundError:
        return False


def save(path: Path, session: StoredSession) -> None:
    """Write the session with mode 0600, replacing any previous file atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = session.model_dump_json(indent=2, exclude_none=True).encode() + b"\n"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by umask and ignored for an old file
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def resolve(environ: Mapping[str, str], stored: StoredSession | None) -> Target:
    """Environment first, then the stored session.

    The stored token goes only to the server it came from: pointing GOVMOBILE_ADMIN_SERVER
    elsewhere must not hand that server a session for this one.
    """
    env_server = environ.get(SERVER_ENV) or None
    env_ca = environ.get(CA_FILE_ENV) or None
    env_token = environ.get(TOKEN_ENV) or None
    same_server = stored is not None and (env_server is None or _same(env_server, stored.server))
    server = env_server or (stored.server if stored else None)
    ca_file = Path(env_ca).expanduser() if env_ca else (stored.ca_file if stored and same_server else None)
    if env_token:
        return Target(server, ca_file, env_token, TokenSource.ENVIRONMENT, stored)
    token = stored.token if stored and same_server else None
    return Target(server, ca_file, token, TokenSource.LOGIN if token else None, stored)


def _same(one: str, other: str) -> bool:
    return one.strip().rstrip("/").lower() == other.strip().rstrip("/").lower()
