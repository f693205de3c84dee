"""app create-web: a web app's entry, the gateway route it opens, as a draft release.

A web app is reviewed and published with the same commands as an APK (`app approve`, `app
publish`, `app retire`) and assigned with `app assign`; who may open it is its gateway route's
admission (`route ...`), the one place that says so.
"""

from __future__ import annotations

from pathlib import Path

import click

from govmobile_client.cli.context import AdminContext, json_option, pass_admin, tenant_option
from govmobile_client.cli.output import emit_json, fields


@click.command("create-web")
@click.argument("package", metavar="PACKAGE")
@click.option("--route", "-r", required=True, help="The gateway route it opens (/apps/<route>/).")
@click.option("--start-path", default="", help="A path under the route, e.g. inbox?tab=new.")
@click.option("--name-en", help="English name (needed for a new web app).")
@click.option("--name-zh", help="Chinese name.")
@click.option("--description-en", help="English description.")
@click.option("--description-zh", help="Chinese description.")
@click.option("--category", help="Category, e.g. office.")
@click.option("--publisher", help="Who publishes the app.")
@click.option("--version-name", help="A name for this entry (default: its number).")
@click.option(
    "--icon",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    help="A PNG, WebP or JPEG icon (at most 1 MiB).",
)
@tenant_option("The owning department (platform admins; none: the platform's own app).")
@json_option
@pass_admin
def create_web(
    admin: AdminContext,
    package: str,
    route: str,
    start_path: str,
    name_en: str | None,
    name_zh: str | None,
    description_en: str | None,
    description_zh: str | None,
    category: str | None,
    publisher: str | None,
    version_name: str | None,
    icon: Path | None,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Draft a web app's entry (its first entry registers the app under PACKAGE).

    The route must exist, be enabled and admit the app's department. A release then needs
    `app approve` and `app publish`, like an APK; changing the route or start path later is a new
    entry, reviewed again."""
    release = admin.client().releases.create_web(
        package,
        route,
        start_path=start_path,
        tenant_id=admin.tenant_id(tenant),
        version_name=version_name,
        name_en=name_en,
        name_zh=name_zh,
        description_en=description_en,
        description_zh=description_zh,
        category=category,
        publisher=publisher,
        icon=icon,
    )
    if as_json:
        emit_json(release)
        return
    fields(
        [
            ("release", release.id),
            ("package", release.package),
            ("version", f"{release.version_name} ({release.version_code})"),
            ("state", release.state.value),
            ("route", release.route),
            ("opens", release.url),
        ]
    )
    click.echo(f"\nnext: govmobile-admin app approve {release.id}")
