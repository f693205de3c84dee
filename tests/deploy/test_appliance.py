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
    assert host.file(str(appliance.SECRETS / "pki" / "root.key")).mode == 0o600
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
