"""Schemathesis against the published contracts, through the real gateway: the admin API on the
management listener with a platform admin's token, the device API on the public listener with a
device certificate. No 5xx, no status code the document does not list, no answer that breaks
its schema, no bad input accepted. Part of the normal suite (so CI runs it on SQLite and on
PostgreSQL); a fixed seed and a few examples per operation keep it to about a minute each.

Every check schemathesis has is on. What is turned off or narrowed is listed below, each with
its reason: ``CHECKS_OFF``, ``REJECTIONS``, ``PHASES_OFF``, ``UNEXPECTED_METHODS`` and ``LEFT_OUT``.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.engine import from_schema as engine_for

from govmobile.core.database import Database
from govmobile.mdm.app import create_app as create_mdm
from govmobile.mdm.signer import HttpCertificateSigner
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.mdm import Admin, mdm_settings

#: Checks turned off, and why. Everything else schemathesis checks is on.
CHECKS_OFF: dict[str, str] = {
    "positive_data_acceptance": (
        "expects a 2xx for every schema-valid request; ours are valid but name things that do not "
        "exist (random ids: 404) or break rules no schema can state (a person of another "
        "department, a deadline past a wipe's), which are documented refusals"
    ),
    "use_after_free": "a stateful check; the stateful phase is off (below)",
    "ensure_resource_availability": "a stateful check; the stateful phase is off (below)",
    "object_level_authorization": (
        "compares two identities' access; the run has one (tests/mdm/test_isolation.py walks every "
        "endpoint as another department's admin and as an auditor)"
    ),
}
#: Checks adjusted, and why. negative_data_rejection counts 413 as a refusal too: a body over a
#: service's size limit is refused before it is even parsed (schemathesis leaves 413 out).
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
#: Phases turned off, and why: the stateful phase follows links between operations for minutes;
#: examples, coverage (boundary and negative values, undocumented methods) and fuzzing run.
PHASES_OFF = {"stateful": "minutes of chained requests; the unit and API tests cover the flows"}
#: Undocumented methods the coverage phase sends to every path, expecting 405 and ``Allow``.
#: TRACE is left out: nginx refuses it itself (405, before any location, with no ``Allow`` since
#: it cannot know the path's methods), so that no service ever sees it.
UNEXPECTED_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH"]
#: Operations left out of a run, and why (each is tested on its own elsewhere).
LEFT_OUT: dict[str, str] = {
    "POST /api/v1/auth/logout": "revokes the token the run authenticates with (tests/mdm/test_accounts.py)",
    "POST /api/v1/device/unenroll": "retires the run's device; it runs alone, last",
}
#: Fixed, so that CI is repeatable; GOVMOBILE_FUZZ_SEED and GOVMOBILE_FUZZ_EXAMPLES run a longer or
#: different hunt by hand (e.g. GOVMOBILE_FUZZ_SEED=$RANDOM GOVMOBILE_FUZZ_EXAMPLES=100).
SEED = int(os.environ.get("GOVMOBILE_FUZZ_SEED", "20261206"))
EXAMPLES = int(os.environ.get("GOVMOBILE_FUZZ_EXAMPLES", "12"))


@schemathesis.serializer("application/pkcs10", "application/ocsp-request")
def _binary_body(context: Any, value: Any) -> bytes:
    """EST's base64 CSR and OCSP's DER: the generated text as it is (anything else as JSON text)."""
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture
def mdm_app(database: Database, database_url: str, signer: HttpCertificateSigner, clock: Clock) -> Any:
    """The MDM with a short long-poll, so that fuzzing /api/v1/device/wait does not wait 55 s."""
    return create_mdm(
        mdm_settings(database_url, long_poll_seconds=0.2), database=database, signer=signer, clock=clock
    )


@dataclass
class Finding:
    operation: str
    check: str
    message: str
    reproduce: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.check}: {self.message.strip()}\n  {self.reproduce}"


@dataclass
class Outcome:
    """What a run found, and what it did: the statuses each operation answered."""

    findings: list[Finding]
    statuses: dict[str, Counter[int]]

    def requests(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())


def run(document: dict[str, Any], settings: dict[str, Any], *, only: str | None = None) -> Outcome:
    """One schemathesis run (what its command line does) over the document."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "phases": {
                **{name: {"enabled": False} for name in PHASES_OFF},
                "coverage": {"unexpected-methods": UNEXPECTED_METHODS},
            },
            "checks": {
                **{name: {"enabled": False} for name in CHECKS_OFF},
                "negative_data_rejection": {"expected-statuses": REJECTIONS},
            },
            "generation": {"max-examples": EXAMPLES, "deterministic": False},
            "suppress-health-check": ["all"],
            "request-timeout": 30,
            "warnings": False,
            **settings,
            # A new connection per request. Creating a route reloads nginx, whose old workers then
            # close their idle keep-alive connections; a request sent on one at that moment meets
            # a closed socket (the client cannot know), which is nginx's way and not the API's.
            "headers": {**settings.get("headers", {}), "Connection": "close"},
        }
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema = schema.include(name=only) if only is not None else schema.exclude(name=list(LEFT_OUT))
    findings: list[Finding] = []
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[event.recorder.label][interaction.response.status_code] += 1
            for case_id, checks in event.recorder.checks.items():
                response = event.recorder.find_response(case_id=case_id)
                answered = f"answered {response.status_code}: " if response is not None else ""
                for check in checks:
                    if check.failure_info is not None:
                        message = answered + check.failure_info.failure.message
                        sample = check.failure_info.code_sample
                        findings.append(Finding(event.recorder.label, check.name, message, sample))
        elif isinstance(event, events.NonFatalError):
            findings.append(Finding(event.label, "error", str(event.value), ""))
        elif isinstance(event, events.FatalError):
            raise event.exception
    unique = {(f.operation, f.check, f.message): f for f in findings}
    return Outcome(list(unique.values()), dict(statuses))


