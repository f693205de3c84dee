"""Private files: directories 0700, files 0600, replaced atomically.

A state file is either its old content or its new content, never half of each: it is written
to a temporary file in the same directory, flushed to disk, renamed over the old one, and the
directory is flushed so the rename survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from govmobile_device.errors import StateError

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, or tighten an existing one to 0700."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
            path.chmod(DIR_MODE)
    except OSError as exc:
        raise StateError(f"cannot use {path} as a private directory: {exc.strerror or exc}") from exc
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600), all or nothing."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        _sync_directory(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc


def read_private(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from exc


def shred(path: Path) -> None:
    """Overwrite a file with zeros, then remove it.

    On flash storage the overwrite may land elsewhere (wear levelling), which is why keys are
    what gets destroyed (crypto-erase); overwriting is only a second line.
    """
    try:
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot destroy {path}: {exc.strerror or exc}") from exc


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
