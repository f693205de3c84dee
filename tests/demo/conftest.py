from tests.gateway.conftest import (  # noqa: F401 - the gateway's fixtures, shared with these tests
    gateway,
    gateway_overrides,
    gateway_tls,
    management,
    mobile,
)
from tests.mdm.conftest import ca_url, clock, http, mdm_app, mdm_url, platform, signer, water  # noqa: F401
