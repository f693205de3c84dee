"""audit list and verify, cert list, show and revoke."""

from __future__ import annotations

from govmobile.core.database import Database
from tests.admin_cli.conftest import Terminal, table_rows
from tests.support.audit import break_audit_chain
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Department


def test_audit_list_filters_and_pages(admin: Terminal) -> None:
    for slug in ("t1", "t2", "t3"):
        admin.ok("tenant", "create", slug, "--name", slug.upper())
    first = admin.run("audit", "list", "--action", "tenant.created", "--limit", "2")
    rows = table_rows(first.stdout)
    assert [(r["ACTOR"], r["ACTION"]) for r in rows] == [("admin:ops-lead", "tenant.created")] * 2
    assert "slug=t3" in rows[0]["DETAILS"]
    assert first.stderr == f"older events: add --cursor {rows[1]['ID']}, or --all\n"
    mine = admin.json("audit", "list", "--actor", "ops-lead", "--since", "1h", "--all", "--limit", "1")
    assert {e["action"] for e in mine["items"]} == {"admin.login", "tenant.created"}
    assert admin.json("audit", "list", "--since", "2999-01-01")["items"] == []
    logins = admin.json("audit", "list", "--action", "admin.login")["items"]
    assert [e["actor"] for e in logins] == ["admin:ops-lead"]
    assert "is neither a time" in admin.run("audit", "list", "--since", "yesterday").stderr


def test_audit_verify_exit_codes(admin: Terminal, database: Database) -> None:
    intact = admin.run("audit", "verify")
    assert intact.exit_code == 0
    assert intact.stdout.startswith("audit chain intact: ")
    assert admin.json("audit", "verify")["ok"] is True
    broken_id = break_audit_chain(database)
    broken = admin.run("audit", "verify")
    assert broken.exit_code == 3
    assert "audit chain:        BROKEN" in broken.stdout
    assert broken.stderr.startswith(f"error: the audit chain is broken at event {broken_id}: ")
    as_json = admin.run("audit", "verify", "--json")
    assert as_json.exit_code == 3
    assert '"first_broken_id": ' + str(broken_id) in as_json.stdout


def test_certificates(admin: Terminal, enrolled: ScriptedDevice, water: Department) -> None:
    listed = admin.json("cert", "list", "--device", enrolled.device_id)["items"]
    assert [(c["profile"], c["status"], c["tenant_id"]) for c in listed] == [
        ("device", "valid", water.tenant_id)
    ]
    serial = listed[0]["serial"]
    rows = table_rows(admin.ok("cert", "list", "--profile", "device", "--expiring-before", "400d"))
    assert [r["SERIAL"] for r in rows] == [serial]
    assert admin.ok("cert", "list", "--profile", "device", "--expiring-before", "1h") == "no certificates\n"
    assert admin.ok("cert", "show", serial, "--pem").startswith("-----BEGIN CERTIFICATE-----\n")
    assert f"device:       {enrolled.device_id}" in admin.ok("cert", "show", serial)
    assert admin.refused("cert", "revoke", serial, "--reason", "keyCompromise", input="n\n") == (
        "not confirmed; nothing was changed"
    )
    said = admin.ok("cert", "revoke", serial, "--reason", "keyCompromise", "--yes")
    assert said.startswith(f"revoked {serial} (keyCompromise); CRL number ")
    assert admin.json("cert", "show", serial)["status"] == "revoked"
    assert admin.refused("cert", "show", "00ff") == "no certificate with serial 00ff"
