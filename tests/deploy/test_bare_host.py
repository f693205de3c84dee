"""The README's first command on a bare Debian 12 host: a throwaway one, air-gapped for Python.

One scenario on one throwaway host (tests/deploy/throwaway.py), in order, as a new site lives it:

1. The prechecks on a host with nothing but a minimal Debian: they pass, and still refuse what
   they must (an unsupported OS, too little memory, a port another program holds, a bad
   inventory). Then with a stray `docker` client on the PATH and no engine: they pass.
2. No package source reachable: the deploy stops with one line, and nothing changed.
3. A deploy interrupted while dpkg installs Docker Engine: the next run converges.
4. That run is `./govmobile deploy --bundle FILE` (the bundle `./govmobile bundle` made on this
   machine): images loaded, nothing built, nothing from a package index.
5. The real clients on the host: govmobile-admin sets up a department and the demo app; the
   device agent enrolls pinning the root, opens the app through the gateway, and is refused as
   soon as an admin locks it.
6. A second deploy changes nothing.
7. Docker Engine killed uncleanly (stale socket and pid file): the prechecks pass; an engine that
   cannot come up stops the deploy within a bounded time, saying why; once fixed, the deploy
   starts it and keeps the containers; with the engine running, the prechecks pass.

A second bare host beside it takes the network path at the same time: `./govmobile deploy` with
no bundle, so its controller environment comes from PyPI, its base images are debootstrapped from
the Debian mirror and its wheelhouse is downloaded, and then the same device steps pass there.
It is given the package access this machine has, and no more: this machine's CA bundle, because
PyPI is reached through a TLS-inspecting egress proxy that only this machine trusts. Docker
Engine's packages come from the Debian mirror on both hosts (README: what a site with no mirror
at all needs).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import appliance, throwaway

# Each step deploys or runs the prechecks on a host where everything is slower (nested Docker).
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1800)]

REPO = "/root/govmobile"
VENV_BIN = f"{REPO}/.venv/bin"
DPKG_HELD = "/run/govmobile-test-dpkg-held"
#: A dpkg hook (test scaffolding only) that holds dpkg once Docker Engine is unpacked but before it
#: is configured, so that the deploy can be killed at exactly that point, every time.
DPKG_HOLD_HOOK = (
    "pre-invoke=[ \"$(dpkg-query -W -f='${db:Status-Status}' docker.io 2>/dev/null)\" = unpacked ] "
    f"&& touch {DPKG_HELD} && sleep 3600 || true\n"
)
#: APT through a proxy that nothing answers: its package lists stay valid, downloads fail.
NO_MIRROR = 'Acquire::http::Proxy "http://127.0.0.1:9/";\n'


def changed(run: appliance.Run, task: str) -> bool:
    """Whether the task (role : name) reported changed in the run."""
    return any(line.startswith(f"TASK [{task}]") for line in run.changed_tasks())


class Site:
    """The throwaway host as its operator sees it: a clone of this repository and a bundle."""

    def __init__(self, host: throwaway.Host, bundle: str) -> None:
        self.host = host
        self.bundle = bundle

    def govmobile(self, *args: str, timeout: float = 1800) -> appliance.Run:
        done = self.host.run(
            ["./govmobile", *args], workdir=REPO, timeout=timeout, env={"ANSIBLE_NOCOLOR": "1"}
        )
        return appliance.Run(done.returncode, done.output)

    def refused(self, verb: str, *args: str) -> str:
        """Run a verb that must fail before changing anything; its output on one line."""
        run = self.govmobile(verb, "--bundle", self.bundle, *args)
        assert run.returncode != 0, run.output[-3000:]
        assert run.recap()["changed"] == 0, run.changed_tasks()
        return " ".join(run.output.split())

    def passed(self, verb: str, *args: str) -> appliance.Run:
        run = self.govmobile(verb, "--bundle", self.bundle, *args)
        assert run.returncode == 0, run.output[-5000:]
        return run

    def docker_installed(self) -> bool:
        return self.host.run(["sh", "-c", "command -v dockerd"]).returncode == 0

    def containers(self) -> dict[str, str]:
        """Name -> start time of the deployment's containers (the host's own Docker)."""
        names = self.host(["docker", "ps", "-a", "--filter", "label=govmobile.deployment=aio",
                           "--format", "{{.Names}}"]).stdout.split()  # fmt: skip
        started = {}
        for name in names:
            state = json.loads(self.host(["docker", "inspect", "--format", "{{json .State}}", name]).stdout)
            started[name] = state["StartedAt"]
        return started


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, throwaway.Host]]:
    with throwaway.hosts("site", "net") as started:
        yield started


@pytest.fixture(scope="module")
def net(hosts: dict[str, throwaway.Host]) -> throwaway.Host:
    """The network-path host: its deploy starts at once and runs while the other host is tested."""
    host = hosts["net"]
    host.put_checkout(REPO)
    cafile = ssl.get_default_verify_paths().cafile
    assert cafile, "this machine has no CA bundle"
    host.put_tree(
        {
            "package-ca.pem": Path(cafile),
            "pip.conf": b"[global]\ncert = /etc/govmobile-test/package-ca.pem\n",
        },
        "/etc/govmobile-test",
    )
    host(["ln", "-s", "/etc/govmobile-test/pip.conf", "/etc/pip.conf"])
    host(
        "setsid sh -c './govmobile deploy > /root/deploy.log 2>&1; echo $? > /root/deploy.rc' </dev/null >/dev/null 2>&1 &",
        workdir=REPO,
        env={"ANSIBLE_NOCOLOR": "1"},
    )
    return host


@pytest.fixture(scope="module")
def site(hosts: dict[str, throwaway.Host], net: throwaway.Host) -> Site:
    bundle = appliance.govmobile("bundle")
    assert bundle.returncode == 0, bundle.output[-4000:]
    found = re.search(r"Bundle: (\S+\.tar\.gz)\.", " ".join(bundle.output.split()))
    assert found, bundle.output[-2000:]
    host = hosts["site"]
    host.put_checkout(REPO)
    return Site(host, host.put(Path(found[1]), "/root"))


def test_prechecks_on_a_bare_host_pass_and_still_refuse(site: Site) -> None:
    assert not site.docker_installed()
    assert site.host.run(["sh", "-c", "command -v python3 || command -v ss"]).returncode != 0, (
        "not a bare host"
    )

    # Nothing but Debian: the first command makes the controller's environment from the bundle.
    run = site.passed("precheck")
    assert "Docker Engine is not installed: the deploy installs docker.io" in " ".join(run.output.split())

    # What they refused before, they refuse on a bare host too, each in one clear line.
    said = site.refused("precheck", "-e", json.dumps({"docker_host_supported_os": {"Plan9": "4"}}))
    assert "is not supported: GovMobile runs on Plan9 4" in said
    said = site.refused("precheck", "-e", json.dumps({"docker_host_min_memory_mb": 100_000_000}))
    assert "GovMobile needs at least 100000000 MiB" in said
    site.host(
        f"cd {REPO} && sed '/govmobile_public_hostname:/d' inventory/all-in-one.yml > /root/incomplete.yml"
    )
    said = site.refused("precheck", "-i", "/root/incomplete.yml")
    assert "govmobile_public_hostname (DNS name: MISSING)" in said

    # Another program on the devices' port: named, with its pid.
    site.host.run(
        'setsid python3 -c \'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 443)); '
        "s.listen(); time.sleep(3600)' </dev/null >/dev/null 2>&1 & echo $! > /run/squatter"
    )
    try:
        deadline = time.monotonic() + 20
        while "0100007F:01BB" not in site.host(["cat", "/proc/net/tcp"]).stdout:  # 127.0.0.1:443
            assert time.monotonic() < deadline, "the squatter did not listen"
            time.sleep(0.1)
        said = site.refused("precheck")
        assert "port 443 on 127.0.0.1 is already taken by another program (python3, pid" in said
    finally:
        site.host("kill $(cat /run/squatter)")

    # A docker client alone on the PATH (these machines ship one) is not an engine.
    client = shutil.which("docker")
    assert client, "no docker client on this machine"
    site.host.put(Path(client), "/usr/local/bin", name="docker")
    run = site.passed("precheck")
    assert "Docker Engine is not installed (a docker client alone is on the PATH)" in " ".join(
        run.output.split()
    )
    assert not site.docker_installed()


def test_without_a_package_source_the_deploy_stops_and_changes_nothing(site: Site) -> None:
    site.host.put_tree({"99govmobile-test-no-mirror": NO_MIRROR.encode()}, "/etc/apt/apt.conf.d")
    try:
        # The package lists are fresh (the prechecks read them): the install itself fails.
        said = site.refused("deploy")
        assert re.search(
            r"docker\.io python3-requests python3-cryptography could not be installed from the package sources "
            r"\(.*\): make a Debian mirror reachable in /etc/apt/sources.list", said
        ), said[-3000:]  # fmt: skip
        # With no package lists either, the prechecks say so before anything else.
        site.host("rm -rf /var/lib/apt/lists/*")
        said = site.refused("precheck")
        assert "Docker Engine is not installed, and the package sources cannot be read" in said, said[-3000:]
    finally:
        site.host(["rm", "/etc/apt/apt.conf.d/99govmobile-test-no-mirror"])
    assert not site.docker_installed()
    assert site.host.run(["test", "-e", "/etc/docker/daemon.json.dpkg-new"]).returncode != 0
    assert site.host(["ls", "/var/lib"]).stdout.split().count("govmobile") == 0


def test_a_deploy_killed_inside_dpkg_converges_from_the_bundle(site: Site) -> None:
    site.host.put_tree({"zz-govmobile-test-hold": DPKG_HOLD_HOOK.encode()}, "/etc/dpkg/dpkg.cfg.d")
    site.host(
        f"setsid ./govmobile deploy --bundle {site.bundle} </dev/null >/root/killed-deploy.log 2>&1 "
        "& echo $! > /run/killed-deploy",
        workdir=REPO,
    )
    deadline = time.monotonic() + 600
    while site.host.run(["test", "-e", DPKG_HELD]).returncode != 0:
        assert time.monotonic() < deadline, site.host(["tail", "-50", "/root/killed-deploy.log"]).stdout
        time.sleep(0.5)
    site.host(
        "kill -9 -$(cat /run/killed-deploy)"
    )  # Ansible and what it started, but APT runs dpkg in a session of its own
    site.host(["rm", "-f", "/etc/dpkg/dpkg.cfg.d/zz-govmobile-test-hold", DPKG_HELD])
    assert "docker.io" in site.host(["dpkg", "--audit"]).stdout  # unpacked, never configured

    # The orphaned dpkg still holds its lock: a deploy now waits for it, then says so.
    run = site.govmobile("deploy", "--bundle", site.bundle, "-e", "docker_host_dpkg_lock_timeout=4")
    said = " ".join(run.output.split())
    assert run.returncode != 0
    assert (
        "another program holds the package manager's lock (dpkg: error: dpkg frontend lock was locked by another process with pid"
        in said
    ), said[-3000:]

    # The host goes down (every package manager process dies); the next deploy converges.
    site.host(
        'for d in /proc/[0-9]*; do [ "${d#/proc/}" = "$$" ] && continue; '
        "case \"$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)\" in *dpkg*|*apt*|*'sleep 3600'*) kill -9 ${d#/proc/} ;; esac; "
        "done; true"
    )
    run = site.passed("deploy")
    assert changed(run, "docker_host : Finish the package installation that an interrupted run left behind")
    assert changed(run, "images : Load the bundle's images")
    assert "TASK [images : Debootstrap" not in run.output
    assert "TASK [images : Build the image]" not in run.output
    assert site.host(["dpkg", "--audit"]).stdout.strip() == ""
    assert sorted(site.containers()) == [
        "govmobile-ca", "govmobile-gateway", "govmobile-mdm", "govmobile-office-app", "govmobile-portal"
    ]  # fmt: skip


def test_a_device_enrolls_opens_the_demo_app_and_is_refused_once_locked(site: Site) -> None:
    enroll_open_lock(site.host)


def enroll_open_lock(host: throwaway.Host) -> None:
    """On the host, with its real clients: an admin sets up a department and the demo app as a
    route; the device agent enrolls pinning the root, opens the app, and is refused once locked."""
    path = {"PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

    def admin(*args: str, stdin: str | None = None) -> str:
        return host(["govmobile-admin", *args], input=stdin, env=path, workdir=REPO).stdout

    def device(*args: str) -> throwaway.Done:
        return host.run(["govmobile-device", "--state", "/root/tablet", "--timeout", "20", *args], env=path)

    password = host(["cat", f"{REPO}/secrets/aio/mdm/admin-password"]).stdout
    admin("login", "--server", "https://127.0.0.1:8443", "--ca-file", "secrets/aio/pki/root.crt",
          "--username", "admin", "--password-stdin", stdin=password)  # fmt: skip
    admin("tenant", "create", "flood-office", "--name", "Flood Office")
    admin("person", "create", "li.wei", "--tenant", "flood-office", "--name", "Li Wei")
    admin("group", "create", "inspectors", "--tenant", "flood-office")
    admin("group", "add-member", "inspectors", "li.wei", "--tenant", "flood-office")
    admin("route", "create", "--name", "oa", "--upstream", "http://office-app:8080",
          "--tenant", "flood-office", "--group", "inspectors")  # fmt: skip
    token = json.loads(admin("token", "create", "--tenant", "flood-office", "--person", "li.wei",
                             "--group", "inspectors", "--json"))  # fmt: skip
    assert "ca_sha256=" in token["qr_payload"]  # the agent pins the deployment's root by it

    enrolled = device("enroll", "--qr", token["qr_payload"])
    assert enrolled.returncode == 0, enrolled.output
    assert "active, compliant" in device("checkin").stdout
    opened = device("open", "/apps/oa/whoami")
    assert opened.returncode == 0, opened.output
    device_id = json.loads(device("status", "--json").stdout)["device_id"]
    assert json.loads(opened.stdout) == {
        "user": "li.wei", "groups": ["inspectors"], "device_id": device_id, "tenant": "flood-office"
    }  # fmt: skip

    # Locked by its administrator: the gateway refuses it without the device ever checking in.
    admin("command", "send", device_id, "lock", "--message", "Lost? Call the IT desk")
    deadline = time.monotonic() + 5
    while (refused := device("open", "/apps/oa/whoami")).returncode == 0:
        assert time.monotonic() < deadline, "the locked device was not refused within 5 s"
        time.sleep(0.2)
    assert "device_locked" in refused.stderr, refused.output


def test_a_second_deploy_changes_nothing(site: Site) -> None:
    before = site.containers()
    run = site.passed("deploy")
    assert run.recap()["changed"] == 0, run.changed_tasks()
    assert site.containers() == before


def test_an_engine_killed_uncleanly_is_started_again_and_the_prechecks_pass(site: Site) -> None:
    before = site.containers()
    kill_the_engine(site)
    assert site.host.run(["test", "-S", "/var/run/docker.sock"]).returncode == 0  # stale socket

    run = site.passed("precheck")
    assert "but does not answer on /var/run/docker.sock: the deploy starts it" in " ".join(run.output.split())

    # An engine that cannot come up (here: a storage driver that does not exist) stops the deploy
    # within the bounded wait, with the cause from dockerd's own log.
    daemon_json = json.loads(site.host(["cat", "/etc/docker/daemon.json"]).stdout)
    broken = {**daemon_json, "storage-driver": "govmobile-test-nonexistent"}
    site.host.put_tree({"daemon.json": json.dumps(broken).encode()}, "/etc/docker")
    run = site.govmobile("deploy", "--bundle", site.bundle, "-e", "docker_host_start_timeout=20")
    said = " ".join(run.output.split())
    assert run.returncode != 0
    assert "Docker Engine did not answer on /var/run/docker.sock within 20 s of being started" in said, said[
        -3000:
    ]
    assert "graphdriver" in said, said[-3000:]  # dockerd's own words: the storage driver
    assert "fix what /var/log/govmobile/dockerd.log reports, then deploy again" in said

    # Fixed by the operator: the next deploy converges; live-restore kept the containers running.
    site.host.put_tree({"daemon.json": json.dumps(daemon_json).encode()}, "/etc/docker")
    run = site.passed("deploy")
    assert site.containers() == before

    run = site.passed("precheck")
    assert re.search(r"Docker Engine [0-9.]+\S* runs here: it is used as it is", " ".join(run.output.split()))


def kill_the_engine(site: Site) -> None:
    """The supervisor, then dockerd, die as in a crash (no init system here to restart them)."""
    site.host("kill -9 $(cat /run/govmobile-dockerd-supervisor.pid) $(cat /var/run/docker.pid)")
    deadline = time.monotonic() + 30
    while site.host.run(["sh", "-c", "kill -0 $(cat /var/run/docker.pid)"]).returncode == 0:
        assert time.monotonic() < deadline, "dockerd did not die"
        time.sleep(0.1)


def test_the_network_path_deploys_from_the_package_indexes(net: throwaway.Host) -> None:
    deadline = time.monotonic() + 1500
    while net.run(["test", "-e", "/root/deploy.rc"]).returncode != 0:
        assert time.monotonic() < deadline, net(["tail", "-60", "/root/deploy.log"]).stdout
        time.sleep(5)
    log = net(["cat", "/root/deploy.log"]).stdout
    assert net(["cat", "/root/deploy.rc"]).stdout.strip() == "0", log[-5000:]
    deployed = appliance.Run(0, log)
    # Made here from the network: base images debootstrapped, wheels downloaded, images built.
    assert any(
        task.startswith("TASK [images : Debootstrap the root file system of")
        for task in deployed.changed_tasks()
    )
    assert any(task.startswith("TASK [images : Build the image]") for task in deployed.changed_tasks())
    assert "Load the bundle's images" not in log
    enroll_open_lock(net)
