#!/usr/bin/env python3
"""Gateway benchmark: the deployed gateway against the same nginx as a bare mutual-TLS proxy.

Everything runs as deployed, as processes configured by environment: ``govmobile-db upgrade``,
``govmobile-ca serve``, ``govmobile-mdm serve`` (with ``bootstrap-admin``) and
``govmobile-gateway run``, whose control plane renders, starts and reloads Debian's nginx. An
admin logs in through the management listener, creates a department, a person, a group, an
enrollment token and a route; a device enrolls over EST through the public listener and checks
in once. The upstream is a separate nginx answering ``200 ok`` from memory, so that it is never
the bottleneck.

The bare proxy is the same nginx binary with a minimal configuration: the same TLS settings,
``ssl_verify_client on`` against the same client CA and the same CRL, ``proxy_pass`` to the same
upstream with keep-alive, no ``auth_request``. Both are driven by ApacheBench (``ab -E``: wrk
cannot present a client certificate) with the device's certificate, alternately, in the same
run, with keep-alive and with a new TLS connection per request. Handshakes per second come
from ``openssl s_time`` where it can connect (it sends no SNI, which the gateway requires) and
from a small Python ssl client with SNI against both; beside every rate, the proxy's nginx
CPU per request or handshake (from /proc), which the shared machine disturbs far less than the
rates. Revoke-to-refusal and lock-to-refusal are measured on fresh devices by
polling with a new connection (curl) every 50 ms, and revoke-to-refusal also on a connection
opened before the revocation and kept open (no new handshake, so no CRL check: the refusal
comes from the per-request check in nginx's shared memory).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from bench.machine import describe
from bench.support.appliance import Appliance, run, start_appliance, write_key
from bench.support.load import LoadResult, run_ab
from bench.support.postures import COMPLIANT_POSTURE
from bench.support.procs import Processes, cpu_seconds, free_port, wait_until

CONCURRENCY = 16
#: ab processes, each with its own device certificate, sharing CONCURRENCY.
LOAD_DEVICES = 4
SECONDS = 5
ROUNDS = 4
LATENCY_REQUESTS = {True: 3000, False: 600}  # at concurrency 1, keep-alive / new connections
HANDSHAKE_SECONDS = 5
REFUSAL_RUNS = 3
POLL_SECONDS = 0.05
AIM_RATIO = 0.8
AIM_P99_MS = 2.0
AIM_REFUSAL_S = 5.0
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
)
TEMP_PATHS = "".join(
    f"    {kind}_temp_path {{run}}/tmp/{kind};\n"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
)
USER = "user root root;\n" if os.geteuid() == 0 else ""  # as the gateway does outside its container

UPSTREAM_CONF = (
    USER
    + """worker_processes 1;
pid {run}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
"""
    + TEMP_PATHS
    + """    access_log off;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ default_type text/plain; return 200 "ok"; }}
    }}
}}
"""
)

# The gateway's own TLS and connection settings (nginx.conf.j2), and nothing else.
BARE_CONF = (
    USER
    + """worker_processes auto;
