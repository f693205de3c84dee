"""``govmobile-device``: the device agent's command line (docs/device-agent.md).

Configuration is read here and only here (options, then ``GOVMOBILE_DEVICE_*`` environment
variables) and handed to constructors. Every failure the agent knows about is printed as one
line on stderr with its exit code (errors.py); a bug prints a short note instead of a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from govmobile_device import __version__, pki
from govmobile_device.agent import Agent, Backoff, utcnow
from govmobile_device.crypto import Cipher
from govmobile_device.enrollment import (
    EnrollmentOffer,
    fetch_trusted_root,
    parse_qr,
    request_certificate,
)
from govmobile_device.errors import (
    AgentError,
    AlreadyEnrolled,
    CertificateRejected,
    DeviceWiped,
    NotEnrolled,
    ProtectionDenied,
    ServerRefused,
    ServerUnreachable,
    UsageError,
)
from govmobile_device.files import private_directory
from govmobile_device.gateway import Gateway, check_server_url
from govmobile_device.installed_apps import FileAppRecords
from govmobile_device.installer import AppInstaller
from govmobile_device.keystore import PASSPHRASE_ENV, describe
from govmobile_device.portal import PortalConnection, receive_anchor
from govmobile_device.profile import ProfileFile
from govmobile_device.protection import Verdict
from govmobile_device.protocol import CheckinResponse
from govmobile_device.sandbox import describe as describe_spaces
from govmobile_device.simulator import SimulationConfig, run_simulation
from govmobile_device.state import AgentState, FileStore
from govmobile_device.tablet import PERSONAL_STORAGE, DeviceProtection

STATE_ENV = "GOVMOBILE_DEVICE_STATE"
PROFILE_ENV = "GOVMOBILE_DEVICE_PROFILE"
ADMIN_TOKEN_ENV = "GOVMOBILE_ADMIN_TOKEN"  # noqa: S105 - the variable's name, not a secret
ADMIN_PASSWORD_ENV = "GOVMOBILE_ADMIN_PASSWORD"  # noqa: S105 - the variable's name, not a secret
DEFAULT_STATE = Path.home() / ".local" / "share" / "govmobile-device"

T = TypeVar("T")
Clock = Callable[[], dt.datetime]


class Runtime:
    """What every command needs: where the state is, the clock, how to report progress."""

    def __init__(self, args: argparse.Namespace, environ: dict[str, str], clock: Clock) -> None:
        self.args = args
        self.environ = environ
        self.clock = clock
        self.state_dir = Path(args.state or environ.get(STATE_ENV) or DEFAULT_STATE).expanduser()
        profile = args.profile or environ.get(PROFILE_ENV)
        self.profile_path = Path(profile).expanduser() if profile else self.state_dir / "profile.json"
        self.passphrase = environ.get(PASSPHRASE_ENV) or None
        self.timeout: float = args.timeout

    def store(self) -> FileStore:
        return FileStore(self.state_dir, passphrase=self.passphrase)

    def profile(self) -> ProfileFile:
        return ProfileFile(self.profile_path)

    def agent(self, store: FileStore, **options: Any) -> Agent:
        timeout = self.timeout
        options.setdefault("portal", self.installer(store))
        options.setdefault("protection", self.protection(store))
        return Agent(
            store,
            self.profile(),
            clock=self.clock,
            connect=lambda identity: Gateway.mutual(identity, timeout=timeout),
            log=self.log,
            **options,
        )

    def installer(self, store: FileStore | None = None) -> AppInstaller:
        """The managed apps, from the portal (``STATE/apps``, ``STATE/portal``), each with its data
        space in the work container (``STATE/container/apps``)."""
        timeout = self.timeout
        return AppInstaller(
            FileAppRecords(self.state_dir / "apps"),
            self.state_dir / "portal",
            clock=self.clock,
            connect=lambda identity: PortalConnection(identity, timeout=timeout),
            log=self.log,
            spaces=self.protection(store or self.store()).installer_spaces(),
        )

    def protection(self, store: FileStore) -> DeviceProtection:
        return DeviceProtection(store, self.profile(), self.clock)

    def log(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await work()

    return asyncio.run(main())


async def _with_agent(agent: Agent, work: Callable[[Agent], Awaitable[T]]) -> T:
    try:
        return await work(agent)
    finally:
        await agent.aclose()


# -- enroll ------------------------------------------------------------------------------------


def enroll(rt: Runtime) -> int:
    args = rt.args
    offer = _offer(args)
    store = rt.store()
    if store.wipe_pending() is not None:
        with contextlib.suppress(DeviceWiped, AgentError):
            run_async(lambda: _with_agent(rt.agent(store), lambda a: a.finish_pending_wipe()))
    private_directory(rt.state_dir)
    with store.exclusive():
        return _enroll(rt, store, offer)


def _enroll(rt: Runtime, store: FileStore, offer: EnrollmentOffer) -> int:
    args = rt.args
    if store.is_enrolled() and not args.force:
        raise AlreadyEnrolled(
            f"a device is already enrolled in {rt.state_dir}; use --force to enroll it again (its government "
            "files are kept if its keys are usable)"
        )
    profile = rt.profile().create_if_missing()

    async def enroll_now() -> tuple[Any, Any]:
        root = await fetch_trusted_root(
            offer.server, offer.ca_sha256, insecure_first_use=args.insecure_first_use, timeout=rt.timeout
        )
        async with Gateway.pinned(offer.server, root, timeout=rt.timeout) as gateway:
            return root, await request_certificate(gateway, root, offer.token, profile, now=rt.clock())

    root, identity = run_async(enroll_now)
    if offer.ca_sha256 is None:
        print(
            f"WARNING: trusted the server's CA on first use without checking it: SHA-256 {pki.fingerprint(root)}. "
            "Compare it with the fingerprint your IT department publishes.",
            file=sys.stderr,
        )
    keystore = store.prepare_keystore(Cipher(args.cipher))
    store.save_identity(identity)
    store.save_state(AgentState())
    _receive_enrollment_profile(rt, identity)
    print(f"enrolled as device {identity.device_id} (tenant {identity.tenant_id}) with {identity.server}")
    print(
        f"certificate valid until {identity.not_after:%Y-%m-%d %H:%M} UTC; renews after {identity.renew_after:%Y-%m-%d %H:%M} UTC"
    )
    print(f"private key sealed with {keystore.cipher.value} ({keystore.protection}) in {rt.state_dir}")
    print(f"device profile: {rt.profile_path}")
    return 0


def _receive_enrollment_profile(rt: Runtime, identity: Any) -> None:
    """The appliance's enrollment profile over the new certificate: the app portal's TUF root.

    A new enrollment starts the portal's trust afresh (anchor and metadata from this profile).
    If it cannot be had now, the first use of the portal asks again."""
    _destroy_portal_trust(rt.state_dir / "portal")
    connection = PortalConnection(identity, timeout=rt.timeout)
    try:
        receive_anchor(connection, rt.state_dir / "portal", rt.clock())
        print("app portal: trust anchor (TUF root) received")
    except AgentError as error:
        print(f"app portal: {error.message}")
    finally:
        connection.close()


def _destroy_portal_trust(directory: Path) -> None:
    # Public metadata only (nothing secret to shred): the new enrollment's profile replaces it.
    if directory.is_dir():
        shutil.rmtree(directory)


def _offer(args: argparse.Namespace) -> EnrollmentOffer:
    pin = pki.normalise_fingerprint(args.ca_fingerprint) if args.ca_fingerprint else None
    if args.qr:
        if args.server or args.token:
            raise UsageError("give either --qr, or --server and --token, not both")
        offer = parse_qr(args.qr)
        if pin is not None and offer.ca_sha256 is not None and pin != offer.ca_sha256:
            raise UsageError(
                "--ca-fingerprint differs from the fingerprint in the QR code; which one is right?"
            )
        return EnrollmentOffer(offer.server, offer.token, offer.ca_sha256 or pin)
    if not args.server or not args.token:
        raise UsageError("enroll needs --server and --token (or --qr with the enrollment code)")
    return EnrollmentOffer(check_server_url(args.server), args.token, pin)


# -- check-in and run -------------------------------------------------------------------------


def checkin(rt: Runtime) -> int:
    store = rt.store()
    response = run_async(lambda: _with_agent(rt.agent(store), lambda a: a.check_in(asked=True)))
    if rt.args.json:
        print(response.model_dump_json(indent=2))
    else:
        print(_summary(response))
    return 0


def _summary(response: CheckinResponse) -> str:
    device = response.device
    lines = [
        f"checked in as {device.id}: {device.state}, {'compliant' if device.compliant else 'NOT compliant'}"
    ]
    lines += [f"  not compliant: {reason}" for reason in device.reasons]
    lines.append(
        f"  next check-in in {response.next_checkin_seconds} s (policy version {response.policy.version})"
    )
    return "\n".join(lines)


def run(rt: Runtime) -> int:
    store = rt.store()
    agent = rt.agent(
        store,
        wait_timeout=rt.args.wait_timeout,
        backoff=Backoff(base=rt.args.backoff_base, cap=rt.args.backoff_cap),
    )

    async def forever() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if rt.args.for_seconds:
            loop.call_later(rt.args.for_seconds, stop.set)
        rt.log(f"agent {__version__} running for {agent.identity().device_id}; Ctrl-C stops it")
        try:
            await agent.run(stop, heartbeat=rt.args.heartbeat)
        finally:
            await agent.aclose()

    run_async(forever)
    rt.log("stopped")
    return 0


# -- status, unenroll -------------------------------------------------------------------------


def status(rt: Runtime) -> int:
    store = rt.store()
    if store.wipe_pending() is not None:
        run_async(lambda: _with_agent(rt.agent(store), lambda a: a.finish_pending_wipe()))
    server, certificate = store.load_certificate()
    state = store.load_state()
    files: int | str
    try:
        files = len(store.container().list_files())
    except AgentError as error:
        files = f"unavailable ({error.message})"
    report: dict[str, Any] = {
        "device_id": pki.common_name(certificate),
        "tenant_id": pki.organisational_unit(certificate),
        "server": server,
        "certificate_sha256": pki.fingerprint(certificate),
        "certificate_not_after": certificate.not_valid_after_utc.isoformat(),
        "keys": describe(rt.state_dir / "keystore"),
        "server_view": state.server_view.model_dump(mode="json") if state.server_view else None,
        "last_checkin_at": state.last_checkin_at.isoformat() if state.last_checkin_at else None,
        "locked": state.locked,
        "lock_message": state.lock_message,
        "lock_phone": state.lock_phone,
        "lost_mode": state.lost_mode,
        "lost_message": state.lost_message,
        "messages": [m.model_dump(mode="json") for m in state.messages],
        "pending_installs": [p.model_dump(mode="json") for p in state.pending_installs],
        "undelivered_results": len(state.pending_results),
        "work_container_files": files,
        "managed_apps": _managed_apps(rt),
        "profile": str(rt.profile_path),
    }
    if rt.args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_status_text(report))
    if rt.args.qr:
        _show_qr(f"govmobile:device?id={report['device_id']}&cert_sha256={report['certificate_sha256']}")
    return 0


def _managed_apps(rt: Runtime) -> dict[str, Any]:
    installer = rt.installer()
    records = installer.records.load()
    return {
        "installed": [a.model_dump(mode="json") for a in records.installed.values()],
        "failing": [p.model_dump(mode="json") for p in records.progress.values() if p.last_error is not None],
        "desired_state_sequence": records.last_sequence,
        "data_spaces": installer.spaces.provisioned,
        "last_refusal": records.last_refusal,
    }


def _status_text(report: dict[str, Any]) -> str:
    view = report["server_view"] or {}
    keys = report["keys"]
    lines = [
        f"device          {report['device_id']} (tenant {report['tenant_id']})",
        f"server          {report['server']}",
        f"certificate     valid until {report['certificate_not_after']}",
        f"keys            {keys.get('cipher', '?')}, protected by {keys.get('protection', '?')}",
        f"last check-in   {report['last_checkin_at'] or 'never'}",
    ]
    if view:
        compliance = (
            "compliant" if view.get("compliant") else "NOT compliant: " + "; ".join(view.get("reasons", []))
        )
        lines.append(f"server says     {view.get('state')}, {compliance}")
    if report["locked"]:
        contact = f" (call {report['lock_phone']})" if report["lock_phone"] else ""
        lines.append(f"LOCKED          {report['lock_message'] or 'by the administrator'}{contact}")
    else:
        lines.append("locked          no")
    if report["lost_mode"]:
        lines.append(
            f"LOST MODE       {report['lost_message'] or ''} — location is reported at every check-in"
        )
    lines.append(f"work container  {report['work_container_files']} file(s)")
    lines.append(f"undelivered     {report['undelivered_results']} command result(s)")
    managed = report["managed_apps"]
    for app in managed["installed"]:
        lines.append(f"managed app     {app['package']} version {app['version_code']}")
    for app in managed["failing"]:
        lines.append(f"install failing {app['package']}: {app['attempts']} attempt(s), {app['last_error']}")
    if managed["installed"] and not managed["data_spaces"]:
        lines.append("data spaces     not provisioned: managed apps share no per-app encrypted space yet")
    for install in report["pending_installs"]:
        lines.append(f"pending install {install['app_id']} (no app portal to install it from)")
    if report["messages"]:
        lines.append("messages:")
        lines += [f"  {m['at']}  {m['text']}" for m in report["messages"]]
    return "\n".join(lines)


def _show_qr(payload: str) -> None:
    try:
        import segno  # optional: pip install 'govmobile-device[qr]'
    except ImportError:
        raise UsageError("showing a QR code needs segno: pip install 'govmobile-device[qr]'") from None
    segno.make(payload, error="m").terminal(compact=True)


_NOTHING_DESTROYED = (
    "Nothing was destroyed. Try again, or add --local-only to destroy this device's data without "
    "telling the appliance"
)


def unenroll(rt: Runtime) -> int:
    store = rt.store()
    if not store.is_enrolled():
        raise NotEnrolled(f"no device is enrolled in {rt.state_dir}")
    if not rt.args.yes:
        raise UsageError(
            "unenroll tells the appliance this device leaves (it retires the device and revokes its "
            "certificate), then destroys this device's keys, certificate, government files and agent "
            "state; add --yes to do it"
        )
    told = "the appliance was not told (--local-only): ask your administrator to retire the device"
    if not rt.args.local_only:
        try:
            run_async(lambda: _with_agent(rt.agent(store), lambda a: a.gateway().unenroll()))
            told = "the appliance retired the device and revoked its certificate"
        except CertificateRejected as refused:
            # Already retired, wiped or revoked: the appliance has nothing left to undo.
            told = f"the appliance no longer accepts this device ({refused.code}); nothing to tell it"
        # Nothing is destroyed when the appliance could not be told: a device it still counts as
        # active must not vanish silently. The user retries, or leaves the retirement to the admin.
        except ServerUnreachable as failed:
            raise ServerUnreachable(f"{failed}. {_NOTHING_DESTROYED}", cause=failed.cause) from failed
        except ServerRefused as failed:
            raise ServerRefused(
                f"{failed}. {_NOTHING_DESTROYED}",
                status=failed.status,
                code=failed.code,
                details=failed.details,
            ) from failed
    with store.exclusive():
        store.destroy_all()
    print(f"unenrolled: {told}; keys, certificate, work container and state in {rt.state_dir} are destroyed")
    return 0


# -- apps (the app portal) ---------------------------------------------------------------------


def apps(rt: Runtime) -> int:
    """``apps [list|install|update|remove|request]``: the portal's catalogue for this device."""
    store = rt.store()
    action = getattr(rt.args, "apps_action", None) or "list"
    if action in ("install", "request", "update"):
        rt.agent(store).require_unlocked()
        rt.agent(store).require_work_container()
    installer = rt.installer()

    async def work(agent: Agent) -> int:
        identity = agent.identity()
        async with agent.exclusive():
            if action == "list":
                return _apps_list(rt, installer, await _catalogue(rt, installer, identity))
            if action in ("install", "request"):
                version = await installer.install(identity, rt.args.package)
                print(f"installed {rt.args.package} version {version}")
            elif action == "update":
                changed = await installer.update(identity, rt.args.package)
                print(f"updated {', '.join(changed)}" if changed else "everything is up to date")
            else:
                removed = await installer.remove(identity, rt.args.package)
                print(f"removed {rt.args.package}" if removed else f"{rt.args.package} is not installed")
            return 0

    return run_async(lambda: _with_agent(rt.agent(store, portal=installer), work))


