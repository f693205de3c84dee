from __future__ import annotations

import pytest
from pydantic import SecretStr

from govmobile.ca.settings import CAServiceSettings
from govmobile.core.errors import ConfigurationError
from govmobile.core.settings import check_secret, load_settings

GOOD = "k3J9x-vQ2mW8zT4rL7pN"


@pytest.mark.parametrize(
    "value",
    ["", "   ", "changeme", "CHANGE-ME", "password", "<your secret here>", "my-changeme-secret-123", "short"],
)
def test_placeholder_and_missing_secrets_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"missing|placeholder|too short"):
        check_secret("thing", value)


def test_a_random_secret_is_accepted() -> None:
    assert check_secret("thing", SecretStr(GOOD)).get_secret_value() == GOOD


def test_service_start_up_refuses_missing_ra_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVMOBILE_CA_RA_SECRETS", raising=False)
    with pytest.raises(ConfigurationError, match="GOVMOBILE_CA_RA_SECRETS"):
        load_settings(CAServiceSettings)


def test_service_start_up_refuses_a_placeholder_ra_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVMOBILE_CA_RA_SECRETS", '{"mdm": "changeme"}')
    with pytest.raises(ConfigurationError, match="placeholder"):
        load_settings(CAServiceSettings)


def test_secrets_can_come_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    secrets_dir = tmp_path  # type: ignore[assignment]
    (secrets_dir / "govmobile_ca_ra_secrets").write_text(f'{{"mdm": "{GOOD}"}}')  # type: ignore[operator]
    monkeypatch.setenv("GOVMOBILE_SECRETS_DIR", str(secrets_dir))
    monkeypatch.delenv("GOVMOBILE_CA_RA_SECRETS", raising=False)
    settings = load_settings(CAServiceSettings)
    assert settings.ra_secrets["mdm"].get_secret_value() == GOOD


def test_an_ra_without_profiles_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVMOBILE_CA_RA_SECRETS", f'{{"stranger": "{GOOD}"}}')
    with pytest.raises(ConfigurationError, match="stranger"):
        load_settings(CAServiceSettings)


def test_secret_values_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVMOBILE_CA_RA_SECRETS", '{"mdm": "abc123"}')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(CAServiceSettings)
    assert "abc123" not in str(caught.value)
