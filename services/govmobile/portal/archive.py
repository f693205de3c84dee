"""The zip container of an uploaded package, checked before any parser or verifier reads it.

An APK is a zip file, and zip files are where the classic attacks live: entry names that climb
out of an extraction folder (``../../etc/cron.d/x``), duplicate names that two readers resolve
differently (the "Janus"/"master key" family), local headers that disagree with the central
directory so that an analyser and Android see different files, and bombs that inflate a few
megabytes into gigabytes.

The APK parser (androguard, through apkInspector) inflates entries with an unbounded
``zlib.decompress`` and trusts the local headers; the verifier (apksigner) inflates every entry of
a v1-signed package. So this module inflates every deflated entry itself first, with a bound, and
requires that the local headers agree with the central directory: afterwards the other readers see
exactly the bytes that were checked, and none of them can be made to inflate more than the limits.

Stored entries are not read: they cannot inflate, and their integrity is the signature's job.
"""

from __future__ import annotations

import itertools
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from govmobile.portal.errors import NotAnApk, UnsafeArchive, ZipBomb, printable

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIGNATURE = 0x04034B50
_DATA_DESCRIPTOR_FLAG = 0x08
_ENCRYPTED_FLAG = 0x01
_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """How big and how compressible a package may be. The defaults admit large real apps."""

    max_entries: int = 50_000
    max_name_bytes: int = 1024
    #: Inflated size of one entry and of all entries together.
    max_entry_bytes: int = 1 << 30
    max_total_bytes: int = 2 << 30
    #: Inflated / compressed, for entries over ``ratio_floor_bytes``. Real APK content (dex, XML,
    #: text assets) stays well under 50; zeros reach about 1,000.
    max_ratio: int = 200
    ratio_floor_bytes: int = 1 << 20


@dataclass(frozen=True)
class ArchiveEntry:
    name: str
    compressed: int
    size: int
    deflated: bool


@dataclass(frozen=True)
class CheckedArchive:
    """What the check found: the entries, by name, and their total inflated size."""

    entries: dict[str, ArchiveEntry]
    total_bytes: int


def check_archive(path: Path, limits: ArchiveLimits | None = None) -> CheckedArchive:
    """Refuse an unsafe zip container; inflate each deflated entry within the limits."""
    limits = limits or ArchiveLimits()
    with path.open("rb") as source:
        if source.read(4) != struct.pack("<I", _LOCAL_SIGNATURE):
            # An APK starts with its first entry; anything else in front (a polyglot) is refused.
            raise NotAnApk("the file is not an Android package (it does not start like a zip archive)")
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise NotAnApk("the file is not an Android package (it is not a readable zip archive)") from exc
        with archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries:
                raise UnsafeArchive(
                    f"the package has {len(infos):,} entries, more than {limits.max_entries:,}"
                )
            entries: dict[str, ArchiveEntry] = {}
            spans: list[tuple[int, int, str]] = []
            total = 0
            for info in infos:
                name = _checked_name(info, limits)
                if name in entries:
                    raise UnsafeArchive(
                        f"the entry {printable(name)!r} appears twice; refusing an ambiguous package"
                    )
                entry = _checked_entry(info, name, limits)
                total += entry.size
                if total > limits.max_total_bytes:
                    raise ZipBomb(f"the package inflates to more than {limits.max_total_bytes:,} bytes")
                start = _check_local_header(source, info)
                spans.append((info.header_offset, start + info.compress_size, name))
                if entry.deflated:
                    _inflate_within(source, info, name, start)
                entries[name] = entry
            _check_no_overlap(spans)
    return CheckedArchive(entries, total)


def _check_no_overlap(spans: list[tuple[int, int, str]]) -> None:
    """Entries that share bytes are how the densest zip bombs are made; real packages never do."""
    spans.sort()
    for (_, end, name), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise ZipBomb(f"the entry {printable(name)!r} overlaps the next one, as zip bombs do")


