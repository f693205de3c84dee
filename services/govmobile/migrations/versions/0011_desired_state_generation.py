"""The desired-state generation: one number the database itself raises, in the same transaction,
whenever a row that can change any device's desired-state document changes.

The gateway's nginx answers an unchanged desired-state fetch (304) from shared memory only while
this number is the one the portal read when it last answered that device (docs/portal.md,
"Unchanged fetches at the gateway"). Triggers, not calls in each writer: every writer is covered,
those of every service and those written later, and none can forget. Coarse on purpose: any such
change, in any department, sends every device's next fetch to the portal once.

On PostgreSQL the triggers are deferred to the commit (constraint triggers), so the one row is
locked only for the last moment of a transaction: a writer never holds it while it waits for
another lock, and two writers cannot deadlock on it. They are row triggers (constraint triggers
cannot be per statement), so the function raises the number once per transaction and lets the
rest of a bulk change's rows pass (a transaction-local setting remembers it): the row is written
once, not once per device. On SQLite writers are serialised anyway.

A later migration that rebuilds one of these tables on SQLite (``batch_alter_table``) drops its
triggers: create them again there (``tests/migrations/test_desired_state_generation.py`` fails
until it does).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Every table a desired-state document is resolved from, and the columns whose update matters
#: (None: any update). The portal reads: the device (its department, person, state and bound
#: certificates), the certificate's revocation and expiry, the department, people, groups and
#: memberships, apps, releases, assignments, the department's rules, the gateway's routes (who
#: may open a web app) and the admin's install retries; the MDM's policy (app admission) besides.
WATCHED: dict[str, tuple[str, ...] | None] = {
    "device": ("tenant_id", "person_id", "state", "cert_sha256", "previous_cert_sha256"),
    "certificate": ("revoked_at", "not_after", "sha256"),
    "tenant": None,
    "person": None,
    "person_group": None,
    "membership": None,
    "portal_app": None,
    "portal_release": None,
    "portal_assignment": None,
    "portal_review_policy": None,
    "route": None,
    "policy": None,
    "portal_installation": ("retry_generation",),
}
#: Rows of these tables matter only when this holds (``{row}`` is NEW or OLD).
ROW_MATTERS = {"portal_installation": "{row}.retry_generation > 0"}
#: A new device or certificate changes no document: nobody can have targeted the device yet, and
#: the gateway holds answers per certificate, made only once the certificate is in its table and
#: bound to its device (an update of ``device``). Enrollments then leave the fleet's answers be.
NEW_ROWS_IRRELEVANT = frozenset({"device", "certificate"})

_BUMP = "UPDATE desired_state_generation SET value = value + 1 WHERE id = 1"
_FUNCTION = "govmobile_desired_state_changed"


def _trigger(table: str, event: str) -> str:
    return f"gm_ds_{table}_{event}"


def upgrade() -> None:
    op.create_table(
        "desired_state_generation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO desired_state_generation (id, value) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _row_events(table: str) -> list[tuple[str, str]]:
    events = [("delete", "OLD")]
    return events if table in NEW_ROWS_IRRELEVANT else [("insert", "NEW"), *events]


def _changed(columns: tuple[str, ...], old: str, new: str, distinct: str) -> str:
    return " OR ".join(f"{old}.{c} {distinct} {new}.{c}" for c in columns)


def _sqlite_triggers() -> None:
    for table, columns in WATCHED.items():
        condition = ROW_MATTERS.get(table)
        for event, row in _row_events(table):
            when = f" WHEN {condition.format(row=row)}" if condition else ""
            op.execute(
                f"CREATE TRIGGER {_trigger(table, event)} AFTER {event.upper()} ON {table} "
                f"FOR EACH ROW{when} BEGIN {_BUMP}; END"
            )
        of = f" OF {', '.join(columns)}" if columns else ""
        when = f" WHEN {_changed(columns, 'OLD', 'NEW', 'IS NOT')}" if columns else ""
        op.execute(
            f"CREATE TRIGGER {_trigger(table, 'update')} AFTER UPDATE{of} ON {table} "
            f"FOR EACH ROW{when} BEGIN {_BUMP}; END"
        )


#: The transaction-local setting that says this transaction has raised the number already.
_RAISED = "govmobile.desired_state_raised"


def _postgresql_triggers() -> None:
    op.execute(
        f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF current_setting('{_RAISED}', true) IS DISTINCT FROM txid_current()::text THEN "
        f"{_BUMP}; PERFORM set_config('{_RAISED}', txid_current()::text, true); END IF; "
        "RETURN NULL; END $$"
    )
    for table, columns in WATCHED.items():
        condition = ROW_MATTERS.get(table)
        for event, row in _row_events(table):
            when = f" WHEN ({condition.format(row=row)})" if condition else ""
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {_trigger(table, event)} AFTER {event.upper()} ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW{when} EXECUTE FUNCTION {_FUNCTION}()"
            )
        of = f" OF {', '.join(columns)}" if columns else ""
        when = f" WHEN ({_changed(columns, 'OLD', 'NEW', 'IS DISTINCT FROM')})" if columns else ""
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {_trigger(table, 'update')} AFTER UPDATE{of} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW{when} EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        for event in ("insert", "delete", "update"):
            on = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, event)}{on}")
    if postgresql:
        op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
    op.drop_table("desired_state_generation")
