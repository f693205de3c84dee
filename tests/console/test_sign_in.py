"""Signing in to the console against the real admin API: password, one-time code enrolled from the
console's own QR code, signing out, and a session that ends under the admin's feet (which sends
them back to sign in with what they were typing kept)."""

from __future__ import annotations

import datetime as dt
import io
import ssl
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from PIL import Image
from streamlit.testing.v1 import AppTest

from govmobile_console.session import SignedIn
from tests.client.management import Appliance
from tests.console.conftest import sign_in, texts
from tests.support.ca import Clock
from tests.support.client import Login
from tests.support.mdm import Department

Console = Callable[[], AppTest]


def token_of(app: AppTest) -> str:
    signed_in = app.session_state["gm.signed_in"]
    assert isinstance(signed_in, SignedIn)
    token = signed_in.client.connection.token
    assert token is not None
    return token


def test_a_platform_admin_signs_in_with_a_password_and_out_again(
    console: Console, platform_login: Login, portal_appliance: Appliance
) -> None:
    app = console().run()
    assert not app.exception
    assert app.title[0].value == "GovMobile 移动政务管理控制台"  # Chinese first
    sign_in(app, platform_login)
    assert not app.exception
    assert app.title[0].value == "概览"
    assert f"{platform_login.username} · 平台管理员" in texts(app)
    token = token_of(app)

    app.button(key="gm.sign_out").click().run()
    assert app.title[0].value == "GovMobile 移动政务管理控制台"
    assert "您已退出。" in texts(app)
    assert "gm.signed_in" not in app.session_state
    # The API session is over too, not only the console's.
    with httpx.Client(verify=ssl.create_default_context(cafile=str(portal_appliance.ca_file))) as http:
        answer = http.get(
            f"{portal_appliance.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 401


def test_a_wrong_password_is_refused_and_the_username_kept(console: Console, platform_login: Login) -> None:
    app = console().run()
    sign_in(app, Login(platform_login.username, "not-the-password"))
    assert not app.exception
    assert "用户名、密码或动态口令错误。" in texts(app)
    assert app.text_input(key="draft.sign_in.username").value == platform_login.username
    assert "gm.signed_in" not in app.session_state


def test_an_admin_enrols_a_one_time_code_from_the_qr_code_and_then_needs_it(
    console: Console, water_login: Login, clock: Clock
) -> None:
    app = console().run()
    sign_in(app, water_login)
    app.switch_page("screens/account.py").run()
    assert app.title[0].value == "我的账户"
    app.button(key="account.start_totp").click().run()
    assert not app.exception
    assert len(app.get("image")) == 1, [e.type for e in app.main]
    secret = app.code[0].value.replace(" ", "")
    assert len(secret) >= 16

    app.text_input[0].input("000000")
    app.button[-1].click().run()
    assert "动态口令不匹配。请检查身份验证器的时间，然后输入下一个动态口令。" in texts(app)

    app.text_input[0].input(pyotp.TOTP(secret).at(clock.now))
    app.button[-1].click().run()
    assert "动态口令已启用。下次登录时需要输入动态口令。" in texts(app)
    assert not app.get("image")
    assert not app.code

    app.button(key="gm.sign_out").click().run()
    sign_in(app, water_login)  # no code: refused
    assert "用户名、密码或动态口令错误。" in texts(app)
    clock.advance(dt.timedelta(seconds=30))  # the confirming code cannot sign in as well
    sign_in(app, water_login, code=pyotp.TOTP(secret).at(clock.now))
    assert not app.exception
    assert app.title[0].value == "我的账户"  # back on the page where they signed out


def test_the_qr_code_holds_the_provisioning_uri(console: Console, water_login: Login) -> None:
    """The image is a real QR code of the API's otpauth URI (decoded by reading its modules)."""
    from govmobile_console.views.account import qr_png, secret_of

    uri = "otpauth://totp/GovMobile:alice?secret=JBSWY3DPEHPK3PXP&issuer=GovMobile"
    png = Image.open(io.BytesIO(qr_png(uri)))
    assert png.format == "PNG"
    assert png.size[0] == png.size[1] > 100
    assert secret_of(uri) == "JBSW Y3DP EHPK 3PXP"
    assert parse_qs(urlsplit(uri).query)["secret"] == ["JBSWY3DPEHPK3PXP"]


def test_an_ended_session_sends_the_admin_back_to_sign_in_and_keeps_the_form(
    console: Console, platform_login: Login, water: Department, clock: Clock
) -> None:
    app = console().run()
    sign_in(app, platform_login)
    app.selectbox(key="draft.overview.department").set_value(water.tenant_id).run()
    app.radio(key="draft.overview.days").set_value(7).run()
    assert not app.exception

    clock.advance(dt.timedelta(hours=9))  # past the 8-hour session
    app.run()
    assert not app.exception
    assert app.title[0].value == "GovMobile 移动政务管理控制台"
    assert "您的会话已结束。请重新登录后继续，已输入的内容会保留。" in texts(app)
    assert app.text_input(key="draft.sign_in.username").value == platform_login.username

    sign_in(app, platform_login)
    assert app.title[0].value == "概览"
    assert app.selectbox(key="draft.overview.department").value == water.tenant_id
    assert app.radio(key="draft.overview.days").value == 7


def test_the_admin_switches_to_english_for_this_session(console: Console, platform_login: Login) -> None:
    app = console().run()
    app.selectbox(key="gm.language_choice").set_value("en").run()
    assert app.title[0].value == "GovMobile console"
    sign_in(app, platform_login)
    assert app.title[0].value == "Overview"
    assert f"{platform_login.username} · Platform admin" in texts(app)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Devices"] == "0"
