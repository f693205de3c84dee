"""app admission commands: which installed apps keep a department's devices compliant."""

from __future__ import annotations

import click

from govmobile_client import AdmissionChange, PolicyChange
from govmobile_client.cli.context import AdminContext, fail, json_option, pass_admin
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.models import AdmissionMode, Policy


@click.group()
def admission() -> None:
    """App admission in the compliance policy: an allowlist or a blocklist, by package or signer.

    A signer is the SHA-256 of the app's signing certificate (64 hex characters, as
    `apksigner verify --print-certs` prints it; keytool's AB:CD:... form is accepted too)."""


@admission.command("show")
@click.argument("tenant_ref", metavar="TENANT")
@json_option
@pass_admin
def show_admission(admin: AdminContext, tenant_ref: str, as_json: bool) -> None:
    """A department's app admission (slug or id)."""
    _show(admin.client().policies.show(tenant_ref), as_json)


@admission.command("set")
@click.argument("tenant_ref", metavar="TENANT")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in AdmissionMode]),
    help="off, allowlist (only listed apps) or blocklist (no listed app); default: keep it.",
)
@click.option("--package", "packages", multiple=True, help="A package id to list (repeat).")
@click.option("--signer", "signers", multiple=True, help="A signer's SHA-256 to list (repeat).")
@click.option("--add", "adding", is_flag=True, help="Add the entries given to the current lists.")
@click.option("--remove", "removing", is_flag=True, help="Remove the entries given from the current lists.")
@click.option("--clear", is_flag=True, help="Empty both lists (then add any entries given).")
@json_option
@pass_admin
def set_admission(
    admin: AdminContext,
    tenant_ref: str,
    mode: str | None,
    packages: tuple[str, ...],
    signers: tuple[str, ...],
    adding: bool,
    removing: bool,
    clear: bool,
    as_json: bool,
) -> None:
    """Set a department's app admission. Entries given replace the lists, unless --add or
    --remove says otherwise; devices are judged by it at their next check-in."""
    if sum((adding, removing, clear)) > 1:
        fail("--add, --remove and --clear contradict each other; give one")
    if (adding or removing) and not (packages or signers):
        fail("--add and --remove need at least one --package or --signer")
    if mode is None and not (packages or signers or clear):
        fail("nothing to change: give --mode, entries (--package, --signer) or --clear")
    client = admin.client()
    current = client.policies.show(tenant_ref).app_admission
    if adding:
        new_packages = {*current.packages, *packages}
        new_signers = {*current.signers, *(_plain(s) for s in signers)}
    elif removing:
        new_packages = set(current.packages) - set(packages)
        new_signers = set(current.signers) - {_plain(s) for s in signers}
    elif packages or signers or clear:
        new_packages, new_signers = set(packages), {_plain(s) for s in signers}
    else:
        new_packages, new_signers = set(current.packages), set(current.signers)
    change = AdmissionChange(
        mode=AdmissionMode(mode) if mode else current.mode,
        packages=sorted(new_packages),
        signers=sorted(new_signers),
    )
    _show(client.policies.set(tenant_ref, PolicyChange(app_admission=change)), as_json)


def _plain(signer: str) -> str:
    """A signer as the server stores it, so that --remove matches what was added in another form;
    the server checks it (and says what is wrong with it)."""
    return signer.strip().replace(":", "").lower()


def _show(found: Policy, as_json: bool) -> None:
    admission = found.app_admission
    if as_json:
        emit_json(
            {"tenant_id": found.tenant_id, "version": found.version, **admission.model_dump(mode="json")}
        )
        return
    fields(
        [
            ("tenant", found.tenant_id),
            ("mode", admission.mode.value),
            ("policy version", found.version),
            ("updated", found.updated_at),
            ("updated by", found.updated_by),
        ]
    )
    click.echo()
    table(
        ["KIND", "ENTRY"],
        [
            *(["package", p] for p in admission.packages),
            *(["signer", s] for s in admission.signers),
        ],
        empty="no entries",
    )
