"""Inspecting real APKs: what they declare, who signed them, and every hostile variant refused."""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from govmobile.portal.archive import ArchiveLimits, check_archive
from govmobile.portal.errors import (
    InvalidPackageId,
    MalformedManifest,
    NotAnApk,
    PackageRefused,
    PackageTooLarge,
    SignatureInvalid,
    UnsafeArchive,
    ZipBomb,
)
from govmobile.portal.manifest import check_package_id
from govmobile.portal.packages import PackageLimits, inspect_package
from govmobile.portal.signatures import Apksigner, parse_verification
from tests.support.apks import (
    ApkFactory,
    AppSpec,
    malformed_manifest_copy,
    png_icon,
    rebuilt_with,
    tampered_copy,
    traversal_copy,
    zip_bomb,
)

VERIFIER = Apksigner()


def test_a_real_apk_is_read_and_verified(apks: ApkFactory) -> None:
    path = apks.build()
    package = inspect_package(path, VERIFIER)
    manifest = package.manifest
    assert manifest.package == "cn.gov.example.inspect"
    assert (manifest.version_code, manifest.version_name) == (1, "1.0")
    assert (manifest.min_sdk, manifest.target_sdk) == (21, 29)
    assert manifest.permissions == ("android.permission.CAMERA", "android.permission.INTERNET")
    assert manifest.labels == {"": "Field Inspection", "zh-CN": "现场检查"}
    assert manifest.icon is not None
    assert (manifest.icon.path, manifest.icon.media_type) == ("res/drawable/icon.png", "image/png")
    # aapt recompresses PNGs ("crunching"): the icon is the same 48x48 image, not the same bytes.
    assert manifest.icon.data[12:24] == png_icon()[12:24] == b"IHDR" + struct.pack(">II", 48, 48)
    assert package.signature.schemes == {1, 2, 3}
    assert package.signers == {apks.publisher.certificate_sha256}
    assert manifest.signer_certificates == (apks.publisher.certificate_der,)
    assert package.size == path.stat().st_size
    assert package.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_v2_v3_only_package_and_another_key(apks: ApkFactory) -> None:
    spec = AppSpec(
        version_code=7, version_name="2.1-beta", min_sdk=26, v1=False, permissions=(), localized_labels=()
    )
    package = inspect_package(apks.build(spec, apks.impostor), VERIFIER)
    assert package.signature.schemes == {2, 3}
    assert package.signers == {apks.impostor.certificate_sha256}
    assert package.signers != {apks.publisher.certificate_sha256}
    assert (package.manifest.version_code, package.manifest.min_sdk) == (7, 26)
    assert package.manifest.permissions == ()
    assert package.manifest.labels == {"": "Field Inspection"}


def test_a_v1_only_package_is_verified_by_its_jar_signature(apks: ApkFactory) -> None:
    package = inspect_package(apks.build(AppSpec(v2=False, v3=False, version_code=3)), VERIFIER)
    assert package.signature.schemes == {1}
    assert package.signers == {apks.publisher.certificate_sha256}


def test_the_hash_given_by_the_upload_is_kept(apks: ApkFactory) -> None:
    path = apks.build()
    package = inspect_package(path, VERIFIER, size=path.stat().st_size, sha256="ab" * 32)
    assert package.sha256 == "ab" * 32
    with pytest.raises(NotAnApk, match="not the one that was received"):
        inspect_package(path, VERIFIER, size=1, sha256="ab" * 32)


def test_one_byte_changed_is_refused_as_tampered(apks: ApkFactory, tmp_path: Path) -> None:
    tampered = tampered_copy(apks.build(), tmp_path / "tampered.apk")
    with pytest.raises(SignatureInvalid, match="tampered") as refused:
        inspect_package(tampered, VERIFIER)
    assert refused.value.code == "signature_invalid"


def test_one_byte_changed_in_compressed_content_fails_its_checksum(apks: ApkFactory, tmp_path: Path) -> None:
    tampered = tampered_copy(apks.build(), tmp_path / "tampered.apk", entry="AndroidManifest.xml")
    with pytest.raises(PackageRefused, match=r"checksum|not valid deflate|does not end"):
        inspect_package(tampered, VERIFIER)


def test_an_unsigned_package_is_refused(apks: ApkFactory, tmp_path: Path) -> None:
    unsigned = tmp_path / "unsigned.apk"
    with zipfile.ZipFile(apks.build()) as source, zipfile.ZipFile(unsigned, "w") as target:
        for info in source.infolist():
            if not info.filename.startswith("META-INF/"):
                target.writestr(info, source.read(info))
    with pytest.raises(SignatureInvalid, match="not signed"):
        inspect_package(unsigned, VERIFIER)


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.7 not an apk at all", b"", b"PK\x03\x04" + bytes(100), b"\x00" * 4096],
    ids=["pdf", "empty", "zip-header-only", "zeros"],
)
def test_a_file_that_is_not_an_apk_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.apk"
    path.write_bytes(content)
    with pytest.raises(NotAnApk, match="not an Android package"):
        inspect_package(path, VERIFIER)


