"""Real Android packages for tests, built with the Android SDK tools that Debian packages.

The portal must read and verify what real build chains produce, so the tests do not hand-craft
APK bytes: ``aapt`` compiles a manifest and resources against ``android-framework-res`` (the
platform's ``android.jar`` equivalent), ``zipalign`` aligns the archive and ``apksigner`` signs it
with the v1 (JAR), v2 and v3 schemes, as an app developer's release build would. The hostile
packages start from those real ones and break one thing each, so that each test proves that
exactly that one thing is refused.

``scripts/unit-tests`` installs the tools (aapt, zipalign, apksigner, android-framework-res).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
TOOLS = ("aapt", "zipalign", "apksigner")


def missing_tools() -> list[str]:
    """The SDK tools (or the framework resources) this machine lacks; empty when all are there."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not FRAMEWORK_RES.is_file():
        missing.append(str(FRAMEWORK_RES))
    return missing


@dataclass(frozen=True)
class SigningKey:
    """A developer's app signing key: a PKCS#8 key and its self-signed certificate, as apksigner takes them."""

    name: str
    key_path: Path
    cert_path: Path
    certificate_der: bytes

    @property
    def certificate_sha256(self) -> str:
        return hashes_sha256(self.certificate_der)


def hashes_sha256(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def make_signing_key(directory: Path, name: str) -> SigningKey:
    """A 2048-bit RSA key and a 25-year self-signed certificate, what Android Studio makes by default."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GovMobile test publisher"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=25 * 365))
        .sign(key, hashes.SHA256())
    )
    key_path = directory / f"{name}.pk8"
    cert_path = directory / f"{name}.x509.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return SigningKey(name, key_path, cert_path, certificate.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class AppSpec:
    """What a test APK declares. Defaults make a small, valid, signable app."""

    package: str = "cn.gov.example.inspect"
    version_code: int = 1
    version_name: str = "1.0"
    min_sdk: int = 21
    target_sdk: int = 29
    label: str = "Field Inspection"
    #: Labels by Android resource qualifier, e.g. (("zh-rCN", "现场检查"),).
    localized_labels: tuple[tuple[str, str], ...] = (("zh-rCN", "现场检查"),)
    permissions: tuple[str, ...] = ("android.permission.INTERNET", "android.permission.CAMERA")
    #: Extra files under assets/: (name, bytes), for size and benchmarks.
    assets: tuple[tuple[str, bytes], ...] = ()
    #: Signature schemes apksigner applies.
    v1: bool = True
    v2: bool = True
    v3: bool = True


def png_icon(size: int = 48, rgb: tuple[int, int, int] = (0, 102, 204)) -> bytes:
    """A valid PNG of one colour, written by hand so that the tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def _manifest(spec: AppSpec) -> str:
    permissions = "".join(f"  <uses-permission android:name={quoteattr(p)} />\n" for p in spec.permissions)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<manifest xmlns:android="http://schemas.android.com/apk/res/android"\n'
        f"    package={quoteattr(spec.package)}\n"
        f'    android:versionCode="{spec.version_code}"\n'
        f"    android:versionName={quoteattr(spec.version_name)}>\n"
        f'  <uses-sdk android:minSdkVersion="{spec.min_sdk}" android:targetSdkVersion="{spec.target_sdk}" />\n'
        f"{permissions}"
        '  <application android:label="@string/app_name" android:icon="@drawable/icon" android:hasCode="false" />\n'
        "</manifest>\n"
    )


def _strings(label: str) -> str:
    escaped = label.replace("\\", "\\\\").replace("'", "\\'").replace("&", "&amp;").replace("<", "&lt;")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<resources><string name="app_name">{escaped}</string></resources>\n'


def package_unsigned(spec: AppSpec, work: Path) -> Path:
    """Compile the manifest and resources with aapt into an unsigned, unaligned APK."""
    source = work / "source"
    if source.exists():
        shutil.rmtree(source)
    (source / "res" / "values").mkdir(parents=True)
    (source / "res" / "drawable").mkdir()
    (source / "AndroidManifest.xml").write_text(_manifest(spec), encoding="utf-8")
    (source / "res" / "values" / "strings.xml").write_text(_strings(spec.label), encoding="utf-8")
    for qualifier, label in spec.localized_labels:
        folder = source / "res" / f"values-{qualifier}"
        folder.mkdir()
        (folder / "strings.xml").write_text(_strings(label), encoding="utf-8")
    (source / "res" / "drawable" / "icon.png").write_bytes(png_icon())
    command = [
        "aapt", "package", "-f", "-M", str(source / "AndroidManifest.xml"), "-S", str(source / "res"),
        "-I", str(FRAMEWORK_RES), "-F", str(work / "unsigned.apk"),
    ]  # fmt: skip
    if spec.assets:
        (source / "assets").mkdir()
        for name, data in spec.assets:
            (source / "assets" / name).write_bytes(data)
        command[2:2] = ["-A", str(source / "assets")]
    subprocess.run(command, check=True, capture_output=True)
    return work / "unsigned.apk"


