"""Receiving a package: hashed as it streams, cut off past the limit, nothing left behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from govmobile.portal.errors import PackageTooLarge
from govmobile.portal.uploads import keep_package, sha256_of_file, spool_upload


def chunks(total: int, size: int = 65536) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = os.urandom(min(size, total - sent))
        sent += len(piece)
        yield piece


def test_an_upload_is_hashed_as_it_is_written_and_kept_by_rename(tmp_path: Path) -> None:
    data = b"".join(chunks(300_000))
    with spool_upload(iter([data[:100_000], data[100_000:]]), tmp_path / "packages", 1_000_000) as spooled:
        assert spooled.size == len(data)
        assert spooled.sha256 == hashlib.sha256(data).hexdigest()
        assert spooled.path.read_bytes() == data
        kept = keep_package(spooled, tmp_path / "packages" / f"{spooled.sha256}.apk")
    assert kept.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "packages").iterdir()) == [kept.name]
    assert sha256_of_file(kept) == (len(data), spooled.sha256)


def test_an_upload_over_the_limit_is_cut_off_while_streaming(tmp_path: Path) -> None:
    received = 0

    def endless() -> Iterator[bytes]:
        nonlocal received
        while True:  # a client that never stops sending
            received += 65536
            yield bytes(65536)

    with (
        pytest.raises(PackageTooLarge, match="larger than the limit of 1,000,000 bytes"),
        spool_upload(endless(), tmp_path, 1_000_000),
    ):
        pytest.fail("an upload over the limit must not be handed on")
    assert received <= 1_000_000 + 65536
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_upload_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield bytes(1000)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError), spool_upload(broken(), tmp_path, 1 << 20):
        pytest.fail("unreachable")
    assert list(tmp_path.iterdir()) == []


def test_an_upload_refused_after_it_arrived_leaves_nothing(tmp_path: Path) -> None:
    seen: list[Path] = []

    def refuse() -> None:
        with spool_upload(chunks(10_000), tmp_path, 1 << 20) as spooled:
            seen.append(spooled.path)
            assert spooled.path.exists()
            raise RuntimeError("the package was refused")

    with pytest.raises(RuntimeError):
        refuse()
    assert seen
    assert list(tmp_path.iterdir()) == []
