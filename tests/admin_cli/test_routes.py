"""route: intranet apps on the real gateway, written through its management listener (nginx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from tests.admin_cli.conftest import Terminal, table_rows
from tests.client.management import Appliance
from tests.support.admins import make_admin
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, Department
from tests.support.upstreams import RecordingUpstream


def script_env(appliance: Appliance, token: str) -> dict[str, str | None]:
    return {
        "GOVMOBILE_ADMIN_SERVER": appliance.url,
        "GOVMOBILE_ADMIN_CA_FILE": str(appliance.ca_file),
        "GOVMOBILE_ADMIN_TOKEN": token,
    }


@pytest.fixture
def ops(tmp_path: Path, gateway_appliance: Appliance, platform: Admin) -> Terminal:
    """The platform admin's scripts, pointed at the gateway's management listener with an API token."""
    return Terminal(tmp_path / "ops.json", script_env(gateway_appliance, platform.token))


def test_create_by_tenant_slug_and_the_route_is_live(
    ops: Terminal,
    gateway: Gateway,
    water: Department,
    upstream: tuple[RecordingUpstream, str],
    mobile: ScriptedDevice,
) -> None:
    with gateway.reloaded():  # a poll that meets a new worker proves nothing about the old ones
        made = ops.json(
            "route", "create",
            "--name", "oa",
            "--upstream", upstream[1],
            "--tenant", "water",
            "--group", "field-staff",
            "--identity", "assertion_and_headers",
            "--rate-limit", "50",
            "--websocket",
            "--description", "Office automation",
        )  # fmt: skip
    assert made["allowed_tenants"] == [water.tenant_id]
    assert made["allowed_groups"] == ["field-staff"]
    assert (made["identity_mode"], made["rate_limit"], made["websocket"]) == (
        "assertion_and_headers",
        50,
        True,
    )
    assert (made["require_compliance"], made["enabled"], made["version"]) == (True, True, 1)
    assert gateway.status_of("/apps/oa/") == 401
    with mobile.tls_client() as device:
        opened = device.get("/apps/oa/documents/42")
    assert opened.status_code == 200, opened.text
    assert upstream[0].headers_seen()[-1]["x-remote-user"] == "water-inspector"

    rows = table_rows(ops.ok("route", "list"))
    assert [(r["NAME"], r["SERVED AT"], r["UPSTREAM"], r["TENANTS"], r["GROUPS"]) for r in rows] == [
        ("oa", "/apps/oa/", upstream[1], "water", "field-staff")
    ]
    assert rows[0]["ID"] == made["id"]
    assert ops.json("route", "list") == [made]
    shown = ops.ok("route", "show", "oa")
    for line in (
        "name:          oa",
        "description:   Office automation",
        "served at:     /apps/oa/",
        f"upstream:      {upstream[1]}",
        "upstream ca:   system trust store",
        "tenants:       water",
        "groups:        field-staff",
        "compliance:    required",
        "identity:      assertion_and_headers",
        "user header:   X-Remote-User",
        "rate limit:    50/s per device",
        "timeouts:      connect 5 s, read 60 s",
        "updated by:    admin:root-admin",
    ):
        assert line in shown.splitlines(), shown
    assert ops.json("route", "show", made["id"]) == made


def test_update_changes_only_what_it_is_told(
    ops: Terminal,
    gateway: Gateway,
    water: Department,
    upstream: tuple[RecordingUpstream, str],
    mobile: ScriptedDevice,
) -> None:
    made = ops.json(
        "route", "create", "--name", "oa", "--upstream", upstream[1], "-t", "water", "-g", "field-staff",
        "--identity", "assertion_and_headers", "--read-timeout", "120",
    )  # fmt: skip
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/", mobile.cert_files) == 200)

    updated = ops.json("route", "update", "oa", "--group", "cabinet")
    unchanged = {k: v for k, v in made.items() if k not in ("allowed_groups", "version", "updated_at")}
    assert {k: v for k, v in updated.items() if k in unchanged} == unchanged
    assert (updated["allowed_groups"], updated["version"]) == (["cabinet"], 2)
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/", mobile.cert_files) == 403)

    assert ops.json("route", "update", made["id"], "--any-group")["allowed_groups"] == []
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/", mobile.cert_files) == 200)
    assert ops.json("route", "update", "oa", "--disabled")["enabled"] is False
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/", mobile.cert_files) == 404)
    enabled = ops.json("route", "update", "oa", "--enabled", "--no-compliance", "--name", "office")
    assert (enabled["name"], enabled["enabled"], enabled["require_compliance"]) == ("office", True, False)
    assert enabled["read_timeout_seconds"] == 120
    gateway.wait_until(lambda: gateway.status_of("/apps/office/", mobile.cert_files) == 200)

    assert (
        ops.refused("route", "update", "office") == "nothing to change: give at least one option (see --help)"
    )
    assert ops.refused("route", "update", "office", "-g", "x", "--any-group") == (
        "--group and --any-group contradict each other"
    )
    assert ops.refused("route", "update", "oa", "--rate-limit", "5") == "no route oa"


def test_an_upstream_ca_must_be_given_again_to_update(
    ops: Terminal, gateway: Gateway, water: Department
) -> None:
    root = str(gateway.tls.root)
    ops.ok(
        "route", "create", "--name", "records", "--upstream", "https://127.0.0.1:9", "-t", water.tenant_id,
        "--upstream-ca-file", root,
    )  # fmt: skip
    assert "upstream ca:   its own" in ops.ok("route", "show", "records")
    assert ops.refused("route", "update", "records", "--rate-limit", "5") == (
        "route records trusts an upstream CA of its own, which the API never returns: "
        "give it again with --upstream-ca-file, or drop it with --no-upstream-ca"
    )
    assert ops.json("route", "show", "records")["rate_limit"] == 20  # nothing was written
    kept = ops.json("route", "update", "records", "--rate-limit", "5", "--upstream-ca-file", root)
    assert (kept["rate_limit"], kept["upstream_ca_configured"]) == (5, True)
    assert "upstream_ca_pem is not a PEM certificate" in ops.refused(
        "route",
        "update",
        "records",
        "--upstream-ca-file",
        str(gateway.tls.public[1]),  # a key, not a CA
    )
    assert ops.json("route", "update", "records", "--no-upstream-ca")["upstream_ca_configured"] is False
    assert ops.refused("route", "update", "records", "--no-upstream-ca", "--upstream-ca-file", root) == (
        "--upstream-ca-file and --no-upstream-ca contradict each other"
    )


def test_what_the_gateway_refuses_is_one_clear_line(ops: Terminal, water: Department, tmp_path: Path) -> None:
    assert (
        ops.refused(
            "route", "create", "--name", "oa", "--upstream", "ftp://files.example/share", "--tenant", "water"
        )
        == "upstream_url: upstream_url must be http(s)://host[:port][/path] without query or credentials"
    )
    assert (
        ops.refused("route", "create", "--name", "oa", "--upstream", "http://10.0.3.15", "--tenant", "roads")
        == "unknown tenant 'roads' in allowed_tenants"
    )
    assert (
        ops.refused("route", "create", "--name", "api", "--upstream", "http://10.0.3.15", "--tenant", "water")
        == "the route name 'api' is reserved"
    )
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\xff\x00")
    assert ops.refused(
        "route", "create", "--name", "oa", "--upstream", "https://10.0.3.15", "-t", "water",
        "--upstream-ca-file", str(not_pem),
    ) == f"{not_pem} is not a PEM file (expected text beginning with -----BEGIN CERTIFICATE-----)"  # fmt: skip
    missing = ops.run("route", "create", "--name", "oa", "--upstream", "http://10.0.3.15")
    assert missing.exit_code == 2
    assert "Missing option '--tenant'" in missing.stderr
    assert ops.refused("route", "show", "nope") == "no route nope"
    assert ops.json("route", "list") == []


def test_a_tenant_admin_reads_routes_but_cannot_change_them(
    ops: Terminal, gateway_appliance: Appliance, database: Database, water: Department, tmp_path: Path
) -> None:
    lead = Terminal(
        tmp_path / "lead.json",
        script_env(gateway_appliance, make_admin(database, Role.TENANT_ADMIN, water.tenant_id)),
    )
    assert (
        lead.refused(
            "route", "create", "--name", "mine", "--upstream", "http://10.0.3.15", "--tenant", "water"
        )
        == "this action needs a platform admin"
    )
    ops.ok("route", "create", "--name", "oa", "--upstream", "http://10.0.3.15", "--tenant", "water")
    assert [r["NAME"] for r in table_rows(lead.ok("route", "list"))] == ["oa"]
    assert lead.refused("route", "update", "oa", "--rate-limit", "1") == "this action needs a platform admin"
    assert lead.refused("route", "delete", "oa", "--yes") == "this action needs a platform admin"
    assert ops.json("route", "show", "oa")["version"] == 1


def test_delete_asks_first(ops: Terminal, gateway: Gateway, water: Department) -> None:
    ops.ok("route", "create", "--name", "oa", "--upstream", "http://127.0.0.1:9", "--tenant", "water")
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/") == 401)
    unanswered = ops.run("route", "delete", "oa")
    assert unanswered.exit_code == 2
    assert "delete route oa (/apps/oa/ -> http://127.0.0.1:9)? devices lose access to the app" in (
        unanswered.stderr
    )
    assert unanswered.stderr.endswith(
        "error: no confirmation (add --yes to confirm without a prompt); nothing was changed\n"
    )
    assert ops.refused("route", "delete", "oa", input="n\n") == "not confirmed; nothing was changed"
    assert [r["name"] for r in ops.json("route", "list")] == ["oa"]
    assert ops.ok("route", "delete", "oa", input="y\n") == "deleted route oa\n"
    ops.ok("route", "create", "--name", "oa", "--upstream", "http://127.0.0.1:9", "--tenant", "water")
    assert ops.ok("route", "delete", "oa", "--yes") == "deleted route oa\n"
    assert ops.refused("route", "show", "oa") == "no route oa"
    assert ops.ok("route", "list") == "no routes\n"
    gateway.wait_until(lambda: gateway.status_of("/apps/oa/") == 404)
