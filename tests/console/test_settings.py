"""The console's settings: a missing or wrong one is named, with what to give, on the page."""

from __future__ import annotations

import pytest

from govmobile_console.settings import ConsoleSettings, SettingsError
from tests.console.conftest import browser_sessions


def test_good_settings_are_read() -> None:
    settings = ConsoleSettings.from_environment(
        {"GOVMOBILE_CONSOLE_API_URL": "https://gateway:8443", "GOVMOBILE_CONSOLE_TIME_ZONE": "UTC"}
    )
    assert settings.api_url == "https://gateway:8443"
    assert settings.time_zone.key == "UTC"
    assert settings.default_language == "zh_CN"
    assert settings.ca_file is None


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({}, "GOVMOBILE_CONSOLE_API_URL"),
        ({"GOVMOBILE_CONSOLE_TIME_ZONE": "Mars/Base"}, "GOVMOBILE_CONSOLE_TIME_ZONE"),
        ({"GOVMOBILE_CONSOLE_TIME_ZONE": "../../etc/passwd"}, "GOVMOBILE_CONSOLE_TIME_ZONE"),
        ({"GOVMOBILE_CONSOLE_LANGUAGE": "fr"}, "GOVMOBILE_CONSOLE_LANGUAGE"),
        ({"GOVMOBILE_CONSOLE_API_TIMEOUT_SECONDS": "0"}, "GOVMOBILE_CONSOLE_API_TIMEOUT_SECONDS"),
        ({"GOVMOBILE_CONSOLE_API_TIMEOUT_SECONDS": "soon"}, "GOVMOBILE_CONSOLE_API_TIMEOUT_SECONDS"),
    ],
)
def test_a_wrong_setting_is_named(environment: dict[str, str], named: str) -> None:
    values = {"GOVMOBILE_CONSOLE_API_URL": "https://gateway:8443", **environment}
    if not environment:
        values = {}
    with pytest.raises(SettingsError, match=named):
        ConsoleSettings.from_environment(values)


def test_the_page_says_which_setting_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVMOBILE_CONSOLE_API_URL", raising=False)
    with browser_sessions() as open_session:
        app = open_session().run()
    assert not app.exception
    assert "GOVMOBILE_CONSOLE_API_URL is not set" in app.error[0].value