@pytest.fixture
def documents(gateway: Gateway, management: Admin) -> dict[str, Any]:
    return {
        "admin": management.ok("GET", "/api/openapi.json"),
        "device": management.ok("GET", "/api/device-openapi.json"),
    }


def test_the_admin_api_holds_its_contract_under_schemathesis(
    gateway: Gateway, management: Admin, documents: dict[str, Any], mobile: ScriptedDevice
) -> None:
    outcome = run(
        documents["admin"],
        {
            "base-url": gateway.management_url,
            "tls-verify": str(gateway.tls.root),
            "headers": {"Authorization": f"Bearer {management.token}"},
        },
    )
    assert not outcome.findings, "\n".join(map(str, outcome.findings))
    # It tested every operation, authenticated: lists answered 200, changes were made.
    tested = {label for label, counter in outcome.statuses.items() if sum(counter.values())}
    expected = {f"{m.upper()} {p}" for p, item in documents["admin"]["paths"].items() for m in item}
    assert tested == expected - set(LEFT_OUT)
    assert all(
        outcome.statuses[f"GET {p}"][200] for p in ("/api/v1/tenants", "/api/v1/devices", "/api/v1/audit")
    )
    assert outcome.statuses["POST /api/v1/tenants"][201]
    assert management("GET", "/api/v1/auth/me").status_code == 200  # its token still works


def test_the_device_api_holds_its_contract_under_schemathesis(
    gateway: Gateway, documents: dict[str, Any], mobile: ScriptedDevice
) -> None:
    certificate, key = mobile.cert_files
    settings = {
        "base-url": gateway.public_url,
        "tls-verify": str(gateway.tls.root),
        "request-cert": str(certificate),
        "request-cert-key": str(key),
    }
    outcome = run(documents["device"], settings)
    assert not outcome.findings, "\n".join(map(str, outcome.findings))
    # It went through the gateway with the device's certificate: check-ins and waits answered 200.
    assert outcome.statuses["POST /api/v1/device/checkin"][200]
    assert outcome.statuses["GET /api/v1/device/wait"][200]
    assert outcome.statuses["GET /pki/crl"][200]
    assert mobile.checkin().status_code == 200  # and the device still works after it all
    leaving = run(documents["device"], settings, only="POST /api/v1/device/unenroll")
    assert not leaving.findings, "\n".join(map(str, leaving.findings))
    assert leaving.statuses["POST /api/v1/device/unenroll"][200] == 1  # then refused, as documented
