"""Files written whole or not at all: keys, TUF metadata, anything a crash must not leave half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, content: bytes, *, mode: int = 0o600) -> None:
    """Write ``content`` to ``path`` through a temporary file in the same directory, flushed to
    disk and then renamed over it: readers see the old file or the new one, never a part.

    mkstemp creates the file 0600 from the start, so a key is never briefly world-readable;
    ``mode`` is applied before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
