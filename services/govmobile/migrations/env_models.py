"""Every module that defines tables, imported for Alembic's comparisons.

Add a service's models here when it gets tables; the schema test fails otherwise.
"""

from typing import Any

import govmobile.ca.models
import govmobile.core.accounts
import govmobile.core.audit
import govmobile.core.directory
import govmobile.core.logins
import govmobile.core.tenancy
import govmobile.gateway.models
import govmobile.mdm.models
import govmobile.portal.models

__all__ = ["SCHEMA_ONLY_FOREIGN_KEYS", "govmobile", "include_object"]

#: Foreign keys the schema has and the models leave out, as (table, column, referred table.column).
#: Each service's process loads only its own models, and a key naming a table its process does not
#: load fails its flushes (tests/migrations/test_models_per_process.py): the portal's per-device
#: tables name the MDM's device. The migrations keep these keys; comparisons do not ask the models
#: for them.
SCHEMA_ONLY_FOREIGN_KEYS = frozenset(
    {
        ("portal_device_state", "device_id", "device.id"),
        ("portal_installation", "device_id", "device.id"),
    }
)


def include_object(item: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter for comparisons: every object except the schema-only foreign keys."""
    if kind != "foreign_key_constraint" or not reflected or compare_to is not None:
        return True
    (column,) = item.column_keys if len(item.column_keys) == 1 else (None,)
    referred = item.elements[0].target_fullname if len(item.elements) == 1 else None
    return (item.parent.name, column, referred) not in SCHEMA_ONLY_FOREIGN_KEYS
