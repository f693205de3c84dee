"""The console under Streamlit's AppTest, against the real services: the management listener of
``tests/client/management.py`` (real TLS, routing by the admin API's map) in front of the CA, the
MDM and the app portal that the shared fixtures run on loopback. Nothing of the API is mocked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from govmobile_console.session import SignedIn
from govmobile_console.settings import PREFIX
from tests.client.management import Appliance
from tests.support.client import Login, make_login
from tests.support.mdm import Admin, Department

APP = Path(__file__).parents[2] / "console" / "govmobile_console" / "app.py"
#: Generous for a loaded 2-core machine: a run waits on real servers, and a slow run is not a failure.
RUN_TIMEOUT = 60


def point_console_at(monkeypatch: pytest.MonkeyPatch, appliance: Appliance, **extra: str) -> None:
    monkeypatch.setenv(f"{PREFIX}API_URL", appliance.url)
    monkeypatch.setenv(f"{PREFIX}CA_FILE", str(appliance.ca_file))
    monkeypatch.setenv(f"{PREFIX}TIME_ZONE", "Asia/Shanghai")
    monkeypatch.delenv(f"{PREFIX}LANGUAGE", raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(f"{PREFIX}{name}", value)


@pytest.fixture
def console(portal_appliance: Appliance, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], AppTest]]:
    """A fresh browser session of the console, pointed at the appliance (not run yet)."""
    point_console_at(monkeypatch, portal_appliance)
    with browser_sessions() as open_session:
        yield open_session


@contextmanager
def browser_sessions() -> Iterator[Callable[[], AppTest]]:
    """Makes AppTests; at the end, closes the API clients their sessions still hold (as a
    Streamlit server does when a browser session ends), so no connection is left open."""
    made: list[AppTest] = []

    def open_session() -> AppTest:
        app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
        made.append(app)
        return app

    try:
        yield open_session
    finally:
        for app in made:
            signed_in = app.session_state.get("gm.signed_in", None)
            if isinstance(signed_in, SignedIn):
                signed_in.client.close()


@pytest.fixture
def platform_login(platform: Admin) -> Login:
    return make_login(platform, "platform_admin")


@pytest.fixture
def water_login(platform: Admin, water: Department) -> Login:
    return make_login(platform, "tenant_admin", water.tenant_id)


def sign_in(app: AppTest, login: Login, code: str = "") -> AppTest:
    """Fill in and send the sign-in form (the app must be on the sign-in page)."""
    form = app.get("form")[0] if app.get("form") else None
    assert form is not None, "the sign-in form is not shown"
    app.text_input(key="draft.sign_in.username").input(login.username)
    app.text_input[1].input(login.password)
    app.text_input[2].input(code)
    app.button[-1].click()  # the form's submit button
    return app.run()


def texts(app: AppTest) -> list[str]:
    """Everything the page shows as plain text, markdown or alerts, for assertions."""
    shown: list[str] = []
    for kind in ("title", "subheader", "text", "caption", "markdown", "error", "warning", "info", "success"):
        shown += [str(element.value) for element in app.get(kind)]
    return shown