pid {run}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
"""
    + TEMP_PATHS
    + """    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 30s;
    keepalive_requests 10000;
    access_log {run}/access.log;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {ciphers};
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:bare_tls:10m;
    ssl_session_timeout 1h;
    ssl_session_tickets off;
    upstream app {{ server 127.0.0.1:{upstream}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_crl {crl};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
)


# -- devices -------------------------------------------------------------------------------


@dataclass
class Device:
    appliance: Appliance
    directory: Path
    device_id: str = ""
    serial: str = ""

    @property
    def cert(self) -> tuple[Path, Path]:
        return self.directory / "device.crt", self.directory / "device.key"

    @property
    def pem(self) -> Path:
        """Certificate and key in one file, as ``ab -E`` takes them."""
        return self.directory / "device.pem"

    def enroll(self) -> Device:
        appliance = self.appliance
        token = appliance.admin(
            "POST",
            "/api/v1/enrollment-tokens",
            json={
                "tenant_id": appliance.tenant_id,
                "person_id": appliance.person_id,
                "group_id": appliance.group_id,
            },
        )["token"]
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tablet")]))
            .sign(key, hashes.SHA256())
        )
        facts = {"serial_number": f"SN-BENCH-{secrets.token_hex(4)}", "model": "Galaxy Tab S9"}
        with httpx.Client(base_url=appliance.public_url, verify=appliance.context(), timeout=30) as client:
            response = client.post(
                "/.well-known/est/simpleenroll",
                content=base64.b64encode(csr.public_bytes(serialization.Encoding.DER)),
                auth=("device", token),
                headers={
                    "Content-Type": "application/pkcs10",
                    "GovMobile-Device-Facts": base64.urlsafe_b64encode(json.dumps(facts).encode())
                    .decode()
                    .rstrip("="),
                },
            )
        if response.status_code != 200:
            raise SystemExit(f"EST enrollment through the gateway: {response.status_code} {response.text}")
        ours = key.public_key().public_numbers()
        certificate = next(
            c
            for c in pkcs7.load_der_pkcs7_certificates(base64.b64decode(response.content))
            if c.public_key().public_numbers() == ours  # type: ignore[union-attr]
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert[0].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        write_key(self.cert[1], key)
        self.pem.write_bytes(self.cert[0].read_bytes() + self.cert[1].read_bytes())
        self.pem.chmod(0o600)
        self.device_id = str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        self.serial = format(certificate.serial_number, "x")
        answer = self.check_in()
        if answer["device"]["state"] != "active" or not answer["device"]["compliant"]:
            raise SystemExit(f"the device is not active and compliant after its check-in: {answer}")
        return self

    def check_in(self, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        with httpx.Client(
            base_url=self.appliance.public_url, verify=self.appliance.context(self.cert), timeout=30
        ) as client:
            response = client.post(
                "/api/v1/device/checkin", json={"posture": COMPLIANT_POSTURE, "results": results or []}
            )
        if response.status_code != 200:
            raise SystemExit(f"check-in through the gateway: {response.status_code} {response.text}")
        return dict(response.json())

    def status(self, url: str) -> int:
        """The status of one GET on a new connection (curl, as a device would open it)."""
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
                "--cacert",
                str(self.appliance.root),
                "--cert",
                str(self.cert[0]),
                "--key",
                str(self.cert[1]),
                url,
            ],
            capture_output=True,
            text=True,
        ).stdout
        return int(out or 0)


def create_route(appliance: Appliance, upstream_port: int) -> str:
    appliance.admin(
        "POST",
        "/api/v1/routes",
        json={
            "name": "bench",
            "upstream_url": f"http://127.0.0.1:{upstream_port}",
            "allowed_tenants": [appliance.tenant_id],
            "allowed_groups": ["field-staff"],
            # Per device: the benchmark sends everything with one certificate.
            "rate_limit": 10000,
        },
    )
    url = f"{appliance.public_url}/apps/bench/"
    # nginx reloads asynchronously: the route is live once it answers (401 without a certificate).
    wait_until(lambda: _status_without_certificate(appliance, url) == 401, what="the route", timeout=30)
    return url


def _status_without_certificate(appliance: Appliance, url: str) -> int:
    with httpx.Client(verify=appliance.context(), timeout=10) as client:
        return client.get(url).status_code


# -- nginx for the upstream and the bare proxy ---------------------------------------------


def start_nginx(procs: Processes, name: str, directory: Path, conf: str) -> None:
    directory.mkdir(parents=True)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / kind).mkdir(parents=True)
    config = directory / "nginx.conf"
    config.write_text(conf)
    command = ["/usr/sbin/nginx", "-p", str(directory), "-e", "stderr", "-c", str(config)]
    run([*command, "-t"])
    process = procs.start(name, [*command, "-g", "daemon off;"])
    wait_until(lambda: (directory / "nginx.pid").exists(), what=name, alive=lambda: process.poll() is None)


# -- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    name: str
    url: str
    port: int
    pid_file: Path

    def master(self) -> int:
        return int(self.pid_file.read_text().strip())


@dataclass(frozen=True)
class Run:
    load: LoadResult
    #: CPU the proxy's nginx workers spent per request (user + system), in microseconds.
    cpu_us: float


