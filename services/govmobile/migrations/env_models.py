"""Every module that defines tables, imported for Alembic's comparisons.

Add a service's models here when it gets tables; the schema test fails otherwise.
"""

import govmobile.ca.models
import govmobile.core.accounts
import govmobile.core.audit
import govmobile.core.directory
import govmobile.core.logins
import govmobile.core.tenancy
import govmobile.gateway.models
import govmobile.mdm.models
import govmobile.portal.models

__all__ = ["govmobile"]
