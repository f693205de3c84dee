"""Path and query parameters as every admin API takes them: the limits are the contract's.

Ids are UUIDs (36 characters); a department is named by its id or its slug (up to 63). Longer
values cannot name anything, so they are refused before any lookup, and the OpenAPI documents
say so. A time filter must be convertible to UTC (year 1 at +14:00 is not).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from govmobile.core.times import IsoTime

ID_LENGTH = 36
TENANT_LENGTH = 63


IdPath = Annotated[str, Path(max_length=ID_LENGTH)]
TenantPath = Annotated[str, Path(max_length=TENANT_LENGTH, description="the department's id or slug")]
IdQuery = Annotated[str | None, Query(max_length=ID_LENGTH)]
TenantQuery = Annotated[str | None, Query(max_length=TENANT_LENGTH, description="a department's id or slug")]
MomentQuery = Annotated[
    IsoTime | None, Query(description="an ISO 8601 time with a time zone, e.g. 2027-01-31T00:00:00Z")
]