def test_a_zip_without_a_manifest_is_not_an_apk(tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(NotAnApk, match=r"no AndroidManifest\.xml"):
        inspect_package(path, VERIFIER)


def test_a_polyglot_with_data_before_the_archive_is_refused(apks: ApkFactory, tmp_path: Path) -> None:
    path = tmp_path / "polyglot.apk"
    path.write_bytes(b"#!/bin/sh\necho hi\n" + apks.build().read_bytes())
    with pytest.raises(NotAnApk):
        inspect_package(path, VERIFIER)


def test_a_malformed_manifest_is_refused_even_when_signed(apks: ApkFactory, tmp_path: Path) -> None:
    broken = malformed_manifest_copy(apks.build(), tmp_path / "broken.apk", apks.publisher, AppSpec())
    with pytest.raises(MalformedManifest, match=r"AndroidManifest\.xml") as refused:
        inspect_package(broken, VERIFIER)
    assert refused.value.code == "malformed_manifest"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/cron.d/evil",
        "/etc/passwd",
        "assets/../../x",
        "assets\\..\\x",
        "C:/windows/x",
        "assets/./x",
        "a//b",
    ],
)
def test_path_traversal_names_inside_are_refused(apks: ApkFactory, tmp_path: Path, name: str) -> None:
    hostile = traversal_copy(apks.build(), tmp_path / "traversal.apk", apks.publisher, AppSpec(), name=name)
    with pytest.raises(UnsafeArchive, match="not a plain relative path") as refused:
        inspect_package(hostile, VERIFIER)
    assert refused.value.code == "unsafe_archive"


def test_a_duplicate_entry_name_is_refused(apks: ApkFactory, tmp_path: Path) -> None:
    path = tmp_path / "duplicate.apk"
    path.write_bytes(apks.build().read_bytes())
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as archive:
        archive.writestr("AndroidManifest.xml", b"second manifest")
    with pytest.raises(UnsafeArchive, match="appears twice"):
        inspect_package(path, VERIFIER)


def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.apk", 64 << 20)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ZipBomb, match="compressed more than 200:1") as refused:
        inspect_package(bomb, VERIFIER)
    assert refused.value.code == "zip_bomb"


def test_a_zip_bomb_is_refused_by_its_size(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.apk", 8 << 20)
    limits = PackageLimits(archive=ArchiveLimits(max_entry_bytes=4 << 20, max_ratio=10_000))
    with pytest.raises(ZipBomb, match="inflates to more than 4,194,304 bytes"):
        inspect_package(bomb, VERIFIER, limits=limits)


def test_a_zip_bomb_that_lies_about_its_size_is_stopped_while_inflating(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "liar.apk", 256 << 20, declared_bytes=1000)
    with pytest.raises(ZipBomb, match="inflates to more than it declares"):
        check_archive(bomb)


def _local(name: bytes, data: bytes) -> bytes:
    return (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(name), 0
        )
        + name
    )


def _central(name: bytes, data: bytes, offset: int) -> bytes:
    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(name), 0, 0, 0, 0, 0, offset,
        )
        + name
    )  # fmt: skip


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """The densest zip bombs let one entry's data contain the next entry (Fifield's construction)."""
    inner = _local(b"b.bin", b"payload") + b"payload"
    outer = _local(b"a.bin", inner)
    directory = _central(b"a.bin", inner, 0) + _central(b"b.bin", b"payload", len(outer))
    body = outer + inner
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(directory), len(body), 0)
    path = tmp_path / "overlap.apk"
    path.write_bytes(body + directory + eocd)
    with pytest.raises(ZipBomb, match="overlaps"):
        check_archive(path)


def test_local_headers_that_contradict_the_central_directory_are_refused(
    apks: ApkFactory, tmp_path: Path
) -> None:
    data = bytearray(apks.build().read_bytes())
    with zipfile.ZipFile(apks.build()) as archive:
        info = archive.getinfo("AndroidManifest.xml")
    # Say "stored" in the local header while the central directory says "deflated".
    data[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", 0)
    path = tmp_path / "evasive.apk"
    path.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchive, match="contradicts the central directory"):
        inspect_package(path, VERIFIER)


def test_an_oversize_package_is_refused_before_it_is_read(apks: ApkFactory) -> None:
    path = apks.build()
    limits = PackageLimits(max_package_bytes=path.stat().st_size - 1)
    with pytest.raises(PackageTooLarge, match="larger than the limit"):
        inspect_package(path, VERIFIER, limits=limits)


def test_a_package_id_that_is_not_an_android_name_is_refused() -> None:
    for package in [
        "../etc",
        "cn.gov/../x",
        "cn",
        "cn..gov",
        "1cn.gov",
        "cn.gov.",
        "cn.gov x",
        "a." * 200 + "b",
    ]:
        with pytest.raises(InvalidPackageId):
            check_package_id(package)
    assert check_package_id("cn.gov.example_2.App") == "cn.gov.example_2.App"


def test_a_signed_package_with_an_unlisted_extra_entry_still_verifies_and_is_read(
    apks: ApkFactory, tmp_path: Path
) -> None:
    """Adding a file and re-signing is a new, valid package: the content checks are not the signature's."""
    spec = AppSpec()
    extended = rebuilt_with(
        apks.build(spec), tmp_path / "extra.apk", apks.publisher, spec, {}, {"assets/a.txt": b"x"}
    )
    assert inspect_package(extended, VERIFIER).manifest.package == spec.package


def test_the_verifiers_words_are_required_in_full() -> None:
    """Only exit 0 *and* "Verifies" count; a verifier that prints nothing verifies nothing."""
    with pytest.raises(SignatureInvalid):
        parse_verification(0, "", "")
    with pytest.raises(SignatureInvalid):
        parse_verification(1, "Verifies\n", "")
    with pytest.raises(SignatureInvalid, match="no signature scheme"):
        parse_verification(0, "Verifies\nNumber of signers: 0\n", "")
