"""Admin accounts: who may administer, in which role and for which department."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlmodel import col, select

from govmobile.administration.changes import AuditedChanges
from govmobile.core import logins
from govmobile.core.accounts import AdminAccount, AdminAccountCreate, Principal, Role, create_admin_account
from govmobile.core.database import Database, utcnow
from govmobile.core.errors import Conflict, NotFound, PermissionDenied
from govmobile.core.tenancy import get_tenant, tenant_id_of


class AdminAccounts:
    """Create, list, disable and unlock admin accounts within the caller's reach, or the operator's."""

    def __init__(self, database: Database, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.changes = AuditedChanges(database, clock)

    def create_admin(self, principal: Principal, data: AdminAccountCreate) -> AdminAccount:
        """Platform admins create anyone; tenant admins create tenant admins and auditors of their tenant."""
        with self.changes.by(principal) as change:
            data = data.model_copy(update={"tenant_id": tenant_id_of(change.session, data.tenant_id)})
            if principal.role is not Role.PLATFORM_ADMIN and (
                data.role is Role.PLATFORM_ADMIN or data.tenant_id != principal.tenant_id
            ):
                raise PermissionDenied(
                    "tenant admins can create accounts only for their own tenant", code="not_your_tenant"
                )
            if data.tenant_id is not None:
                get_tenant(change.session, data.tenant_id)
            account = create_admin_account(change.session, data)
            change.record(
                "admin.created",
                f"admin:{account.id}",
                tenant_id=account.tenant_id,
                details={"username": account.username, "role": account.role},
            )
            return account

    def list_admins(self, principal: Principal) -> list[AdminAccount]:
        """The accounts of the caller's tenant (all of them, for a platform admin)."""
        with self.database.session() as session:
            statement = select(AdminAccount)
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(AdminAccount.tenant_id == scope)
            return list(session.exec(statement.order_by(col(AdminAccount.username))).all())

    def set_admin_access(
        self, principal: Principal, account_id: str, *, disabled: bool | None, unlock: bool
    ) -> AdminAccount:
        """Disable, enable or unlock an account within the caller's reach."""
        with self.changes.by(principal) as change:
            account = change.session.get(AdminAccount, account_id)
            if (
                account is None
                or not principal.can_see_tenant(account.tenant_id)
                or (principal.role is not Role.PLATFORM_ADMIN and account.role == Role.PLATFORM_ADMIN)
            ):
                raise NotFound(f"no admin account {account_id}")
            if account.id == principal.account_id and disabled:
                raise Conflict("you cannot disable your own account", code="self_disable")
            if disabled is not None:
                account.disabled = disabled
            if unlock:
                logins.forget_failures(change.session, username=account.username)
            change.session.add(account)
            change.record(
                "admin.access_changed",
                f"admin:{account.id}",
                tenant_id=account.tenant_id,
                details={"disabled": disabled, "unlocked": unlock},
            )
            return account

    def unlock_login(self, username: str, *, source: str | None, actor: str) -> int:
        """Forget failed logins of a name (from every address), and of an address if given, so
        that their throttles lift at once: the recovery of an admin kept out (``govmobile-mdm
        unlock-admin``, run by an operator on the host). Returns how many were forgotten."""
        with self.changes.by_actor(actor) as change:
            forgotten = logins.forget_failures(change.session, username=username)
            if source is not None:
                forgotten += logins.forget_failures(change.session, source=source)
            change.record(
                "admin.login_unlocked",
                f"username:{username[:63]}",
                details={"source": source, "forgotten": forgotten},
            )
            return forgotten

    def bootstrap_platform_admin(self, username: str, password: str) -> bool:
        """Create the first platform admin from deployment secrets; False when it exists already."""
        with self.changes.by_actor("deployment") as change:
            existing = select(AdminAccount).where(AdminAccount.username == username)
            if change.session.exec(existing).first() is not None:
                return False
            account = create_admin_account(
                change.session,
                AdminAccountCreate(username=username, role=Role.PLATFORM_ADMIN, password=password),
            )
            change.record(
                "admin.created",
                f"admin:{account.id}",
                details={"username": username, "role": Role.PLATFORM_ADMIN.value, "bootstrap": True},
            )
            return True
