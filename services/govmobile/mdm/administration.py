"""Administration use cases: logins and tokens, admin accounts, tenants, people, groups, audit.

The concepts live in the shared core (``govmobile.core``); the MDM serves their admin API.
Every method checks the caller's role and confines it to its tenant in the queries it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
from sqlmodel import Session, col, select

from govmobile.core import audit, logins
from govmobile.core.accounts import (
    AdminAccount,
    AdminAccountCreate,
    ApiToken,
    LoginPolicy,
    Principal,
    Role,
    TokenKind,
    confirm_login,
    create_admin_account,
    hash_token,
    issue_token,
    revoke_token,
    totp_step,
    verify_credentials,
)
from govmobile.core.database import Database, utcnow
from govmobile.core.directory import (
    Group,
    GroupCreate,
    Person,
    PersonCreate,
    PersonUpdate,
    add_member,
    create_group,
    create_person,
    get_group,
    get_person,
    groups_of,
    list_groups,
    list_people,
    members_of,
    remove_member,
    update_person,
)
from govmobile.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from govmobile.core.logins import UNKNOWN_SOURCE
from govmobile.core.tenancy import Tenant, TenantCreate, TenantUpdate, create_tenant, get_tenant, tenant_id_of
from govmobile.mdm.devices import access_lost


@dataclass(frozen=True)
class AuditQuery:
    action: str | None = None
    actor: str | None = None
    tenant_id: str | None = None
    since: dt.datetime | None = None
    before_id: int | None = None
    limit: int = 100


class Administration:
    def __init__(
        self, database: Database, *, login_policy: LoginPolicy, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.database = database
        self.login_policy = login_policy
        self.clock = clock

    def _tenant_id(self, tenant: str | None) -> str | None:
        """Accept a tenant's slug wherever its id is asked for."""
        with self.database.session() as session:
            return tenant_id_of(session, tenant)

    # -- sessions and tokens ------------------------------------------------------------------

    def login(
        self, username: str, password: str, totp_code: str | None, *, source: str = UNKNOWN_SOURCE
    ) -> tuple[str, ApiToken]:
        """Check credentials and return a session token (the secret is shown once).

        ``source`` is the client's address as the gateway saw it. The attempt is counted before
        the password is checked (see ``govmobile.core.logins``), and forgotten if it succeeds.
        """
        now = self.clock()
        throttle = self.login_policy.throttle
        source = logins.source_key(source)
        with self.database.transaction() as session:
            reservation = logins.reserve_attempt(
                session, source=source, username=username, now=now, throttle=throttle
            )
        with self.database.session() as session:
            verified = verify_credentials(session, username, password, totp_code, now=now)
        with self.database.transaction() as session:
            account = None if verified is None else confirm_login(session, verified, now=now)
            if account is not None:
                logins.attempt_succeeded(session, reservation, source=source, username=username)
                secret, token = issue_token(
                    session,
                    account,
                    kind=TokenKind.SESSION,
                    expires_at=now + self.login_policy.session_ttl,
                    name="login",
                )
                audit.record(
                    session,
                    actor=f"admin:{account.username}",
                    action="admin.login",
                    target=f"admin:{account.id}",
                    tenant_id=account.tenant_id,
                    details={"source": source},
                    now=now,
                )
                return secret, token
            # Committed, not rolled back: the reservation stays, as a failure.
            audit.record(
                session,
                actor="anonymous",
                action="admin.login_failed",
                target=f"username:{username[:63]}",
                details={"source": source},
                now=now,
            )
            reached = logins.now_throttled(
                session, source=source, username=username, now=now, throttle=throttle
            )
            if reached is not None:
                audit.record(
                    session,
                    actor="anonymous",
                    action="admin.login_throttled",
                    target=f"username:{username[:63]}",
                    details={"source": source, "limit": reached},
                    now=now,
                )
        raise Unauthenticated("invalid username, password or one-time code")

    def logout(self, principal: Principal, token_secret: str) -> None:
        now = self.clock()
        with self.database.transaction() as session:
            token = session.exec(
                select(ApiToken).where(ApiToken.token_hash == hash_token(token_secret))
            ).first()
            if token is not None and token.revoked_at is None:
                token.revoked_at = now
                session.add(token)

    def create_api_token(self, principal: Principal, name: str, ttl_days: int) -> tuple[str, ApiToken]:
        """A long-lived token for automation, acting as the caller."""
        now = self.clock()
        with self.database.transaction() as session:
            account = _account(session, principal)
            secret, token = issue_token(
                session, account, kind=TokenKind.API, expires_at=now + dt.timedelta(days=ttl_days), name=name
            )
            audit.record(
                session,
                actor=principal.actor,
                action="api_token.created",
                target=f"api_token:{token.id}",
                tenant_id=principal.tenant_id,
                details={"name": name, "ttl_days": ttl_days},
                now=now,
            )
            return secret, token

    def list_api_tokens(self, principal: Principal) -> list[ApiToken]:
        with self.database.session() as session:
            statement = select(ApiToken).where(ApiToken.account_id == principal.account_id)
            return list(session.exec(statement.order_by(col(ApiToken.created_at).desc())).all())

    def revoke_api_token(self, principal: Principal, token_id: str) -> ApiToken:
        now = self.clock()
        with self.database.transaction() as session:
            token = revoke_token(session, principal, token_id, now=now)
            audit.record(
                session,
                actor=principal.actor,
                action="api_token.revoked",
                target=f"api_token:{token.id}",
                tenant_id=principal.tenant_id,
                now=now,
            )
            return token

    def start_totp(self, principal: Principal) -> str:
        """A new TOTP secret for the caller, active once confirmed with a code."""
        secret = pyotp.random_base32()
        with self.database.transaction() as session:
            account = _account(session, principal)
            account.pending_totp_secret = secret
            session.add(account)
        return pyotp.TOTP(secret).provisioning_uri(name=principal.username, issuer_name="GovMobile")

    def confirm_totp(self, principal: Principal, code: str) -> None:
        now = self.clock()
        with self.database.transaction() as session:
            account = _account(session, principal)
            pending = account.pending_totp_secret
            if pending is None:
                raise Conflict("start TOTP enrollment first", code="no_pending_totp")
            step = totp_step(pending, code, now)
            if step is None:
                raise InvalidInput(
                    "the one-time code does not match; check the authenticator's clock", code="bad_totp"
                )
            account.totp_secret = pending
            account.pending_totp_secret = None
            account.totp_last_step = step  # the confirming code cannot log in as well
            session.add(account)
            audit.record(
                session,
                actor=principal.actor,
                action="admin.totp_enabled",
                target=f"admin:{account.id}",
                tenant_id=account.tenant_id,
                now=now,
            )

    # -- admin accounts -------------------------------------------------------------------------

    def create_admin(self, principal: Principal, data: AdminAccountCreate) -> AdminAccount:
        """Platform admins create anyone; tenant admins create tenant admins and auditors of their tenant."""
        principal.require_write()
        data = data.model_copy(update={"tenant_id": self._tenant_id(data.tenant_id)})
        if principal.role is not Role.PLATFORM_ADMIN and (
            data.role is Role.PLATFORM_ADMIN or data.tenant_id != principal.tenant_id
        ):
            raise PermissionDenied(
                "tenant admins can create accounts only for their own tenant", code="not_your_tenant"
            )
        now = self.clock()
        with self.database.transaction() as session:
            if data.tenant_id is not None:
                get_tenant(session, data.tenant_id)
            account = create_admin_account(session, data)
            audit.record(
                session,
                actor=principal.actor,
                action="admin.created",
                target=f"admin:{account.id}",
                tenant_id=account.tenant_id,
                details={"username": account.username, "role": account.role},
                now=now,
            )
            return account

    def list_admins(self, principal: Principal) -> list[AdminAccount]:
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
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            account = session.get(AdminAccount, account_id)
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
                logins.forget_failures(session, username=account.username)
            session.add(account)
            audit.record(
                session,
                actor=principal.actor,
                action="admin.access_changed",
                target=f"admin:{account.id}",
                tenant_id=account.tenant_id,
                details={"disabled": disabled, "unlocked": unlock},
                now=now,
            )
            return account

    def unlock_login(self, username: str, *, source: str | None, actor: str) -> int:
        """Forget failed logins of a name (from every address), and of an address if given, so
        that their throttles lift at once: the recovery of an admin kept out (``govmobile-mdm
        unlock-admin``, run by an operator on the host). Returns how many were forgotten."""
        now = self.clock()
        with self.database.transaction() as session:
            forgotten = logins.forget_failures(session, username=username)
            if source is not None:
                forgotten += logins.forget_failures(session, source=source)
            audit.record(
                session,
                actor=actor,
                action="admin.login_unlocked",
                target=f"username:{username[:63]}",
                details={"source": source, "forgotten": forgotten},
                now=now,
            )
            return forgotten

    def bootstrap_platform_admin(self, username: str, password: str) -> bool:
        """Create the first platform admin from deployment secrets; False when it exists already."""
        now = self.clock()
        with self.database.transaction() as session:
            if (
                session.exec(select(AdminAccount).where(AdminAccount.username == username)).first()
                is not None
            ):
                return False
            account = create_admin_account(
                session, AdminAccountCreate(username=username, role=Role.PLATFORM_ADMIN, password=password)
            )
            audit.record(
                session,
                actor="deployment",
                action="admin.created",
                target=f"admin:{account.id}",
                details={"username": username, "role": Role.PLATFORM_ADMIN.value, "bootstrap": True},
                now=now,
            )
            return True

    # -- tenants ----------------------------------------------------------------------------------

    def create_tenant(self, principal: Principal, data: TenantCreate) -> Tenant:
        principal.require_platform_admin()
        now = self.clock()
        with self.database.transaction() as session:
            tenant = create_tenant(session, data)
            audit.record(
                session,
                actor=principal.actor,
                action="tenant.created",
                target=f"tenant:{tenant.id}",
                tenant_id=tenant.id,
                details={"slug": tenant.slug, "max_devices": tenant.max_devices},
                now=now,
            )
            return tenant

    def list_tenants(self, principal: Principal) -> list[Tenant]:
        with self.database.session() as session:
            statement = select(Tenant)
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(Tenant.id == scope)
            return list(session.exec(statement.order_by(col(Tenant.slug))).all())

    def get_tenant(self, principal: Principal, tenant: str) -> Tenant:
        with self.database.session() as session:
            found = get_tenant(session, tenant)
            principal.require_tenant(found.id, "tenant")
            return found

    def update_tenant(self, principal: Principal, tenant: str, data: TenantUpdate) -> Tenant:
        principal.require_platform_admin()
        now = self.clock()
        with self.database.transaction() as session:
            found = get_tenant(session, tenant)
            for key, value in data.model_dump(exclude_unset=True).items():
                setattr(found, key, value)
            session.add(found)
            audit.record(
                session,
                actor=principal.actor,
                action="tenant.updated",
                target=f"tenant:{found.id}",
                tenant_id=found.id,
                details=data.model_dump(exclude_unset=True),
                now=now,
            )
            return found

    # -- people and groups -------------------------------------------------------------------------

    def create_person(self, principal: Principal, data: PersonCreate) -> Person:
        principal.require_write()
        data = data.model_copy(update={"tenant_id": self._tenant_id(data.tenant_id)})
        principal.require_tenant(data.tenant_id, "tenant")
        now = self.clock()
        with self.database.transaction() as session:
            get_tenant(session, data.tenant_id)
            person = create_person(session, data)
            audit.record(
                session,
                actor=principal.actor,
                action="person.created",
                target=f"person:{person.id}",
                tenant_id=person.tenant_id,
                details={"username": person.username},
                now=now,
            )
            return person

    def list_people(
        self, principal: Principal, *, tenant_id: str | None, text: str | None, limit: int, offset: int
    ) -> list[Person]:
        with self.database.session() as session:
            return list_people(
                session,
                scope=principal.tenant_scope(),
                tenant_id=tenant_id_of(session, tenant_id),
                text=text,
                limit=limit,
                offset=offset,
            )

    def get_person(self, principal: Principal, person_id: str) -> tuple[Person, list[Group]]:
        with self.database.session() as session:
            person = get_person(session, person_id, scope=principal.tenant_scope())
            return person, groups_of(session, person.id)

    def update_person(self, principal: Principal, person_id: str, data: PersonUpdate) -> Person:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            person = update_person(
                session, get_person(session, person_id, scope=principal.tenant_scope()), data
            )
            if data.disabled:
                access_lost(session, person_id=person.id, reason="person disabled", now=now)
            audit.record(
                session,
                actor=principal.actor,
                action="person.updated",
                target=f"person:{person.id}",
                tenant_id=person.tenant_id,
                details=data.model_dump(exclude_unset=True),
                now=now,
            )
            return person

    def create_group(self, principal: Principal, data: GroupCreate) -> Group:
        principal.require_write()
        data = data.model_copy(update={"tenant_id": self._tenant_id(data.tenant_id)})
        principal.require_tenant(data.tenant_id, "tenant")
        now = self.clock()
        with self.database.transaction() as session:
            get_tenant(session, data.tenant_id)
            group = create_group(session, data)
            audit.record(
                session,
                actor=principal.actor,
                action="group.created",
                target=f"group:{group.id}",
                tenant_id=group.tenant_id,
                details={"name": group.name},
                now=now,
            )
            return group

    def list_groups(self, principal: Principal, *, tenant_id: str | None) -> list[tuple[Group, int]]:
        with self.database.session() as session:
            return list_groups(
                session, scope=principal.tenant_scope(), tenant_id=tenant_id_of(session, tenant_id)
            )

    def group_members(self, principal: Principal, group_id: str) -> tuple[Group, list[Person]]:
        with self.database.session() as session:
            group = get_group(session, group_id, scope=principal.tenant_scope())
            return group, members_of(session, group)

    def add_member(self, principal: Principal, group_id: str, person_id: str) -> bool:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            group = get_group(session, group_id, scope=principal.tenant_scope())
            person = get_person(session, person_id, scope=group.tenant_id)
            added = add_member(session, group, person)
            if added:
                audit.record(
                    session,
                    actor=principal.actor,
                    action="group.member_added",
                    target=f"group:{group.id}",
                    tenant_id=group.tenant_id,
                    details={"person_id": person.id},
                    now=now,
                )
            return added

    def remove_member(self, principal: Principal, group_id: str, person_id: str) -> None:
        principal.require_write()
        now = self.clock()
        with self.database.transaction() as session:
            group = get_group(session, group_id, scope=principal.tenant_scope())
            remove_member(session, group, person_id)
            access_lost(session, person_id=person_id, reason="left a group", now=now)
            audit.record(
                session,
                actor=principal.actor,
                action="group.member_removed",
                target=f"group:{group.id}",
                tenant_id=group.tenant_id,
                details={"person_id": person_id},
                now=now,
            )

    # -- audit ------------------------------------------------------------------------------------

    def audit_events(self, principal: Principal, query: AuditQuery) -> list[audit.AuditEvent]:
        """Newest first; tenant-scoped callers see their tenant's events only."""
        if query.since is not None and query.since.tzinfo is None:
            raise InvalidInput("since needs a time zone, e.g. 2027-01-01T00:00:00Z")
        with self.database.session() as session:
            statement = select(audit.AuditEvent)
            scope = principal.tenant_scope()
            if scope is not None:
                statement = statement.where(audit.AuditEvent.tenant_id == scope)
            if query.tenant_id is not None:
                statement = statement.where(
                    audit.AuditEvent.tenant_id == tenant_id_of(session, query.tenant_id)
                )
            if query.action is not None:
                statement = statement.where(audit.AuditEvent.action == query.action)
            if query.actor is not None:
                statement = statement.where(audit.AuditEvent.actor == query.actor)
            if query.since is not None:
                statement = statement.where(col(audit.AuditEvent.occurred_at) >= query.since)
            if query.before_id is not None:
                statement = statement.where(col(audit.AuditEvent.id) < query.before_id)
            return list(
                session.exec(statement.order_by(col(audit.AuditEvent.id).desc()).limit(query.limit)).all()
            )

    def verify_audit(self, principal: Principal) -> audit.ChainVerification:
        """Verify the whole chain (it is one chain for all tenants; only ids are reported)."""
        with self.database.session() as session:
            return audit.verify_chain(session)


def _account(session: Session, principal: Principal) -> AdminAccount:
    account = session.get(AdminAccount, principal.account_id)
    if account is None:
        raise Unauthenticated("your account no longer exists")
    return account
