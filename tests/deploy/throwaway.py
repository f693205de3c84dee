"""Throwaway bare Debian 12 hosts for deploy tests: system containers on this machine's Docker.

A developer's machine, and the CI machine, already run Docker from earlier deploys, so a deploy
tested there never meets a bare host. These hosts are: a debootstrapped *minbase* root file system
(no Python, no Docker, no iproute2; cached between runs), started as a system container in which a
Docker Engine of its own can run:

- `--privileged` fails on these machines ("unable to apply caps: operation not permitted": their
  capability bounding set lacks CAP_SYS_RESOURCE), so every capability but that one is added, and
  seccomp and AppArmor are off, as a privileged container would have them;
- `/var/lib/docker` is a volume of its own (overlay2 cannot stack on the container's overlay root);
- the host's cgroup file system, so the inner dockerd can make cgroups. The inner containers go
  under a cgroup parent named after the host (written into /etc/docker/daemon.json before the
  deploy, which keeps a site's own keys there), so removing the host leaves nothing behind;
- `--init`: the host has no init system (as the CI machine has none), and orphans must be reaped.

Several hosts can share one private Docker network (a multi-node deployment is tested that way);
each gets a name there. Tests reach a host only with `docker exec`, and traffic from the tests
goes only to the hosts' own addresses. Everything is removed afterwards, volumes included.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy import appliance

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: Part of the cache key: change it (or anything above) and the root file system is made again.
RECIPE = f"debootstrap --variant=minbase {SUITE} {MIRROR} v1"
CACHE = Path("/var/cache/govmobile/testhosts")
IMAGE_REPOSITORY = "govmobile-testhost"
LABEL = "govmobile.testhost"
#: What a repository checkout copies: what git tracks, without what deploys and tests make.
EXCLUDED = (".git", ".venv", ".cache", "secrets", "artifacts", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def docker(
    *args: str, input: bytes | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], input=input, capture_output=True, timeout=timeout, check=False)


def image() -> str:
    """The throwaway hosts' image, made from the cached root file system (debootstrapped once)."""
    key = hashlib.sha256(RECIPE.encode()).hexdigest()[:16]
    reference = f"{IMAGE_REPOSITORY}:{key}"
    if docker("image", "inspect", reference).returncode == 0:
        return reference
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs_tar = CACHE / f"rootfs-{key}.tar"
    if not rootfs_tar.exists():
        _debootstrap(rootfs_tar)
    imported = docker(
        "import",
        "--change", 'CMD ["/bin/sleep", "infinity"]',
        "--change", f"LABEL {LABEL}.recipe={key}",
        str(rootfs_tar), reference,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr.decode()
    return reference


def _debootstrap(out: Path) -> None:
    if shutil.which("debootstrap") is None:
        installed = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert installed.returncode == 0, installed.stderr
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".rootfs.") as work:
        rootfs = Path(work) / "rootfs"
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), MIRROR],
            capture_output=True, text=True, timeout=1200, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        # debootstrap's downloads, and the machine it ran on: Docker provides name and resolver.
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        (rootfs / "etc/hostname").write_text("")
        (rootfs / "etc/resolv.conf").write_text("")
        partial = Path(work) / "rootfs.tar"
        subprocess.run(
            ["tar", "-C", str(rootfs), "--numeric-owner", "--xattrs", "-cf", str(partial), "."], check=True
        )
        partial.rename(out)  # complete or absent: an interrupted run leaves no half-made cache


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Host:
    """One throwaway host: a name on the private network, reached only with `docker exec`."""

    name: str
    container: str
    network: str
    volume: str
    cgroup_parent: str
    cleanups: list[str] = field(default_factory=list)

    def run(
        self,
        command: str | Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 600,
        env: dict[str, str] | None = None,
        workdir: str = "/",
    ) -> Done:
        """Run a command (a shell script when given a string) on the host, as root."""
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        options = ["--interactive"] if input is not None else []
        for key, value in (env or {}).items():
            options += ["--env", f"{key}={value}"]
        done = subprocess.run(
            ["docker", "exec", *options, "--workdir", workdir, self.container, *argv],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def __call__(self, command: str | Sequence[str], **options: object) -> Done:
        """Like run, but the command must succeed."""
        done = self.run(command, **options)  # type: ignore[arg-type]
        assert done.returncode == 0, (
            f"{command!r} on {self.name} failed ({done.returncode}):\n{done.output[-4000:]}"
        )
        return done

    def put(self, source: Path, directory: str, *, name: str | None = None) -> str:
        """Copy a file from this machine into a directory of the host; its path there."""
        self(["mkdir", "-p", directory])
        copied = docker("cp", str(source), f"{self.container}:{directory}/{name or source.name}", timeout=900)
        assert copied.returncode == 0, copied.stderr.decode()
        return f"{directory}/{name or source.name}"

    def put_tree(self, files: dict[str, bytes | Path], directory: str) -> None:
        """Write files (relative path -> content or a file here) under a directory of the host."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for relative, content in sorted(files.items()):
                if isinstance(content, Path):
                    archive.add(str(content), arcname=relative, recursive=False)
                else:
                    info = tarfile.TarInfo(relative)
                    info.size, info.mode = len(content), 0o644
                    archive.addfile(info, io.BytesIO(content))
        self(["mkdir", "-p", directory])
        unpacked = docker("exec", "-i", self.container, "tar", "-x", "-C", directory, input=buffer.getvalue())
        assert unpacked.returncode == 0, unpacked.stderr.decode()

    def put_checkout(self, directory: str = "/root/govmobile") -> str:
        """This checkout's files (what git tracks and what is new, not what deploys made) on the
        host, as an operator's clone would have them."""
        listed = subprocess.run(
            ["git", "-C", str(appliance.ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
        files: dict[str, bytes | Path] = {}
        for relative in filter(None, listed.split("\0")):
            path = appliance.ROOT / relative
            if relative.split("/", 1)[0] not in EXCLUDED and path.is_file():
                files[relative] = path
        self.put_tree(files, directory)
        return directory

    def alive(self) -> bool:
        return docker("exec", self.container, "true").returncode == 0


@contextmanager
def hosts(*names: str, prefix: str = "gm-bare") -> Iterator[dict[str, Host]]:
    """Start bare hosts on one private network; remove them, their volumes and network after."""
    reference = image()
    run_id = secrets.token_hex(3)
    network = f"{prefix}-{run_id}"
    made = docker("network", "create", "--label", f"{LABEL}={run_id}", network)
    assert made.returncode == 0, made.stderr.decode()
    started: dict[str, Host] = {}
    try:
        for name in names:
            started[name] = _start(reference, name, network, run_id, prefix)
        yield started
    finally:
        for host in started.values():
            _remove(host)
        docker("network", "rm", network)


def _start(reference: str, name: str, network: str, run_id: str, prefix: str) -> Host:
    container = f"{prefix}-{run_id}-{name}"
    volume = f"{container}-docker"
    cgroup_parent = f"/{container}"
    docker("volume", "create", "--label", f"{LABEL}={run_id}", volume)
    started = docker(
        "run", "--detach", "--init", "--name", container, "--hostname", name,
        "--network", network, "--network-alias", name, "--label", f"{LABEL}={run_id}",
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--cgroupns", "host", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/tmp",
        "--volume", f"{volume}:/var/lib/docker",
        reference,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr.decode()
    host = Host(name, container, network, volume, cgroup_parent)
    deadline = time.monotonic() + 30
    while not host.alive():
        assert time.monotonic() < deadline, f"the throwaway host {container} did not start"
        time.sleep(0.1)
    # Inner containers under a cgroup of this host's own (see the module's docstring).
    host.put_tree({"daemon.json": json.dumps({"cgroup-parent": cgroup_parent}).encode()}, "/etc/docker")
    return host


def _remove(host: Host) -> None:
    docker("rm", "--force", "--volumes", host.container, timeout=120)
    docker("volume", "rm", "--force", host.volume, timeout=120)
    # The inner containers' cgroups (their processes died with the host's init): in each v1
    # hierarchy, or in the unified v2 one.
    name = host.cgroup_parent.lstrip("/")
    root = Path("/sys/fs/cgroup")
    for directory in [root / name, *root.glob(f"*/{name}")]:
        _rmdir_tree(directory)


def _rmdir_tree(directory: Path) -> None:
    """Remove a cgroup directory and the cgroups under it, deepest first."""
    if not directory.is_dir():
        return
    children = sorted(
        (p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    )
    for cgroup in [*children, directory]:
        deadline = time.monotonic() + 10
        while True:
            try:
                cgroup.rmdir()
                break
            except OSError:  # EBUSY while the last task leaves it
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