async def _catalogue(rt: Runtime, installer: AppInstaller, identity: Any) -> list[Any]:
    try:
        return await installer.catalogue(identity)
    except (ServerUnreachable, ServerRefused) as error:
        # Offline: the last accepted desired state still says what the device should have.
        rt.log(f"the app portal could not be asked ({error.message}); showing the last desired state")
        return installer.entries()


def _apps_list(rt: Runtime, installer: AppInstaller, entries: list[Any]) -> int:
    records = installer.records.load()
    if rt.args.json:
        print(
            json.dumps(
                {
                    "apps": [entry.__dict__ for entry in entries],
                    "sequence": records.last_sequence,
                    "conflicts": records.conflicts,
                    "data_spaces": installer.spaces.provisioned,
                    "last_refusal": records.last_refusal,
                },
                indent=2,
            )
        )
        return 0
    if not entries:
        print("no apps are assigned to this device")
    for entry in entries:
        version = entry.version_name or entry.version_code or "-"
        line = f"{entry.package:<40} {entry.intent:<10} {version!s:<12} {entry.status}"
        if entry.kind == "web":
            line += f" {entry.url} (web app: govmobile-device open {entry.package})"
        if entry.last_error:
            line += f" (attempts {entry.attempts}: {entry.last_error})"
        print(line)
    for package in records.conflicts:
        print(f"{package:<40} conflict   (assignments disagree; left as it is)")
    if records.last_refusal:
        print(f"refused: {records.last_refusal}")
    return 0


def install(rt: Runtime) -> int:
    """``install APP``: the same as ``apps install APP``."""
    rt.args.apps_action, rt.args.package = "install", rt.args.app
    return apps(rt)


def open_app(rt: Runtime) -> int:
    """An intranet app through the gateway (``/apps/<route>/...``), with the device's certificate."""
    store = rt.store()
    agent = rt.agent(store)
    agent.require_unlocked()
    path = _web_app_url(rt, rt.args.path).lstrip("/")
    path = path if path.startswith("apps/") else f"apps/{path}"
    response = run_async(lambda: _with_agent(agent, lambda a: a.gateway().get(f"/{path}")))
    if rt.args.output:
        Path(rt.args.output).write_bytes(response.content)
        print(f"saved {len(response.content)} bytes from /{path} to {rt.args.output}")
    else:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
    return 0


def _web_app_url(rt: Runtime, reference: str) -> str:
    """A web app of the last accepted desired state by its package id opens its URL; anything
    else is a path under /apps/ as given (the gateway decides either way)."""
    if "/" in reference or "." not in reference:
        return reference
    for app in rt.installer().records.load().catalogue:
        if app.package == reference and app.url is not None and app.intent != "uninstall":
            return app.url
    return reference


# -- files (the work container) ----------------------------------------------------------------


def files(rt: Runtime) -> int:
    store = rt.store()
    with store.exclusive():
        return _files(rt, store)


def _files(rt: Runtime, store: FileStore) -> int:
    rt.agent(store).require_unlocked()
    container = store.container()
    action = rt.args.files_action
    if action == "put":
        source = rt.args.source
        data = sys.stdin.buffer.read() if source in (None, "-") else _read_file(Path(source))
        stored = container.put(rt.args.name, data, now=rt.clock())
        print(
            f"stored {stored.name} ({stored.size} bytes, sha256 {stored.sha256[:16]}…) in the work container"
        )
    elif action == "get":
        data = container.get(rt.args.name)
        if rt.args.output:
            Path(rt.args.output).write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    else:
        listing = container.list_files()
        if rt.args.json:
            print(json.dumps([f.__dict__ for f in listing], indent=2))
        else:
            for stored in listing:
                print(f"{stored.size:>10}  {stored.stored_at}  {stored.name}")
    return 0


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


# -- app (the simulated tablet's surfaces under app protection) ---------------------------------


def app(rt: Runtime) -> int:
    store = rt.store()
    with store.exclusive():
        rt.agent(store).require_unlocked()
        return _app(rt, rt.protection(store))


def _app(rt: Runtime, protection: DeviceProtection) -> int:
    args = rt.args
    action = args.app_action
    tablet = protection.tablet()
    if action == "list":
        managed = describe_spaces(tablet.spaces)
        personal = [a for a in rt.profile().load().installed_apps if not tablet.is_managed(a)]
        waiting = len(protection.denials().pending())
        if args.json:
            listing = {"managed": managed, "personal": personal, "events_not_reported": waiting}
            print(json.dumps(listing, indent=2))
        else:
            for space in managed:
                print(f"managed   {space['package']}  files={space['files']}  pin_set={space['pin_set']}")
            for package in personal:
                print(f"personal  {package}")
            print(f"protection events waiting to be reported: {waiting}")
        return 0
    if action == "install-personal":
        tablet.install_personal(args.package)
        print(f"{args.package} is installed as a personal app")
        return 0
    if action == "copy":
        text = args.text if args.text is not None else sys.stdin.read()
        return _verdict(args, tablet.copy(args.source, args.target, text))
    if action == "save-as":
        return _verdict(args, tablet.save_as(args.package, args.name, args.to))
    if action == "screenshot":
        return _verdict(args, tablet.screenshot(args.package))
    if action == "set-pin":
        return _verdict(args, tablet.set_pin(args.package, args.pin))
    if action == "unlock":
        return _verdict(args, tablet.unlock(args.package, args.pin))
    if action == "open":
        return _verdict(args, tablet.open(args.package))
    if action == "write":
        source = args.source
        data = sys.stdin.buffer.read() if source in (None, "-") else _read_file(Path(source))
        return _verdict(args, tablet.write_file(args.package, args.name, data))
    answer = tablet.read_file(args.package, args.name)
    if answer.data is not None:
        if args.output:
            Path(args.output).write_bytes(answer.data)
        else:
            sys.stdout.buffer.write(answer.data)
            sys.stdout.flush()
            return 0
    return _verdict(args, answer.verdict)


def _verdict(args: argparse.Namespace, verdict: Verdict) -> int:
    """The policy's verdict on standard output; exit 0 when allowed, 12 when refused."""
    if args.json:
        print(
            json.dumps(
                {
                    "allowed": verdict.allowed,
                    "code": verdict.code,
                    "reason": verdict.reason,
                    "wiped": verdict.wipe,
                }
            )
        )
    else:
        print(f"{'allowed' if verdict.allowed else 'denied'} ({verdict.code}): {verdict.reason}")
    return 0 if verdict.allowed else ProtectionDenied.exit_code


# -- simulate ----------------------------------------------------------------------------------


def simulate(rt: Runtime) -> int:
    args = rt.args
    if args.devices < 1 or args.rate <= 0 or args.duration <= 0:
        raise UsageError("--devices, --rate and --duration must be positive")
    verify: ssl.SSLContext | bool = True
    if args.admin_ca_file:
        verify = ssl.create_default_context(cafile=args.admin_ca_file)
    config = SimulationConfig(
        server=check_server_url(args.server),
        devices=args.devices,
        rate=args.rate,
        duration=args.duration,
        admin_url=args.admin_url or args.server,
        admin_token=args.admin_token or rt.environ.get(ADMIN_TOKEN_ENV) or None,
        admin_username=args.admin_user,
        admin_password=rt.environ.get(ADMIN_PASSWORD_ENV) or None,
        admin_verify=verify,
        tenant=args.tenant,
        person=args.person,
        ca_fingerprint=pki.normalise_fingerprint(args.ca_fingerprint) if args.ca_fingerprint else None,
        enroll_concurrency=args.enroll_concurrency,
        max_in_flight=args.max_in_flight,
        commands=args.commands,
        timeout=rt.timeout,
    )
    report = run_simulation(config, log=rt.log)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govmobile-device",
        description="GovMobile device agent: enroll, check in, obey the MDM, keep government data encrypted.",
    )
    parser.add_argument("--version", action="version", version=f"govmobile-device {__version__}")
    parser.add_argument("--state", help=f"state directory (default: ${STATE_ENV} or {DEFAULT_STATE})")
    parser.add_argument(
        "--profile", help=f"device profile file (default: ${PROFILE_ENV} or STATE/profile.json)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("enroll", help="enroll this device with an enrollment token")
    p.add_argument("--server", help="the gateway's public address, https://...")
    p.add_argument("--token", help="the one-time enrollment token")
    p.add_argument("--ca-fingerprint", help="SHA-256 of the appliance's root CA, to pin")
    p.add_argument(
        "--qr", help="the enrollment QR code's text: govmobile:enroll?server=..&ca_sha256=..&token=.."
    )
    p.add_argument(
        "--insecure-first-use",
        action="store_true",
        help="trust the server's CA without a fingerprint (labs only)",
    )
    p.add_argument(
        "--cipher",
        choices=[c.value for c in Cipher],
        default=Cipher.AES_256_GCM.value,
        help="encryption at rest (default aes-256-gcm)",
    )
    p.add_argument("--force", action="store_true", help="enroll again although a device is enrolled here")
    p.set_defaults(handler=enroll)

    p = commands.add_parser("checkin", help="check in once (and carry out every queued command)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=checkin)

    p = commands.add_parser("run", help="stay in touch: wake-ups, heartbeat, renewal")
    p.add_argument(
        "--heartbeat", type=float, help="seconds between check-ins (default: the policy's interval)"
    )
    p.add_argument(
        "--wait-timeout", type=float, default=55.0, help="long-poll timeout in seconds (default 55)"
    )
    p.add_argument("--backoff-base", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--backoff-cap", type=float, default=300.0, help=argparse.SUPPRESS)
    p.add_argument("--for-seconds", type=float, help="stop after this many seconds (tests and demos)")
    p.set_defaults(handler=run)

    p = commands.add_parser("status", help="what the device knows: identity, lock, messages, last check-in")
    p.add_argument("--json", action="store_true")
    p.add_argument("--qr", action="store_true", help="also show the device id as a QR code for the IT desk")
    p.set_defaults(handler=status)

    p = commands.add_parser("unenroll", help="destroy this device's keys, certificate and government data")
    p.add_argument("--yes", action="store_true", help="really do it")
    p.add_argument(
        "--local-only", action="store_true", help="do not tell the appliance (when it cannot be reached)"
    )
    p.set_defaults(handler=unenroll)

    p = commands.add_parser("apps", help="the government apps assigned to this device (app portal)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=apps, apps_action="list")
    app_actions = p.add_subparsers(dest="apps_action", metavar="ACTION")
    q = app_actions.add_parser("list", help="what the desired state offers: required, available, uninstall")
    q.add_argument("--json", action="store_true")
    q = app_actions.add_parser("install", help="install a required or available app now")
    q.add_argument("package")
    q = app_actions.add_parser("request", help="ask for an available app: installed now and kept installed")
    q.add_argument("package")
    q = app_actions.add_parser("update", help="update installed apps (or one) to the desired version now")
    q.add_argument("package", nargs="?")
    q = app_actions.add_parser("remove", help="uninstall a managed app that is not required")
    q.add_argument("package")

    p = commands.add_parser("install", help="install a government app from the app portal")
    p.add_argument("app")
    p.set_defaults(handler=install)

    p = commands.add_parser(
        "open", help="open an intranet app through the gateway (/apps/PATH, or a web app by its package id)"
    )
    p.add_argument("path")
    p.add_argument("-o", "--output", help="save the answer to this file instead of printing it")
    p.set_defaults(handler=open_app)

    p = commands.add_parser("files", help="the encrypted work container")
    actions = p.add_subparsers(dest="files_action", required=True, metavar="ACTION")
    put = actions.add_parser("put", help="store a file (from FILE, or standard input)")
    put.add_argument("name")
    put.add_argument("source", nargs="?")
    get = actions.add_parser("get", help="read a file (to standard output, or -o FILE)")
    get.add_argument("name")
    get.add_argument("-o", "--output")
    listing = actions.add_parser("list", help="list the files")
    listing.add_argument("--json", action="store_true")
    p.set_defaults(handler=files)

    _app_parser(commands)

    p = commands.add_parser("simulate", help="enroll and drive a fleet of simulated devices")
    p.add_argument("--server", required=True, help="the gateway's public address, https://...")
    p.add_argument("--devices", type=int, required=True)
    p.add_argument("--rate", type=float, required=True, help="check-ins per second, all devices together")
    p.add_argument("--duration", type=float, required=True, help="seconds of check-ins")
    p.add_argument("--admin-url", help="the admin API (default: --server)")
    p.add_argument("--admin-user", help=f"admin user name (password in ${ADMIN_PASSWORD_ENV})")
    p.add_argument("--admin-token", help=f"admin API token (or ${ADMIN_TOKEN_ENV})")
    p.add_argument("--admin-ca-file", help="CA bundle to verify the admin API's TLS")
    p.add_argument("--tenant", help="tenant id or slug (default: a new tenant sim-XXXXXX)")
    p.add_argument("--person", help="user name of the person the devices belong to (default: simulator)")
    p.add_argument("--ca-fingerprint", help="root CA to pin (default: from the enrollment token)")
    p.add_argument("--enroll-concurrency", type=int, default=32)
    p.add_argument("--max-in-flight", type=int, default=256)
    p.add_argument("--commands", type=int, default=0, help="commands to queue during the run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=simulate)
    return parser


def _app_parser(commands: Any) -> None:
    """``app ...``: drive the simulated tablet's clipboard, sharing, screenshots and app PINs."""
    p = commands.add_parser(
        "app", help="a managed or personal app on the simulated tablet, under its protection policy"
    )
    actions = p.add_subparsers(dest="app_action", required=True, metavar="ACTION")

    def action(name: str, help_text: str, *arguments: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        for argument in arguments:
            parser.add_argument(argument)
        parser.add_argument("--json", action="store_true", help="the verdict as JSON")
        return parser

    action("list", "managed apps (data spaces, policies) and personal apps")
    action("install-personal", "install a personal (unmanaged) app", "package")
    copy = action("copy", "copy text in one app and paste it into another (the clipboard)")
    copy.add_argument("--from", dest="source", required=True, metavar="PKG")
    copy.add_argument("--to", dest="target", required=True, metavar="PKG")
    copy.add_argument("--text", help="what to copy (default: standard input)")
    save = action(
        "save-as", "save an app's file to another managed app, or to personal storage", "package", "name"
    )
    save.add_argument("--to", required=True, metavar=f"PKG|{PERSONAL_STORAGE}")
    action("screenshot", "take a screenshot while the app shows", "package")
    action("set-pin", "choose the app's PIN", "package").add_argument("--pin", required=True)
    action("unlock", "unlock the app with its PIN", "package").add_argument("--pin", required=True)
    action("open", "open the app (offline limits and PIN)", "package")
    write = action(
        "write", "the app stores a file in its data space (from SOURCE, or standard input)", "package", "name"
    )
    write.add_argument("source", nargs="?")
    action("read", "the app reads a file from its data space", "package", "name").add_argument(
        "-o", "--output"
    )
    p.set_defaults(handler=app)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    clock: Clock = utcnow,
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    runtime = Runtime(args, dict(os.environ if environ is None else environ), clock)
    handler: Callable[[Runtime], int] = args.handler
    try:
        return handler(runtime)
    except AgentError as error:
        print(f"govmobile-device: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(
            f"govmobile-device: unexpected error ({type(error).__name__}: {error}); this is a bug, "
            "run again with --debug and report the traceback",
            file=sys.stderr,
        )
        return 1
