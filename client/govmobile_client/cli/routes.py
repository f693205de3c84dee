"""route commands: the intranet apps the gateway serves to devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from govmobile_client import GovMobileClient, RouteSpec
from govmobile_client.cli.context import AdminContext, confirm, fail, json_option, pass_admin, yes_option
from govmobile_client.cli.output import emit_json, fields, table
from govmobile_client.models import IdentityMode, Route

#: Which option sets which field of the route.
_FIELD_OF = {
    "name": "name",
    "upstream": "upstream_url",
    "host": "host",
    "tenants": "allowed_tenants",
    "groups": "allowed_groups",
    "require_compliance": "require_compliance",
    "identity": "identity_mode",
    "user_header": "user_header",
    "groups_header": "groups_header",
    "rate_limit": "rate_limit",
    "websocket": "websocket",
    "connect_timeout": "connect_timeout_seconds",
    "read_timeout": "read_timeout_seconds",
    "description": "description",
}


def _route_options(*, creating: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of ``create`` and ``update``: the same fields, required only when creating."""
    again = "" if creating else " Replaces the list."
    options = [
        click.option(
            "--name",
            required=creating,
            help="Short name: the app is served at /apps/<name>/, and it is the assertion's audience."
            + ("" if creating else " Renames the route."),
        ),
        click.option("--upstream", required=creating, help="The app's URL: http(s)://host[:port][/path]."),
        click.option(
            "--host",
            help="Serve the app at this host name instead of /apps/<name>/"
            + ("." if creating else " ('' goes back to the path)."),
        ),
        click.option(
            "--tenant",
            "-t",
            "tenants",
            multiple=True,
            required=creating,
            help=f"A department admitted, slug or id; repeat for more.{again}",
        ),
        click.option(
            "--group",
            "-g",
            "groups",
            multiple=True,
            help=f"A group admitted, by name; repeat for more. Without any, everyone in the departments.{again}",
        ),
        click.option(
            "--require-compliance/--no-compliance",
            default=None,
            help="Refuse non-compliant devices (the default), or let them in.",
        ),
        click.option(
            "--identity",
            type=click.Choice([m.value for m in IdentityMode]),
            help="assertion: a signed JWT only (the default); assertion_and_headers: plus plain "
            "user and groups headers, for apps that cannot verify it.",
        ),
        click.option("--user-header", help="The user header of assertion_and_headers (X-Remote-User)."),
        click.option("--groups-header", help="The groups header of assertion_and_headers (X-Remote-Groups)."),
        click.option(
            "--rate-limit", type=click.IntRange(1, 10000), help="Requests per second per device (20)."
        ),
        click.option("--websocket/--no-websocket", default=None, help="Pass WebSocket upgrades."),
        click.option("--connect-timeout", type=click.IntRange(1, 60), help="Seconds to reach the app (5)."),
        click.option(
            "--read-timeout", type=click.IntRange(1, 3600), help="Seconds to wait for an answer (60)."
        ),
        click.option(
            "--upstream-ca-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="The CA certificate (PEM) of an https upstream (default: the system's trust store).",
        ),
        click.option(
            "--disabled/--enabled",
            default=None,
            help="A disabled route is kept but not served.",
        ),
        click.option("--description", help="What the app is, for other admins."),
    ]
    if not creating:
        options += [
            click.option("--any-group", is_flag=True, help="Admit everyone in the departments (no groups)."),
            click.option(
                "--no-upstream-ca", is_flag=True, help="Trust the system's store for the upstream again."
            ),
        ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.group()
def route() -> None:
    """Intranet apps the gateway serves to devices (platform admins change them)."""


@route.command("list")
@json_option
@pass_admin
def list_routes(admin: AdminContext, as_json: bool) -> None:
    """Every route, by name."""
    client = admin.client()
    routes = client.routes.list()
    if as_json:
        emit_json(list(routes))
        return
    slugs = _tenant_slugs(client)
    table(
        ["NAME", "SERVED AT", "UPSTREAM", "TENANTS", "GROUPS", "COMPLIANCE", "ENABLED", "ID"],
        (
            [
                r.name,
                _served_at(r),
                r.upstream_url,
                [slugs.get(t, t) for t in r.allowed_tenants],
                r.allowed_groups or "any",
                r.require_compliance,
                r.enabled,
                r.id,
            ]
            for r in routes
        ),
        empty="no routes",
    )


@route.command("show")
@click.argument("route_ref", metavar="ROUTE")
@json_option
@pass_admin
def show_route(admin: AdminContext, route_ref: str, as_json: bool) -> None:
    """One route, by name or id."""
    client = admin.client()
    _show_route(client, client.routes.show(route_ref), as_json)


@route.command("create")
@_route_options(creating=True)
@json_option
@pass_admin
def create_route(admin: AdminContext, /, as_json: bool, upstream_ca_file: Path | None, **given: Any) -> None:
    """Put an intranet app behind the gateway (platform admins).

    \b
    govmobile-admin route create --name oa --upstream http://10.0.3.15:8080 \\
        --tenant water --group field-staff
    """
    values = _values(given)
    if upstream_ca_file is not None:
        values["upstream_ca_pem"] = _read_pem(upstream_ca_file)
    client = admin.client()
    _show_route(client, client.routes.create(RouteSpec.model_validate(values)), as_json)


@route.command("update")
@click.argument("route_ref", metavar="ROUTE")
@_route_options(creating=False)
@json_option
@pass_admin
def update_route(
    admin: AdminContext,
    /,
    route_ref: str,
    as_json: bool,
    upstream_ca_file: Path | None,
    any_group: bool,
    no_upstream_ca: bool,
    **given: Any,
) -> None:
    """Change some fields of a route (name or id); the others keep their value."""
    if any_group and given["groups"]:
        fail("--group and --any-group contradict each other")
    if no_upstream_ca and upstream_ca_file is not None:
        fail("--upstream-ca-file and --no-upstream-ca contradict each other")
    values = _values(given)
    if any_group:
        values["allowed_groups"] = []
    if not values and upstream_ca_file is None and not no_upstream_ca:
        fail("nothing to change: give at least one option (see --help)")
    client = admin.client()
    found = client.routes.show(route_ref)
    if upstream_ca_file is not None:
        ca_pem = _read_pem(upstream_ca_file)
    elif no_upstream_ca or not found.upstream_ca_configured:
        ca_pem = None
    else:
        # A route is written whole and the API never returns its CA: without the file again,
        # the update would silently drop it.
        fail(
            f"route {found.name} trusts an upstream CA of its own, which the API never returns: "
            "give it again with --upstream-ca-file, or drop it with --no-upstream-ca"
        )
    current = RouteSpec.of(found, upstream_ca_pem=ca_pem)
    changed = RouteSpec.model_validate({**current.model_dump(), **values})
    _show_route(client, client.routes.replace(found.id, changed), as_json)


@route.command("delete")
@click.argument("route_ref", metavar="ROUTE")
@yes_option
@pass_admin
def delete_route(admin: AdminContext, route_ref: str, yes: bool) -> None:
    """Remove a route (name or id): devices lose the app within a second (platform admins)."""
    client = admin.client()
    found = client.routes.show(route_ref)
    confirm(
        f"delete route {found.name} ({_served_at(found)} -> {found.upstream_url})? "
        "devices lose access to the app",
        yes=yes,
    )
    client.routes.delete(found.id)
    click.echo(f"deleted route {found.name}")


def _values(given: Mapping[str, Any]) -> dict[str, Any]:
    """The route fields that the options given set."""
    values: dict[str, Any] = {}
    for option, value in given.items():
        if value is None or value == ():
            continue
        if option in ("tenants", "groups"):
            value = list(value)
        elif option == "host":
            value = value or None
        elif option == "disabled":
            values["enabled"] = not value
            continue
        values[_FIELD_OF[option]] = value
    return values


def _read_pem(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        fail(f"{path} is not a PEM file (expected text beginning with -----BEGIN CERTIFICATE-----)")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _tenant_slugs(client: GovMobileClient) -> dict[str, str]:
    """Tenant slugs by id, for the tenants the caller may see (others stay ids)."""
    return {t.id: t.slug for t in client.tenants.list()}


def _served_at(found: Route) -> str:
    return f"https://{found.host}/" if found.host else f"/apps/{found.name}/"


def _show_route(client: GovMobileClient, found: Route, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    slugs = _tenant_slugs(client)
    legacy = found.identity_mode is IdentityMode.ASSERTION_AND_HEADERS
    fields(
        [
            ("name", found.name),
            ("description", found.description or None),
            ("served at", _served_at(found)),
            ("upstream", found.upstream_url),
            ("upstream ca", "its own" if found.upstream_ca_configured else "system trust store"),
            ("tenants", [slugs.get(t, t) for t in found.allowed_tenants]),
            ("groups", found.allowed_groups or "anyone in the tenants"),
            ("compliance", "required" if found.require_compliance else "not required"),
            ("identity", found.identity_mode.value),
            ("user header", found.user_header if legacy else None),
            ("groups header", found.groups_header if legacy else None),
            ("rate limit", f"{found.rate_limit}/s per device"),
            ("websocket", found.websocket),
            ("timeouts", f"connect {found.connect_timeout_seconds} s, read {found.read_timeout_seconds} s"),
            ("enabled", found.enabled),
            ("version", found.version),
            ("updated", found.updated_at),
            ("updated by", found.updated_by),
            ("id", found.id),
        ]
    )
