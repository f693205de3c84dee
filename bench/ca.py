#!/usr/bin/env python3
"""CA benchmark: certificates signed per second (in process and over HTTP) and CRL generation.

Over HTTP the real server (`govmobile-ca serve`, SQLite, durable commits) is driven by wrk with
P-256 CSRs prepared in advance, with one and two worker processes side by side. The CRL figure
is the time to generate and store a CRL with 100,000 revoked entries, next to cryptography's
own CRL builder on 10,000 entries (it slows down quadratically, which is why the CA writes DER
itself).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import insert

from bench.machine import describe
from govmobile.ca.app import build_authority
from govmobile.ca.hierarchy import CaLayout, load_issuer
from govmobile.ca.models import Certificate
from govmobile.ca.profiles import SubjectRequest
from govmobile.ca.settings import AuthoritySettings
from govmobile.core.database import Database
from govmobile.migrations import upgrade

CSRS = 2000
HTTP_SECONDS = 10
CONNECTIONS = 16
CRL_ENTRIES = 100_000
BIN = Path(sys.executable).parent


def make_csrs(count: int) -> list[str]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    return [
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
        for _ in range(count)
    ]


def fresh_database(work: Path, name: str) -> str:
    url = f"sqlite:///{work / name}.sqlite3"
    upgrade(url)
    return url


def in_process(layout: CaLayout, url: str, csrs: list[str]) -> float:
    database = Database(url)
    authority = build_authority(AuthoritySettings(ca_dir=layout.directory, database_url=url), database)
    started = time.perf_counter()
    for index, csr in enumerate(csrs):
        authority.sign(
            csr, "device", SubjectRequest(device_id=f"d{index}", tenant_id="bench"), actor="ra:bench"
        )
    return len(csrs) / (time.perf_counter() - started)


def wrk_script(work: Path, csrs: list[str], secret: str) -> Path:
    bodies = [
        json.dumps({"profile": "device", "csr": c, "device_id": f"h{i}", "tenant_id": "bench"})
        for i, c in enumerate(csrs)
    ]
    auth = base64.b64encode(f"mdm:{secret}".encode()).decode()
    script = work / "sign.lua"
    script.write_text(
        "local bodies = {\n"
        + ",\n".join(f"[==[{b}]==]" for b in bodies)
        + "\n}\n"
        + f"""
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic {auth}"
request = function()
  counter = counter + 1
  return wrk.format(nil, "/api/v1/ra/sign", nil, bodies[(counter % #bodies) + 1])
end
"""
    )
    return script


def over_http(layout: CaLayout, url: str, script: Path, secret: str, workers: int) -> dict[str, float]:
    port = 18000 + secrets.randbelow(1000)
    env = {
        **os.environ,
        "GOVMOBILE_CA_CA_DIR": str(layout.directory),
        "GOVMOBILE_CA_DATABASE_URL": url,
        "GOVMOBILE_CA_RA_SECRETS": json.dumps({"mdm": secret}),
        "GOVMOBILE_CA_WORKERS": str(workers),
        "GOVMOBILE_CA_LISTEN_PORT": str(port),
        "GOVMOBILE_CA_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [str(BIN / "govmobile-ca"), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                ["curl", "-fs", f"http://127.0.0.1:{port}/healthz"], capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(
                    f"the CA did not start: {server.stderr.read().decode() if server.stderr else ''}"
                )
            time.sleep(0.2)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{HTTP_SECONDS}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    if "Non-2xx" in out:
        raise SystemExit(f"some signing requests failed:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _latency(out, "50%"),
        "p99": _latency(out, "99%"),
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def crl_generation(layout: CaLayout, url: str) -> tuple[float, int]:
    database = Database(url)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "serial": format(secrets.randbits(159) | 1 << 158, "x"),
            "profile": "device",
            "subject": "CN=x",
            "common_name": "x",
            "device_id": f"d{i}",
            "tenant_id": "bench",
            "sha256": secrets.token_hex(32),
            "not_before": now,
            "not_after": now + dt.timedelta(days=30),
            "issued_at": now,
            "issued_by": "bench",
            "revoked_at": now,
            "revocation_reason": 1,
            "revoked_by": "bench",
            "pem": "",
        }
        for i in range(CRL_ENTRIES)
    ]
    with database.transaction() as session:
        for start in range(0, len(rows), 5000):
            session.connection().execute(insert(Certificate.__table__), rows[start : start + 5000])  # type: ignore[attr-defined]
    authority = build_authority(AuthoritySettings(ca_dir=layout.directory, database_url=url), database)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        document = authority.publish_crl()
        times.append(time.perf_counter() - started)
    assert len(x509.load_der_x509_crl(document.der)) == CRL_ENTRIES
    return statistics.median(times), len(document.der)


def builder_comparison(layout: CaLayout, entries: int) -> tuple[float, float]:
    from govmobile.ca.revocation_list import RevokedEntry, build_crl

    issuer = load_issuer(layout)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    serials = [secrets.randbits(150) for _ in range(entries)]
    started = time.perf_counter()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    builder.sign(issuer.private_key, hashes.SHA256())
    theirs = time.perf_counter() - started
    started = time.perf_counter()
    build_crl(
        issuer,
        (RevokedEntry(s, now, 0) for s in serials),
        number=1,
        this_update=now,
        next_update=now + dt.timedelta(days=1),
    )
    ours = time.perf_counter() - started
    return theirs, ours


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [str(BIN / "govmobile-ca"), "init", "--ca-dir", str(work / "ca")], check=True, capture_output=True
        )
        layout = CaLayout(work / "ca")
        csrs = make_csrs(CSRS)
        secret = secrets.token_urlsafe(24)
        script = wrk_script(work, csrs, secret)
        rate_in_process = in_process(layout, fresh_database(work, "inproc"), csrs)
        http = {w: over_http(layout, fresh_database(work, f"http{w}"), script, secret, w) for w in (1, 2)}
        crl_seconds, crl_bytes = crl_generation(layout, fresh_database(work, "crl"))
        theirs, ours = builder_comparison(layout, 10_000)

    print("## Certificate authority")
    print()
    print(describe())
    print()
    print(f"Device-profile certificates from {CSRS} P-256 CSRs prepared in advance; SQLite with durable")
    print(f"commits (synchronous=FULL). HTTP: `govmobile-ca serve` driven by wrk, {CONNECTIONS} connections,")
    print(f"{HTTP_SECONDS} s, HTTP Basic RA authentication, every response checked to be 201.")
    print()
    print("| path | certificates/s | p50 | p99 |")
    print("|---|---:|---:|---:|")
    print(f"| in process, one thread (`Authority.sign`) | {rate_in_process:.0f} | | |")
    for workers, figures in http.items():
        print(
            f"| HTTP, {workers} worker{'s' if workers > 1 else ''} | {figures['rps']:.0f} | {figures['p50']:.1f} ms | {figures['p99']:.1f} ms |"
        )
    print()
    print(
        f"HTTP with 2 workers reaches {http[2]['rps'] / rate_in_process:.2f}x the single-thread in-process rate "
        f"and {http[2]['rps'] / http[1]['rps']:.2f}x one worker. Aim: at least 500/s over HTTP on 2 cores."
    )
    print()
    print(
        f"CRL with {CRL_ENTRIES:,} revoked entries: generated, signed and stored in **{crl_seconds:.2f} s** "
        f"(median of 3; {crl_bytes / 1e6:.1f} MB DER). Aim: under 2 s."
    )
    print(
        f"Side by side on 10,000 entries: cryptography's CRL builder {theirs:.2f} s, the CA's DER writer "
        f"{ours:.3f} s ({theirs / ours:.0f}x faster)."
    )


if __name__ == "__main__":
    main()