def drive(proxy: Proxy, devices: list[Device], *, concurrency: int, keepalive: bool, **limits: int) -> Run:
    """ab with each device's certificate in parallel, ``concurrency`` requests in flight each."""
    master = proxy.master()
    before = cpu_seconds(master, children=True)
    result = run_ab(
        proxy.url,
        client_pems=[d.pem for d in devices],
        concurrency=concurrency,
        keepalive=keepalive,
        **limits,
    )
    used = cpu_seconds(master, children=True) - before
    if result.failed or result.requests == 0:
        raise SystemExit(f"{proxy.name}: {result.failed} failed requests:\n{result.report}")
    return Run(result, used / result.requests * 1e6)


def throughput(
    devices: list[Device], proxies: list[Proxy], control_pid: int
) -> tuple[dict[tuple[str, bool], list[Run]], float]:
    """Alternate the two proxies, keep-alive and new connections, round after round.

    Also returns the control plane's CPU per 1,000 requests through the gateway: with decisions
    cached, Python should be off the request path.
    """
    runs: dict[tuple[str, bool], list[Run]] = {}
    control_cpu, gateway_requests = 0.0, 0
    for _ in range(ROUNDS):
        for keepalive in (True, False):
            for proxy in proxies:
                before = cpu_seconds(control_pid)
                run = drive(
                    proxy,
                    devices,
                    concurrency=CONCURRENCY // len(devices),
                    keepalive=keepalive,
                    seconds=SECONDS,
                )
                if proxy.name == "gateway":
                    control_cpu += cpu_seconds(control_pid) - before
                    gateway_requests += run.load.requests
                runs.setdefault((proxy.name, keepalive), []).append(run)
    return runs, control_cpu / gateway_requests * 1000 * 1000


def latency(device: Device, proxies: list[Proxy]) -> dict[tuple[str, bool], list[Run]]:
    """One request at a time: the latency a proxy adds without queueing in front of it."""
    runs: dict[tuple[str, bool], list[Run]] = {}
    for _ in range(ROUNDS):
        for keepalive in (True, False):
            for proxy in proxies:
                run = drive(
                    proxy, [device], concurrency=1, keepalive=keepalive, requests=LATENCY_REQUESTS[keepalive]
                )
                runs.setdefault((proxy.name, keepalive), []).append(run)
    return runs


