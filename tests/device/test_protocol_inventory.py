"""The agent's protocol model and the MDM's agree on the posture's app inventory and the policy's
app admission (two copies of one shape: this keeps them in step)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from govmobile.mdm import admission, compliance
from govmobile.mdm.policies import AdmissionPublic
from govmobile_device import protocol

SIGNER = "5a" * 32


def test_an_inventory_the_agent_sends_is_one_the_server_reads() -> None:
    sent = protocol.Posture(
        installed_apps=["cn.gov.mail"],
        app_inventory=[protocol.InstalledApp(package="cn.gov.mail", version_code=3, signer=SIGNER)],
    )
    read = compliance.Posture.model_validate_json(sent.model_dump_json())
    assert [(a.package, a.version_code, a.signer) for a in read.app_inventory] == [("cn.gov.mail", 3, SIGNER)]
    # An agent that sends no inventory is still understood.
    assert compliance.Posture.model_validate_json(protocol.Posture().model_dump_json()).app_inventory == []


@pytest.mark.parametrize(
    "entry",
    [
        {"package": "cn.gov.mail", "version_code": 1, "signer": SIGNER.upper()},
        {"package": "cn.gov.mail", "version_code": 1, "signer": SIGNER[:-2]},
        {"package": "nodot", "version_code": 1, "signer": SIGNER},
        {"package": "cn.gov.mail", "version_code": -1, "signer": SIGNER},
    ],
)
def test_both_sides_refuse_the_same_bad_entries(entry: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        protocol.InstalledApp.model_validate(entry)
    with pytest.raises(ValidationError):
        admission.InstalledApp.model_validate(entry)


def test_the_agent_reads_the_admission_the_server_sends() -> None:
    sent = AdmissionPublic(
        mode=admission.AdmissionMode.BLOCKLIST, packages=["com.games.birds"], signers=[SIGNER]
    )
    read = protocol.Policy.model_validate({"app_admission": json.loads(sent.model_dump_json())})
    assert (read.app_admission.mode, read.app_admission.packages, read.app_admission.signers) == (
        "blocklist",
        ["com.games.birds"],
        [SIGNER],
    )
    assert protocol.MAX_INSTALLED_APPS == admission.MAX_INVENTORY
