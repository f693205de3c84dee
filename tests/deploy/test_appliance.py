"""The deployed all-in-one, from the outside: containers, files, networks, ports and TLS."""

from __future__ import annotations

import re
import subprocess

import pytest
import testinfra

from tests.deploy import appliance

pytestmark = pytest.mark.deploy


def test_the_ca_runs_and_is_healthy(ca_container: dict) -> None:
    state = ca_container["State"]
    assert state["Running"], state
    assert state["Health"]["Status"] == "healthy", state["Health"]["Log"][-1:]
    assert ca_container["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_the_ca_runs_as_a_non_root_user_without_capabilities(
    ca_container: dict, host: testinfra.host.Host
) -> None:
    config, host_config = ca_container["Config"], ca_container["HostConfig"]
    assert config["User"] == f"{appliance.SERVICE_UID}:{appliance.SERVICE_UID}"
    assert host_config["CapDrop"] == ["ALL"]
    assert not host_config["CapAdd"]
    assert not host_config["Privileged"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert host_config["Memory"] > 0
    assert host_config["PidsLimit"] > 0
    assert host_config["Init"] is True
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "govmobile-healthcheck"]
    # What the kernel says about the processes, not only what Docker was asked for.
    pids = host.check_output(f"docker top {appliance.CA_CONTAINER} -eo pid").split()[1:]
    assert pids
    for pid in pids:
        status = host.file(f"/proc/{pid}/status").content_string
        assert re.search(rf"^Uid:\s+{appliance.SERVICE_UID}\s", status, re.M), status
        assert re.search(r"^CapEff:\s+0+$", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status


def test_the_ca_root_file_system_is_read_only(ca_container: dict) -> None:
    assert ca_container["HostConfig"]["ReadonlyRootfs"] is True
    attempt = subprocess.run(
        ["docker", "exec", appliance.CA_CONTAINER, "touch", "/opt/govmobile/written"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert attempt.returncode != 0
    assert "Read-only file system" in attempt.stderr
    # The writable places are the declared ones: the database volume and a tmpfs.
    writable = {m["Destination"] for m in ca_container["Mounts"] if m["RW"]}
    assert writable == {"/var/lib/govmobile/data"}
    assert set(ca_container["HostConfig"]["Tmpfs"]) == {"/tmp"}


def test_the_ca_volume_is_read_only_for_the_server(ca_container: dict) -> None:
    mounts = {m["Destination"]: m for m in ca_container["Mounts"]}
    assert mounts["/var/lib/govmobile/ca"]["Type"] == "volume"
    assert mounts["/var/lib/govmobile/ca"]["RW"] is False
    for path in ("/etc/govmobile/tls", "/run/secrets", "/etc/govmobile/trust"):
        assert mounts[path]["Type"] == "bind"
        assert mounts[path]["RW"] is False


def test_nothing_of_the_ca_is_published(ca_container: dict, host: testinfra.host.Host) -> None:
    assert not ca_container["HostConfig"]["PortBindings"]
    assert not ca_container["NetworkSettings"]["Ports"] or all(
        not bindings for bindings in ca_container["NetworkSettings"]["Ports"].values()
    )
    assert host.check_output(f"docker port {appliance.CA_CONTAINER}") == ""
    assert not host.socket(f"tcp://0.0.0.0:{appliance.CA_PORT}").is_listening
    assert not host.socket(f"tcp://127.0.0.1:{appliance.CA_PORT}").is_listening


def test_the_ca_is_on_the_internal_network_only(ca_container: dict) -> None:
    networks = ca_container["NetworkSettings"]["Networks"]
    assert set(networks) == {"govmobile-internal"}
    assert appliance.CA_NAME in networks["govmobile-internal"]["Aliases"]
    assert appliance.inspect("network", "govmobile-internal")["Internal"] is True
    assert appliance.inspect("network", "govmobile-dmz")["Internal"] is False


def test_the_containers_logs_are_rotated(ca_container: dict) -> None:
    log = ca_container["HostConfig"]["LogConfig"]
    assert log["Type"] == "json-file"
    assert log["Config"]["max-size"] == "10m"


def test_the_image_is_local_and_tagged_by_version_and_content(ca_container: dict) -> None:
    tag = ca_container["Config"]["Image"]
    assert re.fullmatch(r"govmobile/app:\d+\.\d+\.\d+[^-]*-[0-9a-f]{12}", tag), tag
    image = appliance.inspect("image", tag)
    assert image["Config"]["Labels"]["govmobile.ref"] == tag
    assert image["Config"]["User"] == f"{appliance.SERVICE_UID}:{appliance.SERVICE_UID}"
    assert not image["RepoDigests"], "a local build has no registry digest"


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/govmobile/ca/tls/server.key", 0o600),
        ("/etc/govmobile/ca/secrets/govmobile_ca_ra_secrets", 0o400),
        ("/etc/govmobile/ca/secrets/govmobile_ca_key_passphrase", 0o400),
        ("/etc/govmobile/ca/secrets/govmobile_ca_database_url", 0o400),
    ],
)
def test_host_key_and_secret_files_belong_to_the_service_user(
    host: testinfra.host.Host, path: str, mode: int
) -> None:
    secret = host.file(path)
    assert secret.is_file
    assert secret.mode == mode
    assert secret.uid == appliance.SERVICE_UID
    assert secret.gid == appliance.SERVICE_UID
    # Its directory lets the service read, not write, and others nothing.
    directory = host.file(str(secret.path).rsplit("/", 1)[0])
    assert directory.uid == 0
    assert directory.mode == 0o750


def test_the_issuing_key_is_0600_encrypted_and_in_the_ca_volume_only(host: testinfra.host.Host) -> None:
    volume = appliance.inspect("volume", "govmobile_ca")["Mountpoint"]
    key = host.file(f"{volume}/issuing.key")
    assert key.mode == 0o600
    assert key.uid == appliance.SERVICE_UID
    assert "BEGIN ENCRYPTED PRIVATE KEY" in key.content_string
    assert host.file(volume).mode == 0o700
    # The root key stays in the controller's secrets: not in the volumes, nor the host's configuration.
    for place in (
        volume,
        appliance.inspect("volume", "govmobile_data")["Mountpoint"],
        "/etc/govmobile",
        "/var/lib/govmobile",
    ):
        assert host.run(f"find {place} -name 'root*.key'").stdout == "", place


def test_the_controller_secrets_are_private(host: testinfra.host.Host) -> None:
    assert host.file(str(appliance.SECRETS)).mode == 0o700
    # The root key and its passphrase may be kept off the controller (a restore leaves them out).
    for private in ("pki/root.key", "pki/root-key-passphrase", "backup-key.txt"):
        if (appliance.SECRETS / private).exists():
            assert host.file(str(appliance.SECRETS / private)).mode == 0o600, private
    if (appliance.SECRETS / "pki" / "root.key").exists():
        # PKCS#8 with PBES2, never the traditional PEM encryption (one round of MD5).
        first_line = (appliance.SECRETS / "pki" / "root.key").read_text().splitlines()[0]
        assert first_line == "-----BEGIN ENCRYPTED PRIVATE KEY-----"
    for secret in (appliance.SECRETS / "ca").iterdir():
        assert host.file(str(secret)).mode == 0o600, secret
    ignored = subprocess.run(
        ["git", "-C", str(appliance.ROOT), "check-ignore", "-q", str(appliance.SECRETS / "pki" / "root.key")],
        check=False,
    )
    assert ignored.returncode == 0, "git must ignore the controller secrets"


def test_the_ca_answers_over_tls_with_a_chain_to_the_controllers_root() -> None:
    handshake = subprocess.run(
        [
            "openssl", "s_client", "-connect", f"{appliance.ca_address()}:{appliance.CA_PORT}",
            "-servername", appliance.CA_NAME, "-verify_hostname", appliance.CA_NAME,
            "-CAfile", str(appliance.ROOT_CERTIFICATE), "-verify_return_error", "-showcerts",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    assert handshake.returncode == 0, handshake.stdout + handshake.stderr
    assert "Verify return code: 0 (ok)" in handshake.stdout
    health = appliance.curl_ca("/healthz")
    assert health.returncode == 0, health.stderr
    assert b'"ok"' in health.stdout


def test_the_ca_publishes_the_controllers_root_and_a_constrained_issuing_ca() -> None:
    root = appliance.curl_ca("/pki/root.crt")
    assert root.stdout.strip() == appliance.ROOT_CERTIFICATE.read_bytes().strip()
    chain = appliance.curl_ca("/pki/chain.pem").stdout.decode()
    issuing = chain[: chain.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text"], input=issuing, capture_output=True, text=True, check=True
    ).stdout
    assert "pathlen:0" in text
    assert re.search(r"Permitted:\s+DNS:govmobile\.internal", text), text


def test_the_trust_bundle_is_in_the_container() -> None:
    inside = subprocess.run(
        ["docker", "exec", appliance.CA_CONTAINER, "cat", "/etc/govmobile/trust/root.crt"],
        capture_output=True,
        check=True,
    ).stdout
    assert inside == appliance.ROOT_CERTIFICATE.read_bytes()


def test_check_reports_a_healthy_appliance() -> None:
    result = appliance.govmobile("check", extra=False)
    assert result.returncode == 0, result.output[-3000:]
    assert result.recap()["changed"] == 0


# -- every service container: the MDM, the gateway and the demo office app like the CA ----------

# Container -> (networks, writable mounts, tmpfs mounts, published "address:port" on the host).
SERVICES = {
    appliance.CA_CONTAINER: ({"govmobile-internal"}, {"/var/lib/govmobile/data"}, {"/tmp"}, set()),
    appliance.MDM_CONTAINER: ({"govmobile-internal"}, {"/var/lib/govmobile/data"}, {"/tmp"}, set()),
    appliance.GATEWAY_CONTAINER: (
        {"govmobile-dmz", "govmobile-internal", "govmobile-intranet"},
        {"/var/lib/govmobile/data", "/var/lib/govmobile/gateway-keys"},
        {"/tmp", "/run/gateway"},
        {"127.0.0.1:443", "127.0.0.1:8443"},
    ),
    appliance.OFFICE_CONTAINER: ({"govmobile-intranet"}, set(), {"/tmp"}, set()),
    # Its volume (the TUF repository and uploads) is the gateway's too, read-only there.
    appliance.PORTAL_CONTAINER: (
        {"govmobile-internal"},
        {"/var/lib/govmobile/data", "/var/lib/govmobile/portal"},
        {"/tmp"},
        set(),
    ),
}


@pytest.fixture(params=sorted(SERVICES), scope="module")
def service(request: pytest.FixtureRequest) -> tuple[str, dict]:
    container = appliance.inspect("container", request.param)
    if not container:
        pytest.fail(f"{request.param} does not exist: deploy first (./govmobile deploy)")
    return request.param, container


def test_every_service_runs_healthy_hardened_and_as_the_service_user(
    service: tuple[str, dict], host: testinfra.host.Host
) -> None:
    name, container = service
    state, config, host_config = container["State"], container["Config"], container["HostConfig"]
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy", state.get("Health", {}).get("Log", [])[-1:]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert config["User"] == f"{appliance.SERVICE_UID}:{appliance.SERVICE_UID}"
    assert host_config["CapDrop"] == ["ALL"]
    assert not host_config["CapAdd"]
    assert not host_config["Privileged"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["Memory"] > 0
    assert host_config["Memory"] == host_config["MemorySwap"]
    assert host_config["PidsLimit"] > 0
    assert host_config["Init"] is True
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "govmobile-healthcheck"]
    assert host_config["LogConfig"]["Config"]["max-size"] == "10m"
    # What the kernel says about every process (nginx's master and workers included).
    pids = host.check_output(f"docker top {name} -eo pid").split()[1:]
    assert str(state["Pid"]) in pids
    read = 0
    for pid in pids:
        read_status = host.run(f"cat -- /proc/{pid}/status")
        if read_status.rc != 0:
            # A process can end between `docker top` and the read: the health check that Docker
            # execs every few seconds is one. Only a process that has gone may be skipped.
            assert not host.file(f"/proc/{pid}").exists, read_status.stderr
            continue
        status = read_status.stdout
        read += 1
        assert re.search(rf"^Uid:\s+{appliance.SERVICE_UID}\s", status, re.M), (name, status)
        assert re.search(r"^CapEff:\s+0+$", status, re.M), (name, status)
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), (name, status)
    assert read >= 2, (name, pids)  # docker-init and the service itself, at least
    write = subprocess.run(["docker", "exec", name, "touch", "/opt/govmobile/written"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr


def test_every_service_has_only_its_declared_networks_mounts_and_ports(service: tuple[str, dict]) -> None:
    name, container = service
    networks, writable, tmpfs, published = SERVICES[name]
    assert set(container["NetworkSettings"]["Networks"]) == networks
    assert {m["Destination"] for m in container["Mounts"] if m["RW"]} == writable
    assert set(container["HostConfig"]["Tmpfs"]) == tmpfs
    bound = {
        f"{b['HostIp']}:{b['HostPort']}"
        for bindings in (container["NetworkSettings"]["Ports"] or {}).values()
        for b in bindings or []
    }
    assert bound == published


def test_only_the_gateway_listens_on_the_host_on_443_and_8443(host: testinfra.host.Host) -> None:
    assert host.socket("tcp://127.0.0.1:443").is_listening
    assert host.socket("tcp://127.0.0.1:8443").is_listening
    for port in (8001, 8002, 8004, 8005, 8080, 9443):
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening, port
        assert not host.socket(f"tcp://127.0.0.1:{port}").is_listening, port
    # The internal and intranet networks have no route out of the host.
    assert appliance.inspect("network", "govmobile-intranet")["Internal"] is True


def test_the_gateway_runs_nginx_under_its_control_plane_as_the_service_user(
    host: testinfra.host.Host,
) -> None:
    # docker top needs the pid column in its ps options.
    processes = host.check_output(f"docker top {appliance.GATEWAY_CONTAINER} -eo pid,uid,args")
    assert "govmobile-gateway run" in processes
    assert "nginx: master process" in processes
    assert "nginx: worker process" in processes
    assert all(line.split()[1] == str(appliance.SERVICE_UID) for line in processes.splitlines()[1:])
    keys = appliance.inspect("volume", "govmobile_gateway_keys")["Mountpoint"]
    assert host.file(keys).mode == 0o700
    assert host.file(keys).uid == appliance.SERVICE_UID
    assert host.run(f"find {keys} -type f").stdout.strip(), "no assertion signing key in the volume"


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/govmobile/mdm/tls/server.key", 0o600),
        ("/etc/govmobile/mdm/secrets/govmobile_mdm_ca_ra_secret", 0o400),
        ("/etc/govmobile/mdm/secrets/govmobile_mdm_gateway_secret", 0o400),
        ("/etc/govmobile/mdm/secrets/govmobile_mdm_database_url", 0o400),
        ("/etc/govmobile/mdm/bootstrap/admin-password", 0o400),
        ("/etc/govmobile/gateway/public/server.key", 0o600),
        ("/etc/govmobile/gateway/management/server.key", 0o600),
        ("/etc/govmobile/gateway/secrets/govmobile_gateway_gateway_secret", 0o400),
        ("/etc/govmobile/gateway/secrets/govmobile_gateway_database_url", 0o400),
        ("/etc/govmobile/portal/tls/server.key", 0o600),
        ("/etc/govmobile/portal/secrets/govmobile_portal_gateway_secret", 0o400),
        ("/etc/govmobile/portal/secrets/govmobile_portal_database_url", 0o400),
        ("/etc/govmobile/portal/secrets/portal/timestamp.pem", 0o400),
        ("/etc/govmobile/portal/secrets/portal/desired-state.pem", 0o400),
    ],
)
def test_the_new_services_key_and_secret_files_belong_to_the_service_user(
    host: testinfra.host.Host, path: str, mode: int
) -> None:
    test_host_key_and_secret_files_belong_to_the_service_user(host, path, mode)


def test_no_secret_is_in_any_containers_configuration() -> None:
    """Secrets reach containers as files only: `docker inspect` (environment, labels, command)
    shows none of the generated secrets."""
    values = [
        path.read_text().strip()
        for path in appliance.SECRETS.rglob("*")
        if path.is_file() and path.parent.name in {"ca", "mdm", "gateway", "portal", "online"}
    ]
    assert len(values) >= 5, values and "expected the RA, gateway, admin and passphrase secrets"
    for name in SERVICES:
        inspected = appliance.docker("inspect", name)
        for value in values:
            assert value not in inspected, f"a generated secret is in `docker inspect {name}`"


def test_the_gateway_enforces_the_roots_crl_and_verifies_against_the_chain(host: testinfra.host.Host) -> None:
    crl = host.file("/etc/govmobile/gateway/pki/root-crl.pem").content_string
    text = subprocess.run(["openssl", "crl", "-noout", "-issuer", "-nextupdate"], input=crl,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "GovMobile Root CA" in text
    bundle = host.file("/etc/govmobile/gateway/pki/client-ca.pem").content_string
    assert bundle.count("BEGIN CERTIFICATE") == 2
    assert bundle.strip().endswith(appliance.ROOT_CERTIFICATE.read_text().strip())
    # The public listener: TLS for the public name, verified against the controller's root, and
    # a client certificate asked for.
    handshake = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", "govmobile.localhost",
         "-verify_hostname", "govmobile.localhost", "-CAfile", str(appliance.ROOT_CERTIFICATE),
         "-verify_return_error"],
        input="", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert handshake.returncode == 0, handshake.stdout + handshake.stderr
    assert "Acceptable client certificate CA names" in handshake.stdout
    # A name the gateway does not serve gets no handshake at all.
    other = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", "elsewhere.example"],
        input="", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert other.returncode != 0


def test_the_gateway_answers_devices_and_admins_on_their_own_listeners() -> None:
    root = str(appliance.ROOT_CERTIFICATE)
    jwks = subprocess.run(["curl", "-fsS", "--cacert", root, "https://govmobile.localhost/.well-known/jwks.json"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert jwks.returncode == 0, jwks.stderr
    assert '"kty":"EC"' in jwks.stdout.replace(" ", "")
    # Without a certificate, the device API is refused before it reaches the MDM.
    checkin = subprocess.run(
        ["curl", "-sS", "--cacert", root, "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
         "https://govmobile.localhost/api/v1/device/checkin"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checkin.stdout == "401"
    # The management listener answers on the management address, with a certificate for it.
    health = subprocess.run(["curl", "-fsS", "--cacert", root, "https://127.0.0.1:8443/healthz"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert health.returncode == 0, health.stderr
    # The admin API is not on the public listener.
    public_admin = subprocess.run(
        ["curl", "-sS", "--cacert", root, "-o", "/dev/null", "-w", "%{http_code}",
         "https://govmobile.localhost/api/v1/tenants"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert public_admin.stdout in {"401", "404"}


def test_the_public_name_resolves_on_this_host(host: testinfra.host.Host) -> None:
    assert host.addr("govmobile.localhost").ipv4_addresses == ["127.0.0.1"]
    assert "# govmobile aio: the gateway's public name" in host.file("/etc/hosts").content_string