def sni_handshakes(device: Device, proxy: Proxy) -> tuple[float, float]:
    """Full TLS handshakes per second with the client certificate and SNI, one at a time, and
    the proxy's CPU per handshake. Python's ssl module (OpenSSL) is the client: ``openssl s_time``
    sends no SNI, and the gateway refuses a handshake without it."""
    context = device.appliance.context(device.cert)
    master = proxy.master()
    before = cpu_seconds(master, children=True)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < HANDSHAKE_SECONDS:
        with (
            socket.create_connection(("127.0.0.1", proxy.port)) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"HEAD /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            tls.recv(1)  # the server has processed the client's certificate by now
        done += 1
    elapsed = time.perf_counter() - started
    return done / elapsed, (cpu_seconds(master, children=True) - before) / done * 1e6


def s_time(device: Device, proxy: Proxy, mode: str) -> tuple[float, float] | None:
    """``openssl s_time -new`` (full handshakes) or ``-reuse`` (session resumption): per second of
    wall time (s_time's own rate divides by the client's user CPU time), and the proxy's CPU per
    connection."""
    master = proxy.master()
    cpu = cpu_seconds(master, children=True)
    started = time.monotonic()
    done = subprocess.run(
        [
            "openssl",
            "s_time",
            "-connect",
            f"127.0.0.1:{proxy.port}",
            "-cert",
            str(device.cert[0]),
            "-key",
            str(device.cert[1]),
            "-CAfile",
            str(device.appliance.root),
            f"-{mode}",
            # A request per connection: without one, s_time never reads the TLS 1.3 session ticket
            # (it comes after the handshake), and "-reuse" would not resume anything.
            "-www",
            "/x",
            "-time",
            str(HANDSHAKE_SECONDS),
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(master, children=True) - cpu
    match = re.search(r"(\d+) connections in [\d.]+ real seconds", done.stdout)
    if not match or int(match.group(1)) == 0:
        return None
    connections = int(match.group(1))
    return connections / elapsed, cpu / connections * 1e6


def wait_for_refusal(device: Device, url: str, started: float) -> tuple[float, int]:
    while True:
        status = device.status(url)
        if status != 200:
            return time.monotonic() - started, status
        if time.monotonic() - started > 60:
            raise SystemExit("still allowed 60 s after the change")
        time.sleep(POLL_SECONDS)


def revoke_to_refusal(appliance: Appliance, device: Device, url: str) -> tuple[float, float, int]:
    if device.status(url) != 200:  # also puts an "allowed" decision in the gateway's cache
        raise SystemExit("a fresh device is refused before its certificate is revoked")
    started = time.monotonic()
    appliance.admin("POST", f"/api/v1/certificates/{device.serial}/revoke", json={"reason": "keyCompromise"})
    call = time.monotonic() - started
    elapsed, status = wait_for_refusal(device, url, started)
    return elapsed, call, status


def revoke_to_refusal_open(appliance: Appliance, device: Device, url: str) -> tuple[float, int]:
    """From the revoke call to the refusal on a keep-alive connection opened before it (the same
    connection throughout: a resumed TLS session is the same case, without a handshake either)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(
        "localhost", parsed.port, context=appliance.context(device.cert), timeout=5
    )
    try:

        def status() -> int:
            connection.request("GET", parsed.path)
            response = connection.getresponse()
            response.read()
            return response.status

        if status() != 200:
            raise SystemExit("a fresh device is refused before its certificate is revoked")
        opened = connection.sock
        started = time.monotonic()
        appliance.admin(
            "POST", f"/api/v1/certificates/{device.serial}/revoke", json={"reason": "keyCompromise"}
        )
        while (code := status()) == 200:
            if time.monotonic() - started > 60:
                raise SystemExit("still allowed on the open connection 60 s after the revocation")
            time.sleep(POLL_SECONDS)
        if connection.sock is not opened:
            raise SystemExit("the open connection was dropped: this measured a new one")
        return time.monotonic() - started, code
    finally:
        connection.close()


def lock_to_refusal(appliance: Appliance, device: Device, url: str) -> tuple[float, int]:
    """From the admin queueing a lock to the gateway refusing the device, which never checks in
    (as a stolen device would not)."""
    if device.status(url) != 200:
        raise SystemExit("a fresh device is refused before it is locked")
    started = time.monotonic()
    appliance.admin(
        "POST",
        f"/api/v1/devices/{device.device_id}/commands",
        json={"type": "lock", "payload": {"message": "bench"}},
    )
    return wait_for_refusal(device, url, started)


@dataclass
class Figures:
    throughput: dict[tuple[str, bool], list[Run]]
    control_ms_per_1000: float
    latency: dict[tuple[str, bool], list[Run]]
    handshakes: dict[str, list[tuple[float, float]]]
    s_time: dict[str, tuple[float, float] | None]
    revocations: list[tuple[float, float, int]]
    revocations_open: list[tuple[float, int]]
    locks: list[tuple[float, int]]
    setup_seconds: float
    load: list[float]
    #: nginx reloads during the revoke and lock runs.
    refusal_reloads: int


def measure(work: Path, procs: Processes) -> Figures:
    started = time.monotonic()
    load = [os.getloadavg()[0]]
    appliance, control = start_appliance(work, procs)
    upstream_port, bare_port = free_port(), free_port()
    start_nginx(
        procs, "upstream", work / "upstream", UPSTREAM_CONF.format(run=work / "upstream", port=upstream_port)
    )
    gateway_url = create_route(appliance, upstream_port) + "x"
    # The route's rate limit is per device (10,000/s at most): the load comes from several.
    devices = [Device(appliance, work / "devices" / f"load{i}").enroll() for i in range(LOAD_DEVICES)]
    device = devices[0]
    fresh = [Device(appliance, work / "devices" / f"fresh{i}").enroll() for i in range(3 * REFUSAL_RUNS)]
    # The same CRL file the gateway's nginx enforces (the issuing CA's and the root's).
    crl = work / "bare-crl.pem"
    crl.write_bytes((appliance.run_dir / "crl.pem").read_bytes())
    start_nginx(
        procs,
        "bare",
        work / "bare",
        BARE_CONF.format(
            run=work / "bare",
            port=bare_port,
            upstream=upstream_port,
            ciphers=CIPHERS,
            cert=appliance.public[0],
            key=appliance.public[1],
            client_ca=appliance.client_ca,
            crl=crl,
        ),
    )
    bare = Proxy("bare", f"https://localhost:{bare_port}/x", bare_port, work / "bare" / "nginx.pid")
    gateway = Proxy("gateway", gateway_url, appliance.public_port, appliance.run_dir / "nginx.pid")
    proxies = [bare, gateway]
    appliance.wait_until_settled()  # the route's creation reloaded nginx
    for proxy in proxies:
        wait_until(
            lambda url=proxy.url: device.status(url) == 200, what=f"{proxy.name} answering 200", timeout=20
        )
        drive(proxy, devices, concurrency=2, keepalive=True, requests=4000)  # warm up
    setup_seconds = time.monotonic() - started
    reloads_before = appliance.reloads()
    loaded, control_ms = throughput(devices, proxies, control.pid)
    load.append(os.getloadavg()[0])
    unloaded = latency(device, proxies)
    shakes: dict[str, list[tuple[float, float]]] = {}
    for _ in range(2):
        for proxy in proxies:
            shakes.setdefault(proxy.name, []).append(sni_handshakes(device, proxy))
    timed = {mode: s_time(device, bare, mode) for mode in ("new", "reuse")}
    if appliance.reloads() != reloads_before:
        raise SystemExit("the gateway reloaded nginx during the measurements; they are not comparable")
    reloads_before = appliance.reloads()
    revocations = [revoke_to_refusal(appliance, d, gateway_url) for d in fresh[:REFUSAL_RUNS]]
    locks = [lock_to_refusal(appliance, d, gateway_url) for d in fresh[REFUSAL_RUNS : 2 * REFUSAL_RUNS]]
    revocations_open = [revoke_to_refusal_open(appliance, d, gateway_url) for d in fresh[2 * REFUSAL_RUNS :]]
    load.append(os.getloadavg()[0])
    reloads = appliance.reloads() - reloads_before
    return Figures(
        loaded,
        control_ms,
        unloaded,
        shakes,
        timed,
        revocations,
        revocations_open,
        locks,
        setup_seconds,
        load,
        reloads,
    )


# -- report --------------------------------------------------------------------------------


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(
        getattr(r, attribute) if attribute == "cpu_us" else getattr(r.load, attribute) for r in runs
    )


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        with Processes(work / "logs") as procs:
            try:
                figures = measure(work, procs)
            except BaseException:
                for name in ("gateway", "mdm", "ca", "bare", "upstream"):
                    tail = procs.log_tail(name, 15)
                    if tail:
                        print(f"--- {name} log ---\n{tail}", file=sys.stderr)
                raise
    report(figures, time.monotonic() - started)


def report(figures: Figures, total_seconds: float) -> None:
    print("## Secure access gateway")
    print()
    print(describe())
    print()
    print(
        "The gateway as deployed (`govmobile-ca serve`, `govmobile-mdm serve`, `govmobile-gateway run` "
        "with the nginx it renders and runs, SQLite) against the same nginx binary configured as a bare "
        "mutual-TLS reverse proxy (the gateway's TLS settings, client CA and CRL, `ssl_verify_client on`, "
        "`proxy_pass` with keep-alive, a plain access log, no `auth_request`), both in front of the same "
        "static upstream (a separate nginx answering `200 ok`). Enrolled, compliant devices' "
        "certificates; `GET /apps/<route>/x` through the gateway (every request checked against the "
        "refused certificates in nginx's shared memory; decisions cached there for the default 5 s, so "
        "the control plane is asked once per 5 s per device; the route's per-device rate limit at its "
        "maximum, 10,000/s), `GET /x` through the bare proxy. ApacheBench (`ab -E`; wrk cannot present "
        "a client certificate), every response checked to be 2xx: the two proxies alternately, "
        f"{ROUNDS} rounds of {SECONDS} s at {CONCURRENCY} concurrent requests ({LOAD_DEVICES} ab processes, "
        "each with its own device, so that no device reaches the rate limit; medians shown), then one "
        "request at a time. ab, both proxies and the upstream share the machine's cores, and the machine "
        "is shared: the nginx CPU per request (workers' user + system time from /proc) is the steadier "
        "comparison."
    )
    print()
    print(
        "| connection | proxy | requests/s | p50 | p99 | nginx CPU per request | requests/s vs bare | CPU vs bare | p99 added |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for keepalive in (True, False):
        bare = figures.throughput[("bare", keepalive)]
        for name in ("bare", "gateway"):
            runs = figures.throughput[(name, keepalive)]
            rps, p50, p99, cpu = (median(runs, a) for a in ("rps", "p50_ms", "p99_ms", "cpu_us"))
            versus = (
                ("", "", "")
                if name == "bare"
                else (
                    f"{rps / median(bare, 'rps'):.2f}x",
                    f"{cpu / median(bare, 'cpu_us'):.2f}x",
                    f"{p99 - median(bare, 'p99_ms'):+.2f} ms",
                )
            )
            print(
                f"| {'keep-alive' if keepalive else 'new TLS connection each'} | {name} | {rps:,.0f} | {p50:.2f} ms | "
                f"{p99:.2f} ms | {cpu:,.0f} µs | {' | '.join(versus)} |"
            )
    print()
    rounds = []
    for keepalive in (True, False):
        pairs = zip(
            figures.throughput[("bare", keepalive)], figures.throughput[("gateway", keepalive)], strict=True
        )
        cells = [
            f"{g.load.rps / b.load.rps:.2f}x / {g.cpu_us / b.cpu_us:.2f}x / {g.load.p99_ms - b.load.p99_ms:+.1f} ms"
            for b, g in pairs
        ]
        rounds.append(f"{'keep-alive' if keepalive else 'new connections'} {', '.join(cells)}")
    print(
        "Round by round (gateway against bare: requests/s, CPU per request, p99 added), to show the noise: "
        + "; ".join(rounds)
        + "."
    )
    print()
    print(
        f"The control plane (Python) used {figures.control_ms_per_1000:.2f} ms of CPU per 1,000 requests "
        "through the gateway: with decisions cached it stays off the request path."
    )
    print()
    print(f"One request at a time (no queueing), median of {ROUNDS} rounds:")
    print()
    print("| connection | proxy | p50 | p99 | p50 added | p99 added |")
    print("|---|---|---:|---:|---:|---:|")
    for keepalive in (True, False):
        bare = figures.latency[("bare", keepalive)]
        for name in ("bare", "gateway"):
            runs = figures.latency[(name, keepalive)]
            p50, p99 = median(runs, "p50_ms"), median(runs, "p99_ms")
            added = (
                " | "
                if name == "bare"
                else f"{p50 - median(bare, 'p50_ms'):+.2f} ms | {p99 - median(bare, 'p99_ms'):+.2f} ms"
            )
            print(
                f"| {'keep-alive' if keepalive else 'new TLS connection each'} | {name} | {p50:.2f} ms | "
                f"{p99:.2f} ms | {added} |"
            )
    print()
    rates = {n: statistics.median(r for r, _ in v) for n, v in figures.handshakes.items()}
    costs = {n: statistics.median(c for _, c in v) for n, v in figures.handshakes.items()}
    timed = []
    for mode, label in (("new", "full handshakes"), ("reuse", "session resumption")):
        measured = figures.s_time[mode]
        timed.append(
            f"{label} {measured[0]:,.0f}/s ({measured[1]:,.0f} µs of nginx CPU each)"
            if measured
            else f"{label} failed"
        )
    print(
        "Handshakes with the client certificate, one at a time (a full TLS handshake with SNI and one "
        f"`HEAD`, {HANDSHAKE_SECONDS} s, twice each): bare {rates['bare']:,.0f}/s ({costs['bare']:,.0f} µs of nginx CPU "
        f"each), gateway {rates['gateway']:,.0f}/s ({costs['gateway']:,.0f} µs each). The client is Python's "
        "ssl module: `openssl s_time` sends no SNI, which the gateway requires (its default server "
        "rejects the handshake); against the bare proxy `openssl s_time -www /x` measures "
        f"{', '.join(timed)}. One at a time, the client's own handshake work bounds these rates; the CPU "
        "per handshake is the server's cost."
    )
    print()
    revoke_times = [t for t, _, _ in figures.revocations]
    revoke_calls = [c for _, c, _ in figures.revocations]
    open_times = [t for t, _ in figures.revocations_open]
    lock_times = [t for t, _ in figures.locks]
    print(
        "Revoke to refusal (admin API `POST /api/v1/certificates/{serial}/revoke` on the management "
        f"listener, clock started as it is sent; then a new connection every {POLL_SECONDS * 1000:.0f} ms "
        f"with curl; an allowed decision cached beforehand; {REFUSAL_RUNS} fresh devices): median "
        f"**{statistics.median(revoke_times):.2f} s** (runs {', '.join(f'{t:.2f}' for t in revoke_times)} s; the "
        f"revoke call itself {statistics.median(revoke_calls) * 1000:.0f} ms; refused with "
        f"{', '.join(sorted({str(s) for _, _, s in figures.revocations}))}). On a connection opened before the "
        "revocation and kept open (no new handshake, as with a resumed TLS session): median "
        f"**{statistics.median(open_times):.2f} s** (runs {', '.join(f'{t:.2f}' for t in open_times)} s; refused "
        f"with {', '.join(sorted({str(s) for _, s in figures.revocations_open}))}). Lock to refusal (clock started "
        "as the admin API call to queue the lock is sent; the device does not check in, as a stolen one would "
        f"not): median **{statistics.median(lock_times):.2f} s** (runs {', '.join(f'{t:.2f}' for t in lock_times)} s; "
        f"refused with {', '.join(sorted({str(s) for _, s in figures.locks}))}). Access changes go into nginx's "
        "shared memory and reload nothing; a new CRL is re-read by a reload at most once a minute "
        f"({figures.refusal_reloads} reloads during these {3 * REFUSAL_RUNS} changes). None happened during the "
        "throughput, latency and handshake measurements."
    )
    print()
    gateway_ka, bare_ka = figures.throughput[("gateway", True)], figures.throughput[("bare", True)]
    ratio = median(gateway_ka, "rps") / median(bare_ka, "rps")
    cpu_ratio = median(bare_ka, "cpu_us") / median(gateway_ka, "cpu_us")
    added_single = median(figures.latency[("gateway", True)], "p99_ms") - median(
        figures.latency[("bare", True)], "p99_ms"
    )
    added_loaded = median(gateway_ka, "p99_ms") - median(bare_ka, "p99_ms")

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    print(
        f"Aims: keep-alive throughput at least {AIM_RATIO}x the bare proxy's — {verdict(ratio >= AIM_RATIO)} "
        f"({ratio:.2f}x measured; {cpu_ratio:.2f}x from CPU per request, what a dedicated appliance would "
        f"see); at most {AIM_P99_MS:.0f} ms added at p99 — {verdict(added_single <= AIM_P99_MS)} one request at "
        f"a time ({added_single:+.2f} ms), {verdict(added_loaded <= AIM_P99_MS)} at {CONCURRENCY} concurrent "
        f"requests ({added_loaded:+.2f} ms, where p99 follows the throughput gap); revoke to refusal under "
        f"{AIM_REFUSAL_S:.0f} s — {verdict(max(revoke_times + open_times) < AIM_REFUSAL_S)} (slowest {max(revoke_times + open_times):.2f} s)."
    )
    print()
    print(
        f"The run took {total_seconds:.0f} s, {figures.setup_seconds:.0f} s of it starting the appliance. "
        "One-minute load average at the start, after the throughput rounds and at the end: "
        f"{', '.join(f'{x:.1f}' for x in figures.load)} (this machine is shared)."
    )


if __name__ == "__main__":
    main()
