"""policy commands: a tenant's compliance policy."""

from __future__ import annotations

import enum

import click

from govmobile_client import PolicyChange
from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin
from govmobile_client.cli.output import emit_json, fields
from govmobile_client.models import AdmissionMode, Policy


class NoLimit(enum.Enum):
    NO_LIMIT = "none"


class Limit(click.ParamType["int | NoLimit"]):
    """A positive whole number, or ``none`` to remove the limit."""

    name = "N|none"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | NoLimit:
        if isinstance(value, int | NoLimit):
            return value
        text = str(value).strip().lower()
        if text in ("none", "off"):
            return NoLimit.NO_LIMIT
        if text.isdigit() and int(text) > 0:
            return int(text)
        self.fail(f"{value!r} is neither a positive whole number nor 'none'", param, ctx)


def _limit(value: int | NoLimit) -> int | None:
    return None if value is NoLimit.NO_LIMIT else value


@click.group()
def policy() -> None:
    """Per-tenant compliance policies, evaluated at every check-in."""


@policy.command("show")
@click.argument("tenant_ref", metavar="TENANT")
@json_option
@pass_admin
def show_policy(admin: AdminContext, tenant_ref: str, as_json: bool) -> None:
    """A tenant's policy (slug or id); version 0 means the defaults apply."""
    _show_policy(admin.client().policies.show(tenant_ref), as_json)


@policy.command("set")
@click.argument("tenant_ref", metavar="TENANT")
@click.option("--min-os-version", help="Lowest OS version allowed, e.g. 14 or 13.1.2 ('' drops it).")
@click.option("--require-encryption/--no-require-encryption", default=None)
@click.option("--require-passcode/--no-require-passcode", default=None)
@click.option("--forbid-rooted/--allow-rooted", default=None)
@click.option("--max-offline-hours", type=Limit(), metavar="N|none", help="Longest time offline, or 'none'.")
@click.option(
    "--block-intranet/--no-block-intranet",
    default=None,
    help="Non-compliant devices lose intranet apps (the default).",
)
@click.option(
    "--lock-after-days", type=Limit(), metavar="N|none", help="Lock after N days non-compliant, or 'none'."
)
@click.option("--checkin-interval", type=click.IntRange(60, 86400), help="Seconds between check-ins.")
@json_option
@pass_admin
def set_policy(
    admin: AdminContext,
    tenant_ref: str,
    min_os_version: str | None,
    require_encryption: bool | None,
    require_passcode: bool | None,
    forbid_rooted: bool | None,
    max_offline_hours: int | NoLimit | None,
    block_intranet: bool | None,
    lock_after_days: int | NoLimit | None,
    checkin_interval: int | None,
    as_json: bool,
) -> None:
    """Change some fields of a tenant's policy; devices get it at their next check-in.

    App admission (allowlist or blocklist) is set with `govmobile-admin app admission set`."""
    values: dict[str, object] = {}
    if min_os_version is not None:
        values["min_os_version"] = min_os_version or None
    flags = {
        "require_encryption": require_encryption,
        "require_passcode": require_passcode,
        "forbid_rooted": forbid_rooted,
        "block_intranet_when_noncompliant": block_intranet,
        "checkin_interval_seconds": checkin_interval,
    }
    values.update({key: value for key, value in flags.items() if value is not None})
    if max_offline_hours is not None:
        values["max_offline_hours"] = _limit(max_offline_hours)
    if lock_after_days is not None:
        values["lock_after_noncompliant_days"] = _limit(lock_after_days)
    if not values:
        fail("nothing to change: give at least one option (see --help)")
    _show_policy(admin.client().policies.set(tenant_ref, PolicyChange.model_validate(values)), as_json)


def admission_summary(found: Policy) -> str:
    admission = found.app_admission
    if admission.mode is AdmissionMode.OFF and not (admission.packages or admission.signers):
        return "off"
    return (
        f"{admission.mode.value}: {len(admission.packages)} packages, {len(admission.signers)} signers "
        "(govmobile-admin app admission show)"
    )


def _show_policy(found: Policy, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    fields(
        [
            ("tenant", found.tenant_id),
            ("version", f"{found.version} (defaults)" if found.version == 0 else found.version),
            ("min os version", found.min_os_version),
            ("require encryption", found.require_encryption),
            ("require passcode", found.require_passcode),
            ("forbid rooted", found.forbid_rooted),
            ("app admission", admission_summary(found)),
            ("max offline hours", found.max_offline_hours),
            ("block intranet", found.block_intranet_when_noncompliant),
            ("lock after days", found.lock_after_noncompliant_days),
            ("check-in interval", f"{found.checkin_interval_seconds} s"),
            ("updated", found.updated_at),
            ("updated by", found.updated_by),
        ]
    )