def _checked_name(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str:
    name = info.orig_filename
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
        raise UnsafeArchive(f"an entry name is longer than {limits.max_name_bytes} bytes")
    parts = name.split("/")
    unsafe = (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
        or (len(parts[0]) >= 2 and parts[0][1] == ":")  # a drive letter, C:...
        or any(part in ("", ".", "..") for part in parts[:-1])
        or parts[-1] in (".", "..")
    )
    if unsafe:
        raise UnsafeArchive(
            f"the entry name {printable(name)!r} is not a plain relative path (path traversal); "
            "rebuild the package without it"
        )
    return name


def _checked_entry(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> ArchiveEntry:
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise UnsafeArchive(f"the entry {printable(name)!r} is encrypted; Android cannot read it")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeArchive(f"the entry {printable(name)!r} uses a compression Android does not read")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise UnsafeArchive(f"the stored entry {printable(name)!r} declares two different sizes")
    if info.file_size > limits.max_entry_bytes:
        raise ZipBomb(f"the entry {printable(name)!r} inflates to more than {limits.max_entry_bytes:,} bytes")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise ZipBomb(
            f"the entry {printable(name)!r} is compressed more than {limits.max_ratio}:1, as zip bombs are"
        )
    return ArchiveEntry(name, info.compress_size, info.file_size, info.compress_type == zipfile.ZIP_DEFLATED)


def _check_local_header(source: BinaryIO, info: zipfile.ZipInfo) -> int:
    """The local header must say what the central directory says: readers differ in which they use.

    Returns where the entry's data starts.
    """
    source.seek(info.header_offset)
    raw = source.read(_LOCAL_HEADER.size)
    if len(raw) != _LOCAL_HEADER.size:
        raise UnsafeArchive("an entry's local header lies beyond the end of the file")
    signature, _, flags, method, _, _, crc, compressed, size, name_length, extra_length = (
        _LOCAL_HEADER.unpack(raw)
    )
    name = source.read(name_length)
    agrees = (
        signature == _LOCAL_SIGNATURE
        and method == info.compress_type
        and name == info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        and (flags & _ENCRYPTED_FLAG) == 0
    )
    if agrees and not flags & _DATA_DESCRIPTOR_FLAG:
        agrees = (crc, compressed, size) == (info.CRC, info.compress_size, info.file_size)
    if not agrees:
        raise UnsafeArchive(
            f"the entry {printable(info.orig_filename)!r} has a local header that contradicts the "
            "central directory, so different readers would see different files"
        )
    return int(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)


def _inflate_within(source: BinaryIO, info: zipfile.ZipInfo, name: str, start: int) -> None:
    """Inflate one entry, never producing more than it declares; its CRC and end must match."""
    source.seek(start)
    inflater = zlib.decompressobj(-15)
    remaining_input = info.compress_size
    produced = 0
    crc = 0
    try:
        while remaining_input > 0 and not inflater.eof:
            data = source.read(min(_READ_BYTES, remaining_input))
            if not data:
                raise UnsafeArchive(f"the entry {printable(name)!r} is cut short")
            remaining_input -= len(data)
            while data and not inflater.eof:
                # One byte more than may remain tells a stream that inflates past its size.
                out = inflater.decompress(data, info.file_size - produced + 1)
                produced += len(out)
                if produced > info.file_size:
                    raise ZipBomb(f"the entry {printable(name)!r} inflates to more than it declares")
                crc = zlib.crc32(out, crc)
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise UnsafeArchive(f"the entry {printable(name)!r} is not valid deflate data") from exc
    if not inflater.eof or remaining_input or inflater.unused_data or produced != info.file_size:
        raise UnsafeArchive(f"the entry {printable(name)!r} does not end where its headers say")
    if crc != info.CRC:
        raise UnsafeArchive(
            f"the entry {printable(name)!r} fails its checksum (a damaged or altered package)"
        )
