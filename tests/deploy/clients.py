"""The appliance's real clients, as a person at this host runs them: `govmobile-admin` against the
gateway's management listener, the `govmobile-device` agent, and curl + openssl as a device
written by others, against the gateway's public listener. Used by the end-to-end and the
backup/restore tests; docs/walkthrough.md runs the same commands."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import websockets
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.deploy import appliance

VENV = Path(os.environ.get("GOVMOBILE_VENV", appliance.ROOT / ".venv"))
MANAGEMENT_URL = "https://127.0.0.1:8443"
PUBLIC_HOSTNAME = "govmobile.localhost"
PUBLIC_URL = f"https://{PUBLIC_HOSTNAME}"
ADMIN_PASSWORD_FILE = appliance.SECRETS / "mdm" / "admin-password"
# The demo office app's name on the intranet network (roles/demo_office).
OFFICE_UPSTREAM = "http://office-app:8080"

T = TypeVar("T")


def root_fingerprint() -> str:
    """The SHA-256 of the root CA certificate, as devices pin it."""
    output = subprocess.run(
        ["openssl", "x509", "-in", str(appliance.ROOT_CERTIFICATE), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return output.split("=", 1)[1].strip().replace(":", "").lower()


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2
) -> tuple[T, float]:
    """Poll until condition() returns something truthy; return it and how long it took."""
    started = time.monotonic()
    while True:
        value = condition()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Admin:
    """`govmobile-admin`, logged in as the deployment's first platform admin."""

    def __init__(self, config_dir: Path) -> None:
        self.env = {**os.environ, "GOVMOBILE_ADMIN_CONFIG": str(config_dir / "admin.json")}
        for name in ("GOVMOBILE_ADMIN_SERVER", "GOVMOBILE_ADMIN_TOKEN", "GOVMOBILE_ADMIN_CA_FILE"):
            self.env.pop(name, None)

    def run(self, *args: str, stdin: str | None = None) -> Result:
        done = subprocess.run(
            [str(VENV / "bin" / "govmobile-admin"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"govmobile-admin {' '.join(args)}: {result.stderr}{result.stdout}"
        return result

    def login(self) -> Result:
        return self.run(
            "login", "--server", MANAGEMENT_URL, "--ca-file", str(appliance.ROOT_CERTIFICATE),
            "--username", "admin", "--password-stdin",
            stdin=ADMIN_PASSWORD_FILE.read_text().strip() + "\n",
        )  # fmt: skip

    def department(self, slug: str, person: str, group: str) -> None:
        """A department with one person in one group."""
        self("tenant", "create", slug, "--name", f"Department {slug}")
        self("person", "create", person, "--tenant", slug, "--name", person.title())
        self("group", "create", group, "--tenant", slug)
        self("group", "add-member", group, person, "--tenant", slug)

    def enrollment_token(self, slug: str, person: str, group: str) -> str:
        created = self(
            "token", "create", "--tenant", slug, "--person", person, "--group", group, "--json"
        ).json()
        assert created["qr_payload"].startswith("govmobile:enroll?server=https%3A%2F%2Fgovmobile.localhost&")
        return str(created["token"])


class Device:
    """`govmobile-device` with a state directory of its own."""

    def __init__(self, state: Path) -> None:
        self.state = state

    @property
    def profile(self) -> Path:
        return self.state / "profile.json"

    def run(self, *args: str) -> Result:
        done = subprocess.run(
            [str(VENV / "bin" / "govmobile-device"), "--state", str(self.state), "--timeout", "20", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def __call__(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.returncode == 0, f"govmobile-device {' '.join(args)}: {result.stderr}{result.stdout}"
        return result

    def enroll(self, token: str) -> str:
        """Enroll with the token, pinning the deployment's root; the device id."""
        self("enroll", "--server", PUBLIC_URL, "--token", token, "--ca-fingerprint", root_fingerprint())
        return str(self("status", "--json").json()["device_id"])

    def set_posture(self, **changes: Any) -> None:
        profile = json.loads(self.profile.read_text())
        profile.update(changes)
        self.profile.write_text(json.dumps(profile, indent=2))


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    """curl against the gateway's public listener, verifying it against the deployment's root."""
    return subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--cacert",
            str(appliance.ROOT_CERTIFICATE),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def openssl(*args: str) -> str:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class CurlDevice:
    """A device enrolled by curl and openssl alone (EST simpleenroll, RFC 7030 §4.2)."""

    key: Path
    certificate: Path
    chain: Path
    device_id: str

    @classmethod
    def enroll(cls, workdir: Path, token: str, serial_number: str) -> CurlDevice:
        key, csr = workdir / "device.key", workdir / "device.csr"
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(key), "-outform", "DER", "-out", str(csr),
                "-subj", f"/serialNumber={serial_number}/CN=curl-device")  # fmt: skip
        body = workdir / "device.b64"
        body.write_bytes(base64.b64encode(csr.read_bytes()))
        facts = base64.urlsafe_b64encode(
            json.dumps({"serial_number": serial_number, "model": "curl", "os_name": "android",
                        "os_version": "14.0.2"}).encode()
        ).decode()  # fmt: skip
        reply = workdir / "reply.b64"
        enrolled = curl(
            "--fail-with-body", "--user", f"device:{token}", "--header", "Content-Type: application/pkcs10",
            "--header", f"GovMobile-Device-Facts: {facts}", "--data-binary", f"@{body}", "--output", str(reply),
            f"{PUBLIC_URL}/.well-known/est/simpleenroll",
        )  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr + (reply.read_text() if reply.exists() else "")
        p7 = workdir / "reply.p7"
        p7.write_bytes(base64.b64decode(reply.read_bytes()))
        chain = workdir / "chain.pem"
        openssl("pkcs7", "-inform", "DER", "-in", str(p7), "-print_certs", "-out", str(chain))
        # The set is unordered (RFC 7030 §4.1.3): the device's certificate is the one for its key.
        own_key = openssl("pkey", "-in", str(key), "-pubout")
        certificate = workdir / "device.crt"
        for candidate in x509.load_pem_x509_certificates(chain.read_bytes()):
            pem = candidate.public_bytes(Encoding.PEM).decode()
            if openssl_stdin(pem, "x509", "-noout", "-pubkey") == own_key:
                certificate.write_text(pem)
        assert certificate.exists(), "no certificate for the device's key in the reply"
        common_name = (
            x509.load_pem_x509_certificate(certificate.read_bytes())
            .subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0]
            .value
        )
        return cls(key, certificate, chain, str(common_name))

    def get(self, path: str) -> tuple[int, str]:
        """GET through the gateway with the device certificate: (status, body)."""
        done = curl("--cert", str(self.certificate), "--key", str(self.key), "--write-out", "\n%{http_code}",
                    f"{PUBLIC_URL}{path}")  # fmt: skip
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body

    def websocket(self, path: str, text: str) -> tuple[Any, Any]:
        """Open a WebSocket through the gateway with the device certificate, send one text; the
        first two messages (JSON)."""
        context = ssl.create_default_context(cafile=str(appliance.ROOT_CERTIFICATE))
        context.load_cert_chain(str(self.certificate), str(self.key))

        async def talk() -> tuple[Any, Any]:
            async with websockets.connect(
                f"wss://{PUBLIC_HOSTNAME}{path}", ssl=context, open_timeout=20
            ) as socket:
                first = json.loads(await asyncio.wait_for(socket.recv(), 20))
                await socket.send(text)
                return first, json.loads(await asyncio.wait_for(socket.recv(), 20))

        return asyncio.run(talk())

    def checkin(self, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """One check-in (POST /api/v1/device/checkin) with a compliant posture; the answer."""
        posture = {"os_name": "android", "os_version": "14.0.2", "storage_encrypted": True,
                   "passcode_set": True, "rooted": False, "installed_apps": [], "battery_percent": 80}  # fmt: skip
        done = curl("--fail-with-body", "--cert", str(self.certificate), "--key", str(self.key),
                    "--header", "Content-Type: application/json",
                    "--data", json.dumps({"posture": posture, "results": results or []}),
                    f"{PUBLIC_URL}/api/v1/device/checkin")  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def obey(self) -> list[str]:
        """Check in, acknowledging every command until the queue is empty; the commands' types."""
        seen: list[str] = []
        answer = self.checkin()
        while answer.get("command"):
            command = answer["command"]
            seen.append(command["type"])
            answer = self.checkin([{"command_id": command["id"], "status": "acknowledged", "result": {}}])
        return seen


def openssl_stdin(stdin: str, *args: str) -> str:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout
