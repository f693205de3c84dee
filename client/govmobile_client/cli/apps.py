"""app commands: the app portal's catalogue, review, publication, assignment and device status.

App admission (which installed apps keep a device compliant) is ``app admission``, in
``cli/admission.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import click

from govmobile_client.cli.admission import admission
from govmobile_client.cli.context import (
    AdminContext,
    confirm,
    fail,
    json_option,
    pass_admin,
    tenant_option,
    yes_option,
)
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.cli.web_apps import create_web
from govmobile_client.models import (
    Assignment,
    DepartmentRules,
    InstallationState,
    Intent,
    PortalApp,
    Protection,
    Release,
    Target,
    TargetKind,
    Track,
)

TRACKS = click.Choice([t.value for t in Track])
_PACKAGE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")


@click.group()
def app() -> None:
    """The app portal: upload, review, publish, assign, and what each device should have."""


app.add_command(admission)
app.add_command(create_web)


# -- apps and releases -------------------------------------------------------------------------


@app.command("upload")
@click.argument("apk", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@tenant_option("The owning department (platform admins; none: the platform's own app).")
@json_option
@pass_admin
def upload(admin: AdminContext, apk: Path, tenant: str | None, as_json: bool) -> None:
    """Upload an APK as a draft release (its first upload registers the app).

    The file is streamed, never read into memory whole. The portal reads its manifest and
    verifies its signature; a release then needs `app approve` and `app publish`."""
    release = admin.client().releases.upload(apk, tenant_id=admin.tenant_id(tenant))
    if as_json:
        emit_json(release)
        return
    _show_release(release)
    click.echo(f"\nnext: govmobile-admin app approve {release.id}")


@app.command("list")
@json_option
@pass_admin
def list_apps(admin: AdminContext, as_json: bool) -> None:
    """Your department's apps and the platform's (every app, for a platform admin)."""
    apps = admin.client().apps.list()
    if as_json:
        emit_json(apps)
        return
    table(
        ["ID", "PACKAGE", "KIND", "NAME", "DEPARTMENT", "CATEGORY"],
        (
            [a.id, a.package, a.kind.value, a.name_en, a.tenant_id or "platform", a.category or None]
            for a in apps
        ),
        empty="no apps",
    )


@app.command("show")
@click.argument("app_ref", metavar="APP")
@json_option
@pass_admin
def show_app(admin: AdminContext, app_ref: str, as_json: bool) -> None:
    """One app (by id or package id) and its releases."""
    client = admin.client()
    found = client.apps.resolve(app_ref)
    releases = client.releases.list(found.id)
    if as_json:
        emit_json({"app": found, "releases": releases})
        return
    _show_app(found)
    click.echo("\nreleases (newest first):")
    _release_table(releases)


@app.command("update")
@click.argument("app_ref", metavar="APP")
@click.option("--name-en", help="English name.")
@click.option("--name-zh", help="Chinese name.")
@click.option("--description-en", help="English description.")
@click.option("--description-zh", help="Chinese description.")
@click.option("--category", help="Category, e.g. field-work.")
@click.option("--publisher", help="Who publishes the app.")
@json_option
@pass_admin
def update_app(
    admin: AdminContext,
    app_ref: str,
    name_en: str | None,
    name_zh: str | None,
    description_en: str | None,
    description_zh: str | None,
    category: str | None,
    publisher: str | None,
    as_json: bool,
) -> None:
    """Change an app's names, descriptions, category or publisher."""
    texts = (name_en, name_zh, description_en, description_zh, category, publisher)
    if all(text is None for text in texts):
        fail("nothing to change: give at least one option (see --help)")
    client = admin.client()
    found = client.apps.resolve(app_ref)
    changed = client.apps.update(
        found.id,
        name_en=name_en,
        name_zh=name_zh,
        description_en=description_en,
        description_zh=description_zh,
        category=category,
        publisher=publisher,
    )
    if as_json:
        emit_json(changed)
        return
    _show_app(changed)


@app.command("releases")
@click.argument("app_ref", metavar="APP")
@json_option
@pass_admin
def list_releases(admin: AdminContext, app_ref: str, as_json: bool) -> None:
    """An app's releases (by app id or package id), newest first."""
    client = admin.client()
    releases = client.releases.list(client.apps.resolve(app_ref).id)
    if as_json:
        emit_json(releases)
        return
    _release_table(releases)


@app.command("release")
@click.argument("release_id", metavar="RELEASE")
@json_option
@pass_admin
def show_release(admin: AdminContext, release_id: str, as_json: bool) -> None:
    """One release: what its package declares and where it is in review."""
    release = admin.client().releases.show(release_id)
    if as_json:
        emit_json(release)
        return
    _show_release(release)


@app.command("approve")
@click.argument("release_id", metavar="RELEASE")
@json_option
@pass_admin
def approve(admin: AdminContext, release_id: str, as_json: bool) -> None:
    """Approve a draft release (where the department requires it, not by its uploader)."""
    release = admin.client().releases.approve(release_id)
    if as_json:
        emit_json(release)
        return
    click.echo(
        f"approved {release.package} {release.version_name} ({release.version_code}), release {release.id}"
    )


@app.command("publish")
@click.argument("release_id", metavar="RELEASE")
@click.option("--track", type=TRACKS, default=Track.PRODUCTION.value, show_default=True)
@json_option
@pass_admin
def publish(admin: AdminContext, release_id: str, track: str, as_json: bool) -> None:
    """Publish an approved release on a track (or promote a pilot release to production)."""
    release = admin.client().releases.publish(release_id, Track(track))
    if as_json:
        emit_json(release)
        return
    click.echo(f"published {release.package} {release.version_name} ({release.version_code}) on {track}")


@app.command("retire")
@click.argument("release_id", metavar="RELEASE")
@yes_option
@json_option
@pass_admin
def retire(admin: AdminContext, release_id: str, yes: bool, as_json: bool) -> None:
    """Take a release out of the catalogue for good: devices refuse it from now on."""
    client = admin.client()
    found = client.releases.show(release_id)
    confirm(f"retire {found.package} {found.version_name} ({found.version_code}) for good?", yes=yes)
    release = client.releases.retire(found.id)
    if as_json:
        emit_json(release)
        return
    click.echo(f"retired {release.package} {release.version_name} ({release.version_code})")


# -- department rules --------------------------------------------------------------------------


@app.command("rules")
@click.argument("tenant_ref", metavar="[TENANT]", required=False)
@click.option("--second-approval/--no-second-approval", default=None, help="A second admin approves.")
@click.option("--pilot-first/--no-pilot-first", default=None, help="Releases go to pilot before production.")
@click.option(
    "--clipboard/--no-clipboard", default=None, help="Copying to unmanaged apps (default protection)."
)
@click.option("--save-as/--no-save-as", default=None, help="Saving to unmanaged places.")
@click.option("--screenshots/--no-screenshots", default=None)
@click.option("--pin/--no-pin", default=None, help="An app PIN is required.")
@click.option("--pin-attempts", type=click.IntRange(1), help="Wrong PINs before the app's data is wiped.")
@click.option(
    "--offline-block",
    type=click.IntRange(60),
    metavar="SECONDS",
    help="Offline time before access is blocked.",
)
@click.option(
    "--offline-wipe", type=click.IntRange(60), metavar="SECONDS", help="Offline time before data is wiped."
)
@json_option
@pass_admin
def rules(
    admin: AdminContext,
    tenant_ref: str | None,
    second_approval: bool | None,
    pilot_first: bool | None,
    clipboard: bool | None,
    save_as: bool | None,
    screenshots: bool | None,
    pin: bool | None,
    pin_attempts: int | None,
    offline_block: int | None,
    offline_wipe: int | None,
    as_json: bool,
) -> None:
    """A department's publishing rules and default app protection; with options, change them.

    TENANT (slug or id) defaults to your own department."""
    client = admin.client()
    tenant_id = _department(admin, tenant_ref)
    current = client.app_rules.show(tenant_id)
    review = {"second_approval": second_approval, "pilot_first": pilot_first}
    protection = {
        "clipboard_to_unmanaged": clipboard,
        "save_to_unmanaged": save_as,
        "screenshots": screenshots,
        "pin_required": pin,
        "pin_max_attempts": pin_attempts,
        "offline_block_after_seconds": offline_block,
        "offline_wipe_after_seconds": offline_wipe,
    }
    review_changes = {k: v for k, v in review.items() if v is not None}
    protection_changes = {k: v for k, v in protection.items() if v is not None}
    if review_changes or protection_changes:
        # The API replaces the rules whole: read, change what was given, write back.
        wanted = DepartmentRules(
            **{**current.model_dump(exclude={"protection"}), **review_changes},
            protection=Protection(**{**current.protection.model_dump(), **protection_changes}),
        )
        current = client.app_rules.set(tenant_id, wanted)
    if as_json:
        emit_json(current)
        return
    shield = current.protection
    fields(
        [
            ("department", tenant_id),
            ("second approval", current.second_approval),
            ("pilot first", current.pilot_first),
            ("clipboard out", shield.clipboard_to_unmanaged),
            ("save as out", shield.save_to_unmanaged),
            ("screenshots", shield.screenshots),
            ("app pin", shield.pin_required),
            ("pin attempts", shield.pin_max_attempts),
            ("offline block", _seconds(shield.offline_block_after_seconds)),
            ("offline wipe", _seconds(shield.offline_wipe_after_seconds)),
        ]
    )


# -- assignments -------------------------------------------------------------------------------


@app.command("assign")
@click.argument("app_ref", metavar="APP")
@click.option("--department", "department_ref", help="Every device of a department (slug or id).")
@click.option("--group", "-g", "group_ref", help="The devices of a group's members (name or id).")
@click.option("--person", "-p", "person_ref", help="The devices of one person (username or id).")
@click.option("--device", "device_id", help="One device (id).")
@click.option(
    "--intent",
    type=click.Choice([i.value for i in Intent]),
    required=True,
    help="required: installed on its own; available: the user may install it; uninstall: removed.",
)
@click.option("--track", type=TRACKS, default=Track.PRODUCTION.value, show_default=True)
@click.option("--exclude-group", multiple=True, help="A group left out (repeat).")
@click.option("--exclude-person", multiple=True, help="A person left out (repeat).")
@click.option("--exclude-device", multiple=True, help="A device left out (repeat).")
@click.option(
    "--keep-when-unassigned",
    is_flag=True,
    help="Leave the app installed when this assignment is removed (default: uninstall it).",
)
@tenant_option("The department the assignment belongs to (platform admins).")
@json_option
@pass_admin
def assign(
    admin: AdminContext,
    app_ref: str,
    department_ref: str | None,
    group_ref: str | None,
    person_ref: str | None,
    device_id: str | None,
    intent: str,
    track: str,
    exclude_group: tuple[str, ...],
    exclude_person: tuple[str, ...],
    exclude_device: tuple[str, ...],
    keep_when_unassigned: bool,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Assign an app to a department, a group, a person or a device, on a track.

    The most specific target wins, required beats available, and a required/uninstall clash at
    the same level is a conflict that `app status DEVICE` shows."""
    given = [r for r in (department_ref, group_ref, person_ref, device_id) if r is not None]
    if len(given) != 1:
        fail("name exactly one target: --department, --group, --person or --device")
    client = admin.client()
    tenant_id = admin.tenant_id(tenant)
    found = client.apps.resolve(app_ref)
    if department_ref is not None:
        target = Target(kind=TargetKind.DEPARTMENT, id=admin.tenant(department_ref).id)
    elif group_ref is not None:
        target = Target(kind=TargetKind.GROUP, id=client.groups.resolve(group_ref, tenant_id=tenant_id).id)
    elif person_ref is not None:
        target = Target(kind=TargetKind.PERSON, id=client.people.resolve(person_ref, tenant_id=tenant_id).id)
    else:
        assert device_id is not None
        target = Target(kind=TargetKind.DEVICE, id=device_id)
    exclusions = [
        *(
            Target(kind=TargetKind.GROUP, id=client.groups.resolve(g, tenant_id=tenant_id).id)
            for g in exclude_group
        ),
        *(
            Target(kind=TargetKind.PERSON, id=client.people.resolve(p, tenant_id=tenant_id).id)
            for p in exclude_person
        ),
        *(Target(kind=TargetKind.DEVICE, id=d) for d in exclude_device),
    ]
    made = client.assignments.create(
        found.id,
        target,
        Intent(intent),
        track=Track(track),
        exclusions=exclusions,
        tenant_id=tenant_id,
        remove_when_unassigned=not keep_when_unassigned,
    )
    if as_json:
        emit_json(made)
        return
    click.echo(
        f"assigned {made.package} to {made.target.kind.value} {made.target.id} as {made.intent.value} "
        f"on {made.track.value} (assignment {made.id})"
    )


@app.command("assignments")
@click.argument("app_ref", metavar="[APP]", required=False)
@json_option
@pass_admin
def list_assignments(admin: AdminContext, app_ref: str | None, as_json: bool) -> None:
    """Assignments you may see, of every app or of one."""
    client = admin.client()
    app_id = client.apps.resolve(app_ref).id if app_ref else None
    found = client.assignments.list(app_id=app_id)
    if as_json:
        emit_json(found)
        return
    table(
        ["ID", "PACKAGE", "TARGET", "INTENT", "TRACK", "EXCLUDING", "ON REMOVAL"],
        (_assignment_row(a) for a in found),
        empty="no assignments",
    )


@app.command("unassign")
@click.argument("assignment_id", metavar="ASSIGNMENT")
@yes_option
@pass_admin
def unassign(admin: AdminContext, assignment_id: str, yes: bool) -> None:
    """Remove an assignment: devices it reached uninstall the app where it says so."""
    client = admin.client()
    found = next((a for a in client.assignments.list() if a.id == assignment_id), None)
    if found is None:
        fail(f"no assignment {assignment_id!r} that you may see")
    removal = "uninstalls it" if found.remove_when_unassigned else "keeps it installed"
    confirm(
        f"remove the assignment of {found.package} to {found.target.kind.value} {found.target.id}? "
        f"(each device it reached {removal})",
        yes=yes,
    )
    client.assignments.remove(found.id)
    click.echo(f"removed assignment {found.id}")


@app.command("status")
@click.argument("device_id", metavar="DEVICE")
@json_option
@pass_admin
def status(admin: AdminContext, device_id: str, as_json: bool) -> None:
    """What a device should have, from which assignments, and the conflicts it has."""
    found = admin.client().assignments.device_apps(device_id)
    if as_json:
        emit_json(found)
        return
    issued = (
        f"sequence {found.sequence}, issued {found.issued_at:%Y-%m-%d %H:%MZ}"
        if found.sequence is not None and found.issued_at is not None
        else "never fetched by the device"
    )
    fields([("device", found.device_id), ("desired state", issued)])
    click.echo()
    table(
        ["PACKAGE", "INTENT", "TRACK", "VERSION", "OPENS", "ASSIGNMENTS"],
        (
            [
                a.package,
                a.intent.value,
                a.track.value if a.track else None,
                a.version_code if a.version_code is not None else "none published",
                a.url,
                a.assignment_ids,
            ]
            for a in found.apps
        ),
        empty="no apps assigned",
    )
    if found.unavailable:
        click.echo("\nweb apps assigned that their gateway route does not let this device open:")
        table(
            ["PACKAGE", "CODE", "REASON"],
            ([u.package, u.code, u.reason] for u in found.unavailable),
            empty="",
        )
    if found.conflicts:
        click.echo("\nconflicts (not installed or removed until resolved):")
        table(
            ["PACKAGE", "LEVEL", "REASON", "ASSIGNMENTS"],
            ([c.package, c.level, c.reason, c.assignment_ids] for c in found.conflicts),
            empty="",
        )
    if found.installations:
        click.echo("\nwhat the device reported:")
        table(
            ["PACKAGE", "STATE", "VERSION", "ATTEMPTS", "LAST ERROR", "REPORTED"],
            (
                [
                    i.package,
                    i.state.value,
                    i.version_code,
                    i.attempts,
                    i.last_error,
                    f"{i.reported_at:%Y-%m-%d %H:%MZ}" if i.reported_at else None,
                ]
                for i in found.installations
            ),
            empty="",
        )
        if any(i.state is InstallationState.FAILED for i in found.installations):
            click.echo(f"\nnext: govmobile-admin app retry {found.device_id} PACKAGE")


@app.command("retry")
@click.argument("device_id", metavar="DEVICE")
@click.argument("package", callback=lambda _ctx, _param, value: _package_id(value))
@json_option
@pass_admin
def retry(admin: AdminContext, device_id: str, package: str, as_json: bool) -> None:
    """Have DEVICE try a failed install of PACKAGE again at its next check-in.

    Once per failure: asked again before the device has reported, it is refused."""
    asked = admin.client().assignments.retry_install(device_id, package)
    if as_json:
        emit_json(asked)
        return
    click.echo(
        f"asked device {device_id} to retry {package} (retry {asked.retry_generation}, "
        f"after {asked.attempts} failed attempts); it does at its next check-in"
    )


def _package_id(value: str) -> str:
    # The portal decides; this only turns a typo or a path into a usage error instead of a 404.
    if not _PACKAGE_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a package id (like cn.gov.water.inspect)")
    return value


# -- display -----------------------------------------------------------------------------------


def _seconds(value: int | None) -> str | None:
    return None if value is None else f"{value} s"


def _department(admin: AdminContext, reference: str | None) -> str:
    """The department named, or the caller's own."""
    if reference is not None:
        return admin.tenant(reference).id
    me = admin.client().auth.me()
    if me.tenant_id is None:
        fail("name the department: platform admins belong to none")
    return me.tenant_id


def _show_app(found: PortalApp) -> None:
    fields(
        [
            ("id", found.id),
            ("package", found.package),
            ("kind", found.kind.value),
            ("can open", found.availability),
            ("name", found.name_en),
            ("name (zh)", found.name_zh or None),
            ("department", found.tenant_id or "platform"),
            ("category", found.category or None),
            ("publisher", found.publisher or None),
            ("description", found.description_en or None),
            ("created", found.created_at),
            ("created by", found.created_by),
        ]
    )


def _show_release(release: Release) -> None:
    fields(
        [
            ("release", release.id),
            ("package", release.package),
            ("version", f"{release.version_name} ({release.version_code})"),
            ("state", release.state.value),
            ("track", release.track.value if release.track else None),
            ("opens", release.url),
            ("min sdk", release.min_sdk if release.route is None else None),
            ("size", f"{release.size} bytes"),
            ("sha-256", release.sha256),
            ("signers", release.signers),
            ("permissions", release.permissions),
            ("warnings", release.warnings),
            ("uploaded", release.uploaded_at),
            ("uploaded by", release.uploaded_by),
            ("approved by", release.approved_by),
        ]
    )


def _release_table(releases: Sequence[Release]) -> None:
    table(
        ["ID", "VERSION", "CODE", "STATE", "TRACK", "UPLOADED BY", "APPROVED BY"],
        (
            [
                r.id,
                r.version_name,
                r.version_code,
                r.state.value,
                r.track.value if r.track else None,
                r.uploaded_by,
                r.approved_by,
            ]
            for r in releases
        ),
        empty="  no releases",
    )


def _assignment_row(found: Assignment) -> list[object]:
    return [
        found.id,
        found.package,
        f"{found.target.kind.value} {found.target.id}",
        found.intent.value,
        found.track.value,
        [f"{e.kind.value} {e.id}" for e in found.exclusions],
        "uninstall" if found.remove_when_unassigned else "keep",
    ]
