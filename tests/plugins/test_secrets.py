"""The secrets role's lookup terms (plugins/filter/govmobile_secrets.py): one per secret, under the directory."""

from __future__ import annotations

import pytest

from tests.plugins.conftest import load_plugin

secrets = load_plugin("filter/govmobile_secrets.py")


def test_one_term_per_secret_in_order() -> None:
    generated = {
        "gateway_secret": {"file": "gateway/gateway-secret", "length": 40},
        "admin": {"file": "mdm/pw", "length": 24},
    }
    assert secrets.password_lookup_terms(generated, "/srv/secrets/aio/") == [
        "/srv/secrets/aio/gateway/gateway-secret length=40 chars=ascii_letters,digits",
        "/srv/secrets/aio/mdm/pw length=24 chars=ascii_letters,digits",
    ]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"file": "/etc/shadow", "length": 40}, "plain path under the secrets directory"),
        ({"file": "../../elsewhere", "length": 40}, "plain path under the secrets directory"),
        ({"file": "a file", "length": 40}, "plain path under the secrets directory"),
        ({"file": "ca/short", "length": 8}, "too few"),
    ],
)
def test_a_secret_outside_the_directory_or_too_short_is_refused(secret: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        secrets.password_lookup_terms({"bad": secret}, "/srv/secrets/aio")
