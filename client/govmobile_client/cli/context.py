"""What every command shares: the client it runs with, name lookups, and how failures end.

Exit codes (documented in docs/admin-cli.md):

- 0: done;
- 1: the appliance could not be reached, or failed (connection, TLS, 5xx, an answer that is
  not the API): trying again later, or fixing the network, may help;
- 2: the command was refused or is wrong (usage, validation, not logged in, not found,
  not allowed, conflict, not confirmed): trying again as is will not help;
- 3: ``audit verify`` found the hash chain broken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from govmobile_client import GovMobileClient
from govmobile_client.cli import config
from govmobile_client.errors import (
    ClientError,
    ConnectionFailed,
    ServerError,
    Throttled,
    TlsUntrusted,
    UnexpectedAnswer,
)
from govmobile_client.models import Group, Person, Tenant

EXIT_UNREACHABLE = 1
EXIT_REFUSED = 2
EXIT_AUDIT_BROKEN = 3


class Failure(click.ClickException):
    """Refused or wrong: one line on stderr, never a traceback."""

    exit_code = EXIT_REFUSED

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class Unreachable(Failure):
    """The appliance could not be reached, or failed."""

    exit_code = EXIT_UNREACHABLE


class AuditChainBroken(Failure):
    exit_code = EXIT_AUDIT_BROKEN


def fail(message: str) -> NoReturn:
    raise Failure(message)


class AdminGroup(click.Group):
    """The root command group: the client's errors become a ``Failure`` here, and only here."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TlsUntrusted as exc:
            raise Unreachable(
                f"{exc.message} (pass it with `govmobile-admin login --ca-file`, or set {config.CA_FILE_ENV})"
            ) from exc
        except (ConnectionFailed, ServerError, UnexpectedAnswer) as exc:
            raise Unreachable(exc.message) from exc
        except Throttled as exc:
            wait = f" (in {exc.retry_after} s)" if exc.retry_after else ""
            raise Unreachable(f"{exc.message}{wait}") from exc
        except ClientError as exc:
            raise Failure(exc.message) from exc
        except config.ConfigProblem as exc:
            raise Failure(str(exc)) from exc


@dataclass
class AdminContext:
    """Built once per invocation; the client is made on first use and closed at the end."""

    environ: Mapping[str, str]
    _client: GovMobileClient | None = field(default=None, init=False)
    _warned: bool = field(default=False, init=False)

    @property
    def config_file(self) -> Path:
        return config.config_path(self.environ)

    def stored(self) -> config.StoredSession | None:
        path = self.config_file
        stored = config.load(path)
        if stored is not None and stored.token and config.readable_by_others(path) and not self._warned:
            self._warned = True
            click.echo(
                f"warning: {path} holds a session token and others can read it; chmod 600 it", err=True
            )
        return stored

    def target(self) -> config.Target:
        return config.resolve(self.environ, self.stored())

    def client(self) -> GovMobileClient:
        """A client for the configured server, carrying the session or API token."""
        if self._client is None:
            target = self.target()
            if target.server is None:
                fail(
                    "no server: run `govmobile-admin login --server https://127.0.0.1:8443`, "
                    f"or set {config.SERVER_ENV}"
                )
            if target.token is None:
                fail(
                    f"not logged in to {target.server}: run `govmobile-admin login`, "
                    f"or set {config.TOKEN_ENV} to an API token"
                )
            self._client = GovMobileClient(target.server, token=target.token, ca_file=target.ca_file)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- names people type, turned into ids ----------------------------------------------------

    def tenant(self, reference: str) -> Tenant:
        """A tenant by slug or id."""
        return self.client().tenants.show(reference)

    def tenant_id(self, reference: str | None) -> str | None:
        return None if reference is None else self.tenant(reference).id

    def person(self, reference: str, tenant: str | None) -> Person:
        """A person by username (within the tenant, when named) or id."""
        return self.client().people.resolve(reference, tenant_id=self.tenant_id(tenant))

    def group(self, reference: str, tenant: str | None) -> Group:
        """A group by name (within the tenant, when named) or id."""
        return self.client().groups.resolve(reference, tenant_id=self.tenant_id(tenant))


pass_admin = click.make_pass_decorator(AdminContext)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def confirm(question: str, *, yes: bool) -> None:
    """Ask before something that cannot be undone; refuse when nobody can answer."""
    if yes:
        return
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo(err=True)  # end the unanswered prompt's line
        fail("no confirmation (add --yes to confirm without a prompt); nothing was changed")
    if not agreed:
        fail("not confirmed; nothing was changed")


def tenant_option(help_text: str = "Tenant slug or id.", *, required: bool = False) -> Callable[..., Any]:
    return click.option("--tenant", "-t", "tenant", required=required, help=help_text)
