"""token create draws a QR code of a token that really enrolls a device."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import segno

from tests.admin_cli.conftest import Terminal, table_rows
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Department

#: What each half-block character says about its two rows of modules: (top light, bottom light).
_HALVES = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def printed_qr(output: str) -> list[list[bool]]:
    """The dark modules of the QR code drawn in ``output``, border included."""
    lines = [line for line in output.splitlines() if line and set(line) <= set(_HALVES) and "█" in line]
    rows: list[list[bool]] = []
    for line in lines:
        halves = [_HALVES[char] for char in line]
        rows.append([not top for top, _ in halves])
        rows.append([not bottom for _, bottom in halves])
    return rows


def field(output: str, label: str) -> str:
    prefix = f"{label}:"
    line = next(line for line in output.splitlines() if line.startswith(prefix))
    return line.removeprefix(prefix).strip()


def test_token_create_prints_a_qr_code_of_a_token_that_enrolls(
    admin: Terminal, water: Department, device_factory: Callable[..., ScriptedDevice]
) -> None:
    out = admin.ok(
        "token", "create", "--tenant", "water", "--person", "water-inspector", "--group", "field-staff"
    )
    token = field(out, "token")
    payload = field(out, "qr payload")
    assert parse_qs(urlsplit(payload).query)["token"] == [token]
    assert field(out, "person") == "water-inspector (Field Inspector)"
    # the code on screen is the code of that payload, light border and all
    expected = segno.make(payload, error="m").matrix
    drawn = printed_qr(out)
    border = 2
    inner = [row[border : border + len(expected)] for row in drawn[border : border + len(expected)]]
    assert inner == [[bool(module) for module in row] for row in expected]
    # and the token enrolls exactly one device
    tablet = device_factory()
    assert tablet.enroll(token).status_code == 200
    assert device_factory().enroll(token).status_code == 401
    listed = admin.json("token", "list", "--tenant", "water")
    assert [(t["status"], t["group_id"]) for t in listed] == [("used", water.group_id)]
    shown = admin.json("device", "show", tablet.device_id)
    assert shown["person_id"] == water.person_id


def test_token_options_json_and_revoke(
    admin: Terminal, water: Department, device_factory: Callable[..., ScriptedDevice]
) -> None:
    issued = admin.json(
        "token", "create", "-t", water.tenant_id, "-p", water.person_id, "--uses", "2", "--ttl-hours", "1"
    )
    assert issued["max_uses"] == 2
    plain = admin.ok("token", "create", "-t", "water", "-p", "water-inspector", "--no-qr")
    assert "█" not in plain
    rows = table_rows(admin.ok("token", "list"))
    assert sorted(r["USES"] for r in rows) == ["0/1", "0/2"]
    assert admin.json("token", "revoke", issued["id"])["status"] == "revoked"
    assert "status:     revoked" in admin.ok("token", "show", issued["id"])
    refused = device_factory().enroll(issued["token"])
    assert refused.status_code == 401
    assert (
        admin.refused("token", "create", "-t", "water", "-p", "nobody") == "no person 'nobody' in this tenant"
    )
    assert admin.refused("token", "create", "-t", "roads", "-p", "x") == "no tenant 'roads'"


def test_a_reenrollment_token_for_a_device_hands_it_to_another_person(
    admin: Terminal, water: Department, device_factory: Callable[..., ScriptedDevice]
) -> None:
    tablet = device_factory()
    assert (
        tablet.enroll(
            field(admin.ok("token", "create", "-t", "water", "-p", "water-inspector"), "token")
        ).status_code
        == 200
    )
    admin.ok("person", "create", "li.wei", "--tenant", "water", "--name", "Li Wei")
    # A token for someone else cannot take the known device over by its serial number...
    other = field(admin.ok("token", "create", "-t", "water", "-p", "li.wei", "--no-qr"), "token")
    taken = device_factory(tablet.serial_number).enroll(other)
    assert taken.status_code == 403
    assert taken.json()["error"] == "device_of_another_person"
    # ...a re-enrollment token made for it can, and for no other device.
    out = admin.ok("token", "create", "-t", "water", "-p", "li.wei", "--device", tablet.device_id, "--no-qr")
    assert field(out, "device") == tablet.device_id
    token = field(out, "token")
    assert device_factory().enroll(token).status_code == 403
    assert device_factory(tablet.serial_number).enroll(token).status_code == 200
    assert admin.json("device", "show", tablet.device_id)["person_id"] != water.person_id
    # Without --person, the token is for the device's own person.
    again = admin.json("token", "create", "-t", "water", "--device", tablet.device_id)
    assert admin.json("token", "show", again["id"])["device_id"] == tablet.device_id
    assert admin.refused("token", "create", "-t", "water") == (
        "name the person (--person), or the device to enroll again (--device)"
    )
