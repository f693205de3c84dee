"""Receiving a package: written to disk as it streams in, hashed on the way, within a size limit.

An upload is read once. Its SHA-256 is computed from the same chunks that are written, so a
100 MB package is never held in memory, and never read a second time just to hash it. The size
limit is enforced on the bytes received, not on a declared Content-Length, so an upload over the
limit is cut off as soon as it passes it and cannot fill the disk. The file is written under a
temporary name in the packages directory itself, so that keeping it is an atomic rename on the
same file system, and anything that goes wrong (the limit, a broken connection, a refused package)
leaves no file behind: nothing is ever half-published.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from govmobile.portal.errors import PackageTooLarge

#: Read size for hashing files already on disk; large enough that Python's loop costs nothing.
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class SpooledPackage:
    """An upload received in full: where it is (under a temporary name), its size and SHA-256."""

    path: Path
    size: int
    sha256: str


@contextmanager
def spool_upload(chunks: Iterable[bytes], directory: Path, max_bytes: int) -> Iterator[SpooledPackage]:
    """Write ``chunks`` to a temporary file in ``directory``, hashing them; remove it on leaving.

    Raises ``PackageTooLarge`` as soon as more than ``max_bytes`` have arrived. Call
    ``keep_package`` inside the ``with`` block to keep the file; otherwise it is deleted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".upload-", suffix=".part", delete=False)  # noqa: SIM115 - removed below
    path = Path(handle.name)
    try:
        digest = hashlib.sha256()
        size = 0
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PackageTooLarge(
                        f"the package is larger than the limit of {max_bytes:,} bytes; nothing was kept",
                        details={"max_bytes": max_bytes},
                    )
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        yield SpooledPackage(path, size, digest.hexdigest())
    finally:
        path.unlink(missing_ok=True)


def keep_package(spooled: SpooledPackage, destination: Path) -> Path:
    """Move a spooled upload to its final name atomically (same directory tree, same file system)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(spooled.path, destination)
    return destination


def sha256_of_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file on disk, read in chunks (never all of it in memory)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()
