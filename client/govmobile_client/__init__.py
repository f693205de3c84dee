"""The one typed HTTP client of GovMobile's admin API, used by ``govmobile-admin`` and the console.

It is a distribution of its own (``client/``, ``govmobile-client``), like the device agent: it
reaches the services only over HTTP and imports none of their code (STYLE rule 4), so nothing
built on it (the console's image, an admin's laptop) carries the server. Its models are its own
(``models``), its errors are its own (``errors``), and every answer is checked against them.
"""

from govmobile_client.api import GovMobileClient
from govmobile_client.changes import AdmissionChange, PersonChange, PolicyChange, TenantChange
from govmobile_client.queries import AuditFilter, BulkTarget, CertificateFilter, DeviceFilter
from govmobile_client.routes import RouteSpec
from govmobile_client.version import __version__

__all__ = [
    "AdmissionChange",
    "AuditFilter",
    "BulkTarget",
    "CertificateFilter",
    "DeviceFilter",
    "GovMobileClient",
    "PersonChange",
    "PolicyChange",
    "RouteSpec",
    "TenantChange",
    "__version__",
]
