"""The one typed HTTP client of GovMobile's admin API, used by ``govmobile-admin`` and the console.

It reaches the services only over HTTP and imports none of their code (STYLE rule 4): its
models are its own (``models``), its errors are its own (``errors``), and every answer is
checked against them.
"""

from govmobile_client.api import GovMobileClient
from govmobile_client.changes import PersonChange, PolicyChange, TenantChange
from govmobile_client.queries import AuditFilter, BulkTarget, CertificateFilter, DeviceFilter
from govmobile_client.routes import RouteSpec

__all__ = [
    "AuditFilter",
    "BulkTarget",
    "CertificateFilter",
    "DeviceFilter",
    "GovMobileClient",
    "PersonChange",
    "PolicyChange",
    "RouteSpec",
    "TenantChange",
]
