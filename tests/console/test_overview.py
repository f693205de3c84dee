"""The overview dashboard against the real services: the figures a platform admin and a department
admin see, a department admin who edits the URL or the session state, hostile names, and an
appliance (or one of its services) that stops answering."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from govmobile.ca.hierarchy import CaLayout
from tests.client.management import management_listener
from tests.console.conftest import browser_sessions, point_console_at, sign_in, texts
from tests.mdm.test_overview import enrolled_device
from tests.support.client import Login, make_login
from tests.support.mdm import Admin, Department, make_department
from tests.support.servers import refusing_port

Console = Callable[[], AppTest]
HOSTILE = "<img src=x onerror=alert(1)>"
REFUSED = "未找到，或不属于您的部门。"


@pytest.fixture
def fleet(platform: Admin, water: Department, fire: Department, device_factory: Any) -> None:
    """Water: one compliant device and one without a passcode. Fire: one compliant device."""
    good = enrolled_device(platform, water, device_factory)
    assert good.checkin().status_code == 200
    bad = enrolled_device(platform, water, device_factory)
    bad.posture.update(passcode_set=False)
    assert bad.checkin().status_code == 200
    assert enrolled_device(platform, fire, device_factory).checkin().status_code == 200


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def chart(app: AppTest, category: str) -> dict[str, int]:
    """The bars of the chart whose category axis is ``category``: label -> count, as drawn."""
    for element in app.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        if spec["encoding"]["y"]["title"] != category:
            continue
        [dataset] = element.proto.datasets
        rows = pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
        return {row["label"]: row["count"] for row in rows}
    raise AssertionError(f"no chart of {category!r}")


def test_a_platform_admin_sees_every_department_or_one(
    console: Console, platform_login: Login, fleet: None, water: Department
) -> None:
    app = sign_in(console().run(), platform_login)
    assert not app.exception
    assert metrics(app)["设备"] == "3"
    assert metrics(app)["不合规"] == "1"
    assert chart(app, "状态")["正常"] == 3
    assert chart(app, "原因")["未设置锁屏密码"] == 1
    assert chart(app, "最近在线")["1小时内"] == 3

    app.selectbox(key="draft.overview.department").set_value(water.tenant_id).run()
    assert metrics(app)["设备"] == "2"
    assert chart(app, "合规") == {"合规": 1, "不合规": 1, "尚未评估": 0}


def test_a_department_admin_sees_only_their_department_whatever_they_edit(
    console: Console, water_login: Login, fleet: None, fire: Department
) -> None:
    app = sign_in(console().run(), water_login)
    assert not app.exception
    assert metrics(app)["设备"] == "2"
    assert "Water" in texts(app)  # their department, by name
    assert "draft.overview.department" not in [s.key for s in app.selectbox]  # nothing to choose

    # The URL names another department: the API refuses, and no figure is shown.
    app.query_params["department"] = fire.tenant_id
    app.run()
    assert not app.exception
    assert REFUSED in texts(app)
    assert not app.metric
    assert not app.get("vega_lite_chart")

    # The same through the session state.
    del app.query_params["department"]
    app.session_state["gm.drafts"] = {"overview.department": fire.tenant_id}
    app.run()
    assert REFUSED in texts(app)
    assert not app.metric

    app.session_state["gm.drafts"] = {}
    app.run()
    assert metrics(app)["设备"] == "2"


def test_hostile_names_show_as_text(console: Console, platform: Admin, platform_login: Login) -> None:
    tenant = platform.ok("POST", "/api/v1/tenants", json={"slug": "hostile", "name": HOSTILE})
    login = make_login(platform, "tenant_admin", tenant["id"])
    app = sign_in(console().run(), login)
    assert not app.exception
    assert HOSTILE in [element.value for element in app.text]
    assert not any("<img" in str(element.value) for element in app.markdown)

    admin_app = sign_in(console().run(), platform_login)
    selector = admin_app.selectbox(key="draft.overview.department")
    assert (
        HOSTILE in [selector.format_func(option) for option in selector.options]
        or HOSTILE in selector.options
    )


def test_no_console_code_lets_html_through() -> None:
    """Streamlit escapes what it shows unless told not to: nothing in the console ever tells it."""
    source = Path(__file__).parents[2] / "console" / "govmobile_console"
    for module in source.rglob("*.py"):
        text = module.read_text()
        for needle in ("unsafe_allow_html", "st.html", "components.v1"):
            assert needle not in text, f"{module}: {needle}"


@pytest.fixture
def stoppable_appliance(
    ca_url: str, mdm_url: str, ca_layout: CaLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Console, Callable[[], None]]]:
    """The console on a management listener of its own, without the portal, that the test can stop."""
    directory = tmp_path / "own-management"
    directory.mkdir()
    listener = management_listener(ca_url, mdm_url, ca_layout.root_certificate, directory)
    appliance = listener.__enter__()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            listener.__exit__(None, None, None)

    point_console_at(monkeypatch, appliance)
    try:
        with browser_sessions() as open_session:
            yield open_session, stop
    finally:
        stop()


def test_a_service_that_does_not_answer_costs_its_own_figure_only(
    stoppable_appliance: tuple[Console, Callable[[], None]], platform_login: Login, fleet: None
) -> None:
    open_session, _ = stoppable_appliance
    app = sign_in(open_session().run(), platform_login)  # this listener has no portal behind it
    assert not app.exception
    assert metrics(app)["设备"] == "3"
    assert "此数据暂不可用：相应服务未响应。" in texts(app)


def test_an_appliance_that_stops_answering_shows_a_banner_not_a_traceback(
    stoppable_appliance: tuple[Console, Callable[[], None]], platform_login: Login
) -> None:
    open_session, stop = stoppable_appliance
    app = sign_in(open_session().run(), platform_login)
    assert app.title[0].value == "概览"
    stop()
    app.run()
    assert not app.exception
    assert "暂时无法连接管理接口。未做任何更改，请稍后重试。" in texts(app)
    assert "gm.signed_in" in app.session_state  # not signed out: the appliance may come back


def test_signing_in_to_an_appliance_that_does_not_answer_shows_a_banner(
    monkeypatch: pytest.MonkeyPatch, platform_login: Login, tmp_path: Path
) -> None:
    monkeypatch.delenv("GOVMOBILE_CONSOLE_CA_FILE", raising=False)
    with refusing_port() as port, browser_sessions() as open_session:
        monkeypatch.setenv("GOVMOBILE_CONSOLE_API_URL", f"https://127.0.0.1:{port}")
        app = sign_in(open_session().run(), platform_login)
    assert not app.exception
    assert "暂时无法连接管理接口。未做任何更改，请稍后重试。" in texts(app)


def test_another_department_is_refused_to_a_department_admin_of_a_new_department(
    console: Console, platform: Admin, fleet: None, water: Department
) -> None:
    """A department with no devices yet sees zeros, not the others' figures."""
    roads = make_department(platform, "roads")
    login = make_login(platform, "tenant_admin", roads.tenant_id)
    app = sign_in(console().run(), login)
    assert metrics(app)["设备"] == "0"
    app.query_params["department"] = water.tenant_id
    app.run()
    assert REFUSED in texts(app)
