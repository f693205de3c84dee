"""Migration 0010 (web apps): existing apps become Android apps; on downgrade, web apps and what
names them go with the columns, and Android apps stay (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from govmobile.core.database import Database
from govmobile.core.tenancy import TenantCreate, create_tenant
from govmobile.migrations import alembic_config
from govmobile.portal.assignments import Intent
from govmobile.portal.models import AppKind, PortalApp, PortalAssignment, PortalRelease

_APP = (
    "INSERT INTO portal_app (id, package, tenant_id, name_en, name_zh, description_en, description_zh, "
    "category, publisher, created_at, created_by) VALUES "
    "('app-1', 'cn.gov.water.inspect', :tenant, 'Inspect', '', '', '', '', '', CURRENT_TIMESTAMP, 'admin:a')"
)


def release(app_id: str, package: str, *, route: str | None = None) -> PortalRelease:
    return PortalRelease(
        app_id=app_id, package=package, version_code=1, version_name="1", min_sdk=0, size=0,
        sha256="0" * 64, signers="[]", uploaded_by="admin:a", uploaded_at=dt.datetime.now(dt.UTC),
        route_name=route, start_path="" if route else None,
    )  # fmt: skip


def test_apps_become_android_apps_and_web_apps_go_on_downgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    database = Database(database_url)
    try:
        with database.transaction() as session:
            water = create_tenant(session, TenantCreate(slug="water", name="Water")).id
        command.downgrade(config, "0009")
        database.dispose()
        with database.engine.begin() as connection:
            connection.execute(sa.text(_APP), {"tenant": water})
        command.upgrade(config, "head")
        database.dispose()
        with database.transaction() as session:
            android = session.get(PortalApp, "app-1")
            assert android is not None
            assert android.kind is AppKind.ANDROID
            web = PortalApp(
                package="cn.gov.water.oa", tenant_id=water, name_en="Office", kind=AppKind.WEB,
                created_at=dt.datetime.now(dt.UTC), created_by="admin:a",
            )  # fmt: skip
            session.add(web)
            session.flush()
            session.add(release(android.id, android.package))
            session.add(release(web.id, web.package, route="oa"))
            session.add(
                PortalAssignment(
                    tenant_id=water,
                    app_id=web.id,
                    package=web.package,
                    target_kind="department",
                    target_id=water,
                    intent=Intent.AVAILABLE,
                    created_at=dt.datetime.now(dt.UTC),
                    created_by="admin:a",
                )
            )

        command.downgrade(config, "0009")
        database.dispose()
        with database.engine.connect() as connection:
            apps = connection.execute(sa.text("SELECT package FROM portal_app")).scalars().all()
            releases = connection.execute(sa.text("SELECT package FROM portal_release")).scalars().all()
            assignments = connection.execute(sa.text("SELECT count(*) FROM portal_assignment")).scalar()
        assert (apps, releases, assignments) == (["cn.gov.water.inspect"], ["cn.gov.water.inspect"], 0)

        command.upgrade(config, "head")
        database.dispose()
        with database.session() as session:
            assert [a.kind for a in session.exec(select(PortalApp)).all()] == [AppKind.ANDROID]
    finally:
        database.dispose()
