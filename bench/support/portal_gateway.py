"""The app portal through the real gateway: devices' desired-state fetches with an unchanged ETag,
and package downloads against the same file served by a bare nginx.

As bench/gateway.py runs it (bench/support/appliance.py): ``govmobile-ca serve``,
``govmobile-mdm serve``, ``govmobile-portal serve`` (2 workers, as deployed) and
``govmobile-gateway run`` with the nginx it renders, on one SQLite database. An admin uploads a
real signed APK through the management listener, approves and publishes it and assigns it as
required to the group the devices enroll into; devices enroll over EST through the public
listener.

A desired-state fetch goes: TLS with the device's certificate (verified against the client CA
and the CRL), the refused-certificate check in nginx's shared memory, then to the portal with
the gateway's identity headers; the portal finds the device by its certificate, checks the
certificate's status, resolves its apps, rebuilds the document's content and compares its digest
with the stored one, and answers 304 when the device's ETag is the stored sequence.

A download goes the same way to the portal, which authorises it (the device's desired state
must offer that package) and answers with ``X-Accel-Redirect``; nginx sends the file from the
portal's volume. The bare nginx is the same binary with the gateway's TLS settings, mutual TLS
against the same client CA and CRL, serving the same directory, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.gateway import CIPHERS, TEMP_PATHS, USER, Device, start_nginx
from bench.support.appliance import Appliance, start_appliance
from bench.support.load import LoadResult, run_ab
from bench.support.procs import Processes, cpu_seconds, free_port, wait_until

PORTAL_WORKERS = 2  # roles/portal/defaults/main.yml
LOAD_DEVICES = 4
#: Desired-state fetches: ab processes (one device each) x requests in flight each.
FETCH_CONCURRENCY = 4
FETCH_SECONDS = 8
FETCH_ROUNDS = 3
#: Downloads: ab processes x requests in flight each, the two servers alternately.
DOWNLOAD_CONCURRENCY = 2
DOWNLOAD_SECONDS = 8
DOWNLOAD_ROUNDS = 3
PACKAGE_MIB = 30
#: Assignments added to the devices' department (each to a group of its own, none the devices'
#: group) before the fetches are measured again: the portal loads a department's assignments
#: at every fetch, and the resolution benchmark's largest department has about this many.
MORE_ASSIGNMENTS = 1000
APK = "application/vnd.android.package-archive"

BARE_FILES_CONF = (
    USER
    + """worker_processes auto;
