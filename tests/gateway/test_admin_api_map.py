"""The map of the admin API (``govmobile.gateway.dataplane.admin_api``) against what runs and
what calls it: the nginx configuration the real gateway runs, every service's own routes, and
every path the typed client calls. Any of them drifting from the map fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi import FastAPI

import govmobile_client
from govmobile.ca.app import create_app as create_ca
from govmobile.ca.hierarchy import CaLayout
from govmobile.core.database import Database
from govmobile.gateway.dataplane.admin_api import ADMIN_API, Service, service_for
from govmobile.gateway.dataplane.render import DataPlaneLayout
from tests.gateway.test_contract import INTERNAL, routes_of
from tests.support.ca import ca_settings
from tests.support.gateway import Gateway
from tests.support.mdm import GATEWAY_SECRET

#: Admin-API paths a service serves that the management listener keeps from it, with the reason.
NOT_ADMIN_API = {
    "/api/v1/device/": "the device API: devices reach it on the public listener, with a certificate",
    "/api/v1/ra/": "the CA's registration-authority API, for the MDM and the deployment only",
}


def management_server(config: str) -> str:
    """The text of the ``server { ... }`` block of the management listener."""
    start = config.index("set $gm_listener management;")
    opening = config.rindex("server {", 0, start)
    depth = 0
    for position in range(opening, len(config)):
        depth += {"{": 1, "}": -1}.get(config[position], 0)
        if config[position] == "}" and depth == 0:
            return config[opening : position + 1]
    raise AssertionError("the management server block is not closed")


def prefix_locations(server: str) -> dict[str, str]:
    """``location ^~ <prefix>`` -> the body of that location."""
    found: dict[str, str] = {}
    for match in re.finditer(r"location \^~ (\S+) \{\n(.*?)\n        \}", server, re.S):
        found[match[1]] = match[2]
    return found


def test_nginx_runs_the_map_and_nothing_else(gateway: Gateway) -> None:
    config = DataPlaneLayout(gateway.settings.run_dir).config.read_text()
    locations = prefix_locations(management_server(config))
    assert set(locations) == {prefix.path for prefix in ADMIN_API}
    for prefix in ADMIN_API:
        body = locations[prefix.path]
        assert re.search(rf"proxy_pass https?://gm_{prefix.service}(;|/)", body), (prefix, body)
        proof_sent = f'GovMobile-Gateway-Proof "{GATEWAY_SECRET}"' in body
        assert proof_sent is prefix.gateway_proof, prefix
        assert GATEWAY_SECRET not in body or prefix.gateway_proof


def served_by(
    gateway: Gateway,
    mdm_app: FastAPI,
    ca_layout: CaLayout,
    database: Database,
    database_url: str,
    portal_app: FastAPI,
) -> dict[Service, set[tuple[str, str]]]:
    """(method, path) of every route of each service's own code, ``{name}`` parameters as ``{}``."""
    ca_app = create_ca(ca_settings(ca_layout, database_url), database=database)
    apps = {
        Service.CA: ca_app,
        Service.MDM: mdm_app,
        Service.CONTROL: gateway.app,
        Service.PORTAL: portal_app,
    }
    return {
        service: {(method, re.sub(r"\{[^}]*\}", "{}", path)) for method, path in routes_of(app)}
        for service, app in apps.items()
    }


def test_every_admin_route_of_a_service_is_passed_to_that_service(
    gateway: Gateway,
    mdm_app: FastAPI,
    ca_layout: CaLayout,
    database: Database,
    database_url: str,
    portal_app: FastAPI,
) -> None:
    routes = served_by(gateway, mdm_app, ca_layout, database, database_url, portal_app)
    misrouted = {
        (service, method, path, service_for(path))
        for service, served in routes.items()
        for method, path in served
        if path.startswith("/api/")
        and path not in INTERNAL
        and not path.startswith(tuple(NOT_ADMIN_API))
        and service_for(path) is not service
    }
    assert not misrouted, f"(served by, method, path, the map sends it to): {sorted(misrouted)}"
    for prefix in ADMIN_API:
        assert any(path.startswith(prefix.path) for _, path in routes[prefix.service]), (
            f"{prefix.path} goes to {prefix.service}, which serves nothing there"
        )


def client_calls() -> set[tuple[str, str]]:
    """(method, path) of every request the typed client makes, ``{...}`` for what it fills in."""
    calls: set[tuple[str, str]] = set()
    for source in Path(govmobile_client.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("call", "call_list", "call_empty", "upload"):
                continue
            texts = [argument for argument in node.args if isinstance(argument, ast.Constant | ast.JoinedStr)]
            if node.func.attr == "upload":  # Connection.upload(model, path, file): always a POST
                calls.add(("POST", _template(texts[-1])))
                continue
            method, path = texts[-2], texts[-1]
            assert isinstance(method, ast.Constant), ast.dump(node)
            assert isinstance(method.value, str), ast.dump(node)
            calls.add((method.value, _template(path)))
    return calls


def _template(path: ast.Constant | ast.JoinedStr) -> str:
    if isinstance(path, ast.Constant):
        return str(path.value)
    return "".join(str(part.value) if isinstance(part, ast.Constant) else "{}" for part in path.values)


def test_every_path_the_client_calls_reaches_a_service_that_serves_it(
    gateway: Gateway,
    mdm_app: FastAPI,
    ca_layout: CaLayout,
    database: Database,
    database_url: str,
    portal_app: FastAPI,
) -> None:
    routes = served_by(gateway, mdm_app, ca_layout, database, database_url, portal_app)
    calls = client_calls()
    assert ("GET", "/api/v1/certificates/{}") in calls  # the parse found the calls
    assert len(calls) > 40
    unserved = set()
    for method, path in calls:
        service = service_for(path)
        if service is None or (method, path) not in routes[service]:
            unserved.add((method, path, service))
    assert not unserved, f"(method, path, the map sends it to): {sorted(unserved)}"