def align_and_sign(unsigned: Path, key: SigningKey, out: Path, spec: AppSpec) -> Path:
    """zipalign (4-byte, shared libraries page-aligned) and apksigner, as a release build does."""
    aligned = unsigned.with_name(unsigned.stem + "-aligned.apk")
    subprocess.run(
        ["zipalign", "-f", "-p", "4", str(unsigned), str(aligned)], check=True, capture_output=True
    )
    command = [
        "apksigner", "sign", "--key", str(key.key_path), "--cert", str(key.cert_path),
        "--min-sdk-version", str(spec.min_sdk),
        "--v1-signing-enabled", str(spec.v1).lower(), "--v2-signing-enabled", str(spec.v2).lower(),
        "--v3-signing-enabled", str(spec.v3).lower(), "--v4-signing-enabled", "false",
        "--out", str(out), str(aligned),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    aligned.unlink()
    return out


def build_apk(spec: AppSpec, key: SigningKey, out: Path) -> Path:
    """A real, signed APK made from ``spec`` with aapt, zipalign and apksigner."""
    work = out.parent / f".{out.name}.build"
    work.mkdir(parents=True, exist_ok=True)
    try:
        return align_and_sign(package_unsigned(spec, work), key, out, spec)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- Hostile packages: each breaks one thing of a real APK. ---------------------------------------


def tampered_copy(apk: Path, out: Path, entry: str = "res/drawable/icon.png") -> Path:
    """The APK with one byte changed inside one entry's stored data (as a man in the middle might)."""
    data = bytearray(apk.read_bytes())
    with zipfile.ZipFile(apk) as archive:
        info = archive.getinfo(entry)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    position = start + info.compress_size // 2
    data[position] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def rebuilt_with(
    apk: Path, out: Path, key: SigningKey, spec: AppSpec, replace: dict[str, bytes], extra: dict[str, bytes]
) -> Path:
    """Copy an APK's entries (without its signature), replace or add some, then align and sign again.

    The result carries a valid signature, so a refusal proves the check on the content, not on
    the signature.
    """
    unsigned = out.with_name(out.stem + "-unsigned.apk")
    with zipfile.ZipFile(apk) as source, zipfile.ZipFile(unsigned, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename.startswith("META-INF/"):
                continue
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
        for name, data in extra.items():
            entry = zipfile.ZipInfo(name)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, data)
    align_and_sign(unsigned, key, out, spec)
    unsigned.unlink()
    return out


def malformed_manifest_copy(apk: Path, out: Path, key: SigningKey, spec: AppSpec) -> Path:
    """A correctly signed APK whose AndroidManifest.xml is not binary XML."""
    return rebuilt_with(apk, out, key, spec, {"AndroidManifest.xml": b"<manifest>plain text, not AXML"}, {})


def traversal_copy(
    apk: Path, out: Path, key: SigningKey, spec: AppSpec, name: str = "../../etc/cron.d/evil"
) -> Path:
    """A correctly signed APK carrying an entry whose name climbs out of any extraction folder."""
    return rebuilt_with(apk, out, key, spec, {}, {name: b"* * * * * root sh -c 'id > /tmp/owned'\n"})


def zip_bomb(out: Path, inflated_bytes: int, *, declared_bytes: int | None = None) -> Path:
    """A small zip with one deflated entry of ``inflated_bytes`` zeros (about 1000:1).

    With ``declared_bytes`` the headers lie about the size (both the local header and the
    central directory), which is the bomb that only bounded decompression catches.
    """
    # After a full flush deflate forgets what came before, so every 1 MiB of zeros compresses to
    # the same bytes: compress one and repeat it (a 1 GiB bomb in a fraction of a second).
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    whole, rest = divmod(inflated_bytes, len(chunk))
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(whole):
        crc = zlib.crc32(chunk, crc)
    tail = compressor.compress(chunk[:rest]) + compressor.flush()
    crc = zlib.crc32(chunk[:rest], crc)
    stream = block * whole + tail
    size = inflated_bytes if declared_bytes is None else declared_bytes
    name = b"assets/zeros.bin"
    # Zip format by hand here: zipfile cannot be told to write a size it did not see.
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0) + name
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(stream),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + name
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    out.write_bytes(local + stream + central + end)
    return out


class ApkFactory:
    """Builds signed APKs on demand, each spec and key once per session."""

    def __init__(self, directory: Path, publisher: SigningKey, impostor: SigningKey) -> None:
        self.directory = directory
        self.publisher = publisher
        self.impostor = impostor
        self._built: dict[tuple[AppSpec, str], Path] = {}

    def build(self, spec: AppSpec | None = None, key: SigningKey | None = None) -> Path:
        spec = spec or AppSpec()
        key = key or self.publisher
        cache_key = (spec, key.name)
        if cache_key not in self._built:
            out = self.directory / f"{spec.package}-{spec.version_code}-{key.name}-{len(self._built)}.apk"
            self._built[cache_key] = build_apk(spec, key, out)
        return self._built[cache_key]