pid {run}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
"""
    + TEMP_PATHS
    + """    default_type application/octet-stream;
    server_tokens off;
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
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_crl {crl};
        location / {{ alias {files}/; }}
    }}
}}
"""
)


@dataclass(frozen=True)
class Run:
    load: LoadResult
    #: nginx workers' CPU (user + system) per request, in microseconds.
    nginx_cpu_us: float
    #: The portal's processes' CPU per request, in microseconds (0 for the bare nginx).
    portal_cpu_us: float


def lazy_in_process(
    appliance: Appliance, devices: list[Device], seconds: float = 5.0
) -> tuple[list[float], list[float]]:
    """The portal's own work for one device's fetch (``Delivery.desired_state``: the device by its
    certificate, its stored document, its groups and the assignments that reach it, resolution,
    the document's content digest), in this process on the appliance's database, without HTTP:
    each call's seconds of wall time and of this thread's CPU (sorted), the devices in turn, one at
    a time."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from govmobile.core.database import Database
    from govmobile.portal.delivery import Delivery
    from govmobile.portal.trust import PortalKeys, RepositoryKeeper
    from govmobile.web.device_identity import PresentedCertificate

    assert appliance.portal_data is not None
    keys_dir = appliance.work / "portal-keys"
    keys = PortalKeys.load(keys_dir)
    keeper = RepositoryKeeper(
        appliance.portal_data / "repository",
        keys,
        lambda: dt.datetime.now(dt.UTC),
        root_file=keys_dir / "root.json",
    )
    database = Database(appliance.database_url)
    delivery = Delivery(database, keeper, keys.desired_state)
    presented = []
    for device in devices:
        der = x509.load_pem_x509_certificate(device.cert[0].read_bytes()).public_bytes(Encoding.DER)
        presented.append((PresentedCertificate(der, hashlib.sha256(der).hexdigest()), device.device_id))
    times: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            certificate, device_id = presented[len(times) % len(presented)]
            mark, cpu_mark = time.perf_counter(), time.thread_time()
            delivery.desired_state(certificate, device_id)
            times.append(time.perf_counter() - mark)
            cpu.append(time.thread_time() - cpu_mark)
    finally:
        database.engine.dispose()
    return sorted(times), sorted(cpu)


@dataclass
class GatewayFigures:
    fetches: Fetches
    #: The same with MORE_ASSIGNMENTS more assignments in the department.
    fetches_more: Fetches
    fetch_statuses: dict[int, int]
    #: ``Delivery.desired_state`` in process at MORE_ASSIGNMENTS + 1 assignments: seconds of wall
    #: time and of CPU per call, sorted.
    lazy: tuple[list[float], list[float]]
    downloads: dict[str, list[Run]]
    package_bytes: int
    assignment_to_devices: int
    setup_seconds: float
    load: list[float]


def build_package(work: Path) -> Path:
    """A real signed APK of about PACKAGE_MIB MiB (incompressible media, stored as aapt stores .mp4)."""
    from tests.support.apks import AppSpec, build_apk, make_signing_key

    spec = AppSpec(package="cn.gov.bench.field", assets=(("video.mp4", os.urandom(PACKAGE_MIB << 20)),))
    return build_apk(spec, make_signing_key(work / "keys", "bench"), work / "field.apk")


def publish(appliance: Appliance, apk: Path) -> dict[str, Any]:
    """Upload through the management listener (streamed), approve, publish, assign as required to
    the devices' group."""
    context = appliance.context()

    def chunks() -> Any:
        with apk.open("rb") as data:
            while chunk := data.read(1 << 20):
                yield chunk

    with httpx.Client(base_url=appliance.management_url, verify=context, timeout=120) as client:
        response = client.post(
            "/api/v1/portal/releases",
            params={"tenant_id": appliance.tenant_id},
            content=chunks(),
            headers={"Authorization": f"Bearer {appliance.token}", "Content-Type": APK},
        )
    if response.status_code != 201:
        raise SystemExit(f"upload through the management listener: {response.status_code} {response.text}")
    release: dict[str, Any] = response.json()
    appliance.admin("POST", f"/api/v1/portal/releases/{release['id']}/approve")
    appliance.admin("POST", f"/api/v1/portal/releases/{release['id']}/publish", json={"track": "production"})
    appliance.admin(
        "POST",
        "/api/v1/portal/assignments",
        json={
            "app_id": release["app_id"],
            "tenant_id": appliance.tenant_id,
            "target": {"kind": "group", "id": appliance.group_id},
            "intent": "required",
        },
    )
    return release


def add_assignments(appliance: Appliance, app_id: str, count: int) -> None:
    """``count`` groups in the devices' department, the app assigned as available to each (through
    the management listener, one keep-alive connection)."""
    with httpx.Client(
        base_url=appliance.management_url,
        verify=appliance.context(),
        timeout=30,
        headers={"Authorization": f"Bearer {appliance.token}"},
    ) as client:
        for i in range(count):
            group = client.post(
                "/api/v1/groups", json={"tenant_id": appliance.tenant_id, "name": f"bench-{i}"}
            )
            assigned = client.post(
                "/api/v1/portal/assignments",
                json={
                    "app_id": app_id,
                    "tenant_id": appliance.tenant_id,
                    "target": {"kind": "group", "id": group.json().get("id", "") if group.is_success else ""},
                    "intent": "available",
                },
            )
            if not (group.is_success and assigned.is_success):
                raise SystemExit(
                    f"adding assignments: {group.status_code} {assigned.status_code} {assigned.text}"
                )


def desired_state(device: Device) -> tuple[str, list[str]]:
    """The device's ETag and the packages its document lists (first fetch: 200)."""
    with httpx.Client(
        base_url=device.appliance.public_url, verify=device.appliance.context(device.cert), timeout=30
    ) as client:
        response = client.get(f"/portal/v1/devices/{device.device_id}/desired-state")
        if response.status_code != 200:
            raise SystemExit(f"desired state through the gateway: {response.status_code} {response.text}")
        etag = response.headers["ETag"]
        again = client.get(
            f"/portal/v1/devices/{device.device_id}/desired-state", headers={"If-None-Match": etag}
        )
        if again.status_code != 304:
            raise SystemExit(f"a fetch with the same ETag was answered {again.status_code}, not 304")
    import base64

    payload = json.loads(base64.b64decode(response.json()["payload"]))
    return etag, [app["package"] for app in payload["apps"]]


class AccessLog:
    """The statuses the gateway's nginx logged for a path since the last mark (its JSON access
    log, buffered up to a second). The gateway's summariser rotates the file to ``.log.1`` past
    64 MiB (``govmobile.gateway.access_log``), which a run of fetches reaches: the lines since the
    mark are then the rest of the rotated file and the new file from its start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rotated = path.with_suffix(".log.1")
        self.unchanged = 0
        time.sleep(1.5)  # what was asked before now reaches the file (nginx flushes every second)
        self._mark()

    def _mark(self) -> None:
        stat = self.path.stat() if self.path.exists() else None
        self.inode, self.offset = (stat.st_ino, stat.st_size) if stat else (None, 0)

    def _pieces(self) -> list[tuple[Path, int]]:
        """The files, and the offset in each, that hold the lines logged since the mark."""
        if not self.path.exists():
            return []
        if self.inode is None or self.path.stat().st_ino == self.inode:
            return [(self.path, self.offset)]
        pieces = [(self.path, 0)]
        if self.rotated.exists() and self.rotated.stat().st_ino == self.inode:
            pieces.insert(0, (self.rotated, self.offset))
        return pieces  # rotated twice since the mark: lines are missing, and the count says so

    def statuses(self, path_part: str, at_least: int) -> dict[int, int]:
        """Also sets ``unchanged``: how many of them nginx answered itself (decision "unchanged")."""
        counts: dict[int, int] = {}

        def read() -> bool:
            counts.clear()
            self.unchanged = 0
            for file, offset in self._pieces():
                with file.open("rb") as log:
                    log.seek(offset)
                    for line in log:
                        entry = json.loads(line)
                        if path_part in entry["path"]:
                            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
                            self.unchanged += entry["decision"] == "unchanged"
            return sum(counts.values()) >= at_least

        try:
            wait_until(read, what="the gateway's access log", timeout=15)
        except SystemExit:
            raise SystemExit(
                f"the gateway's access log holds {counts} for {path_part} since the mark "
                f"({self.offset} bytes into inode {self.inode}), fewer than the {at_least} answers "
                "the client counted"
            ) from None
        time.sleep(1.5)  # a worker's buffer may still hold the last lines: one more flush interval
        read()
        self._mark()
        return dict(counts)


#: Appended to a fetch's path so that the gateway's nginx passes it to the portal, which ignores
#: the query and answers as for the plain path: the portal-only path, side by side in one run.
VIA_PORTAL = "?via=portal"


@dataclass
class Fetches:
    """Unchanged fetches answered by the gateway's nginx itself, and through to the portal."""

    gateway: list[Run]
    portal: list[Run]


def measure_fetches(
    appliance: Appliance, devices: list[Device], etags: list[str]
) -> tuple[Fetches, dict[int, int]]:
    """Rounds of each in turn: the plain path (nginx answers) and ``VIA_PORTAL`` (the portal does)."""
    fetches = Fetches([], [])
    statuses: dict[int, int] = {}
    for _ in range(FETCH_ROUNDS):
        for suffix, runs in (("", fetches.gateway), (VIA_PORTAL, fetches.portal)):
            run, counts, unchanged = _fetch_round(appliance, devices, etags, suffix)
            answered_here = unchanged / max(sum(counts.values()), 1)
            # The plain path is nginx's to answer (all but the first fetch after the assignments
            # changed); the other must reach the portal every time.
            if (suffix == "" and answered_here < 0.99) or (suffix and unchanged):
                raise SystemExit(f"fetches{suffix}: {unchanged} of {counts} answered by nginx itself")
            runs.append(run)
            for status, count in counts.items():
                statuses[status] = statuses.get(status, 0) + count
    # Every answer was a 304 (ab stops at its time limit with requests in flight: nginx logs those
    # too, as 304 or as 499 when the client had gone).
    unexpected = {s: n for s, n in statuses.items() if s not in (304, 499)}
    if unexpected or statuses.get(499, 0) > 2 * FETCH_ROUNDS * LOAD_DEVICES * FETCH_CONCURRENCY:
        raise SystemExit(f"desired-state fetches answered other than 304: {statuses}")
    return fetches, statuses


def _fetch_round(
    appliance: Appliance, devices: list[Device], etags: list[str], suffix: str
) -> tuple[Run, dict[int, int], int]:
    assert appliance.portal is not None
    master = int((appliance.run_dir / "nginx.pid").read_text())
    log = AccessLog(appliance.run_dir / "access.log")
    urls = [f"{appliance.public_url}/portal/v1/devices/{d.device_id}/desired-state{suffix}" for d in devices]
    nginx_before = cpu_seconds(master, children=True)
    portal_before = cpu_seconds(appliance.portal.pid, tree=True)
    result = run_ab(
        urls[0],
        urls=urls,
        headers=[[f"If-None-Match: {etag}"] for etag in etags],
        client_pems=[d.pem for d in devices],
        concurrency=FETCH_CONCURRENCY,
        keepalive=True,
        seconds=FETCH_SECONDS,
        non_2xx_expected=True,
    )
    nginx_used = cpu_seconds(master, children=True) - nginx_before
    portal_used = cpu_seconds(appliance.portal.pid, tree=True) - portal_before
    if result.failed or result.requests == 0:
        raise SystemExit(f"desired-state fetches: {result.failed} failed:\n{result.report}")
    counts = log.statuses("/desired-state", result.requests)
    run = Run(result, nginx_used / result.requests * 1e6, portal_used / result.requests * 1e6)
    return run, counts, log.unchanged


def measure_downloads(
    appliance: Appliance, devices: list[Device], gateway_url: str, bare_url: str, bare_pid: Path, size: int
) -> dict[str, list[Run]]:
    assert appliance.portal is not None
    masters = {
        "gateway": appliance.run_dir / "nginx.pid",
        "bare": bare_pid,
    }
    urls = {"gateway": gateway_url, "bare": bare_url}
    runs: dict[str, list[Run]] = {}
    log = AccessLog(appliance.run_dir / "access.log")
    for _ in range(DOWNLOAD_ROUNDS):
        for name in ("bare", "gateway"):
            master = int(masters[name].read_text())
            nginx_before = cpu_seconds(master, children=True)
            portal_before = cpu_seconds(appliance.portal.pid, tree=True)
            result = run_ab(
                urls[name],
                client_pems=[d.pem for d in devices],
                concurrency=DOWNLOAD_CONCURRENCY,
                keepalive=True,
                seconds=DOWNLOAD_SECONDS,
            )
            nginx_used = cpu_seconds(master, children=True) - nginx_before
            portal_used = cpu_seconds(appliance.portal.pid, tree=True) - portal_before
            if result.failed or result.requests == 0:
                raise SystemExit(f"downloads from {name}: {result.failed} failed:\n{result.report}")
            lengths = {int(x) for x in _document_lengths(result.report)}
            if lengths != {size}:
                raise SystemExit(f"downloads from {name}: bodies of {lengths} bytes, not {size}")
            if name == "gateway":
                # After the internal redirect nginx logs the file's URI (/_portal_files/targets/...).
                statuses = log.statuses("/targets/apps/", result.requests)
                if set(statuses) - {200, 499}:
                    raise SystemExit(f"downloads through the gateway answered {statuses}")
            runs.setdefault(name, []).append(
                Run(
                    result,
                    nginx_used / result.requests * 1e6,
                    portal_used / result.requests * 1e6 if name == "gateway" else 0.0,
                )
            )
    return runs


def _document_lengths(report: str) -> list[str]:
    import re

    return re.findall(r"Document Length:\s+(\d+) bytes", report)


def measure(work: Path, procs: Processes) -> GatewayFigures:
    started = time.monotonic()
    load = [os.getloadavg()[0]]
    appliance, _ = start_appliance(work, procs, portal_workers=PORTAL_WORKERS)
    assert appliance.portal_data is not None
    apk = build_package(work)
    release = publish(appliance, apk)
    devices = [Device(appliance, work / "devices" / f"load{i}").enroll() for i in range(LOAD_DEVICES)]
    etags = []
    for device in devices:
        etag, packages = desired_state(device)
        if packages != [release["package"]]:
            raise SystemExit(f"the device's desired state lists {packages}, not the assigned app")
        etags.append(etag)
    target = f"apps/{release['package']}/{release['sha256']}.{release['version_code']}.apk"
    files = appliance.portal_data / "repository" / "targets"
    if not (files / target).is_file():
        raise SystemExit(f"the published package is not at {files / target}")
    size = (files / target).stat().st_size
    crl = work / "bare-crl.pem"
    crl.write_bytes((appliance.run_dir / "crl.pem").read_bytes())
    bare_port = free_port()
    start_nginx(
        procs,
        "bare",
        work / "bare",
        BARE_FILES_CONF.format(
            run=work / "bare",
            port=bare_port,
            ciphers=CIPHERS,
            cert=appliance.public[0],
            key=appliance.public[1],
            client_ca=appliance.client_ca,
            crl=crl,
            files=files,
        ),
    )
    gateway_url = f"{appliance.public_url}/portal/v1/targets/{target}"
    bare_url = f"https://localhost:{bare_port}/{target}"
    for url in (gateway_url, bare_url):
        wait_until(lambda url=url: devices[0].status(url) == 200, what=url, timeout=20)
    appliance.wait_until_settled()
    setup_seconds = time.monotonic() - started
    reloads = appliance.reloads()
    fetches, statuses = measure_fetches(appliance, devices, etags)
    add_assignments(appliance, release["app_id"], MORE_ASSIGNMENTS)
    for device, etag in zip(devices, etags, strict=True):
        if desired_state(device)[0] != etag:
            raise SystemExit("assignments to other groups changed the devices' desired state")
    fetches_more, more_statuses = measure_fetches(appliance, devices, etags)
    lazy = lazy_in_process(appliance, devices)
    for status, count in more_statuses.items():
        statuses[status] = statuses.get(status, 0) + count
    load.append(os.getloadavg()[0])
    downloads = measure_downloads(
        appliance, devices, gateway_url, bare_url, work / "bare" / "nginx.pid", size
    )
    load.append(os.getloadavg()[0])
    if appliance.reloads() != reloads:
        raise SystemExit("the gateway reloaded nginx during the measurements; they are not comparable")
    return GatewayFigures(
        fetches, fetches_more, statuses, lazy, downloads, size, len(devices), setup_seconds, load
    )


def through_gateway() -> GatewayFigures:
    with tempfile.TemporaryDirectory(prefix="bench-portal-gateway-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        with Processes(work / "logs") as procs:
            try:
                return measure(work, procs)
            except BaseException:
                import sys

                for name in ("gateway", "portal", "mdm", "ca", "bare"):
                    tail = procs.log_tail(name, 15)
                    if tail:
                        print(f"--- {name} log ---\n{tail}", file=sys.stderr)
                raise


def median(runs: list[Run], value: str) -> float:
    return statistics.median(
        getattr(r, value) if value.endswith("cpu_us") else getattr(r.load, value) for r in runs
    )


if __name__ == "__main__":
    found = through_gateway()
    for name, both in (("fetches", found.fetches), ("fetches, more assignments", found.fetches_more)):
        for way, runs in (("gateway", both.gateway), ("portal", both.portal)):
            print(
                name, way, [(round(r.load.rps), round(r.portal_cpu_us), round(r.nginx_cpu_us)) for r in runs]
            )
    for name, runs in found.downloads.items():
        print(name, [(round(r.load.body_bytes_per_s / 1e6), round(r.nginx_cpu_us)) for r in runs])
    print(found.fetch_statuses, found.setup_seconds, found.load)
