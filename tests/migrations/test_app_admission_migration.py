"""Migration 0009 keeps the allowlists departments already have (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import command

from govmobile.core.database import Database
from govmobile.core.tenancy import TenantCreate, create_tenant
from govmobile.mdm.models import Policy
from govmobile.migrations import alembic_config

_POLICY = (
    "INSERT INTO policy (tenant_id, min_os_version, require_encryption, require_passcode, forbid_rooted, "
    "admitted_apps_only, admitted_apps, max_offline_hours, block_intranet_when_noncompliant, "
    "lock_after_noncompliant_days, checkin_interval_seconds, version, updated_at, updated_by) VALUES "
    "(:tenant, NULL, true, true, true, :only, :apps, NULL, true, NULL, 900, 3, CURRENT_TIMESTAMP, 'admin:alice')"
)


def test_an_allowlist_becomes_the_allowlist_mode_and_comes_back_on_downgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    database = Database(database_url)
    try:
        with database.transaction() as session:
            strict = create_tenant(session, TenantCreate(slug="water", name="Water")).id
            relaxed = create_tenant(session, TenantCreate(slug="fire", name="Fire")).id
        command.downgrade(config, "0008")
        database.dispose()
        with database.engine.begin() as connection:
            for tenant, only, apps in (
                (strict, True, ["gov.water.flood", "gov.mail", "gov.mail"]),
                (relaxed, False, ["gov.fire.hydrants"]),
            ):
                connection.execute(
                    sa.text(_POLICY), {"tenant": tenant, "only": only, "apps": json.dumps(apps)}
                )

        command.upgrade(config, "head")
        database.dispose()
        with database.session() as session:
            water = session.get(Policy, strict)
            fire = session.get(Policy, relaxed)
            assert water is not None
            assert fire is not None
            assert (water.app_admission_mode, json.loads(water.app_admission_packages)) == (
                "allowlist",
                ["gov.mail", "gov.water.flood"],
            )
            assert json.loads(water.app_admission_signers) == []
            assert water.version == 3  # the same policy, not a new one
            # A list kept while the flag was off stays, with no rule.
            assert (fire.app_admission_mode, json.loads(fire.app_admission_packages)) == (
                "off",
                ["gov.fire.hydrants"],
            )
            fire.app_admission_mode = "blocklist"  # type: ignore[assignment]
            session.add(fire)
            session.commit()

        command.downgrade(config, "0008")
        database.dispose()
        with database.engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT tenant_id, admitted_apps_only, admitted_apps FROM policy")
            )
            rows = {row[0]: (bool(row[1]), json.loads(row[2])) for row in found}
        assert rows == {
            strict: (True, ["gov.mail", "gov.water.flood"]),
            # A blocklist has no place in the old schema: no rule, never an allowlist of its entries.
            relaxed: (False, []),
        }
        command.upgrade(config, "head")
    finally:
        database.dispose()
