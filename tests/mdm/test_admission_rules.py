"""The admission rule as a pure function: a table of postures against modes and entries."""

from __future__ import annotations

import pytest

from govmobile.mdm.admission import Admission, AdmissionDocument, AdmissionMode, InstalledApp

A, B = "a1" * 32, "b2" * 32


def rule(mode: AdmissionMode, packages: tuple[str, ...] = (), signers: tuple[str, ...] = ()) -> Admission:
    return Admission(mode, frozenset(packages), frozenset(signers))


def app(package: str, signer: str) -> InstalledApp:
    return InstalledApp(package=package, version_code=1, signer=signer)


ALLOW = AdmissionMode.ALLOWLIST
BLOCK = AdmissionMode.BLOCKLIST


@pytest.mark.parametrize(
    ("admission", "installed", "inventory", "offenders"),
    [
        # off: nothing is judged
        (rule(AdmissionMode.OFF, ("x.y",)), ["a.b"], [], []),
        # allowlist by package, with or without an inventory
        (rule(ALLOW, ("a.b",)), ["a.b"], [], []),
        (rule(ALLOW, ("a.b",)), ["a.b", "c.d"], [], ["c.d"]),
        (rule(ALLOW, ("a.b",)), [], [app("a.b", B), app("c.d", B)], ["c.d"]),
        # allowlist by signer: only a reported signer can admit
        (rule(ALLOW, (), (A,)), [], [app("a.b", A), app("c.d", B)], ["c.d"]),
        (rule(ALLOW, (), (A,)), ["a.b"], [], ["a.b"]),
        (rule(ALLOW, (), (A,)), ["a.b"], [app("a.b", A)], []),
        # an app in the inventory but not in installed_apps is judged all the same
        (rule(ALLOW, ("a.b",)), ["a.b"], [app("z.z", B)], ["z.z"]),
        # blocklist by package or by signer; an unreported signer matches nothing
        (rule(BLOCK, ("c.d",)), ["a.b", "c.d"], [], ["c.d"]),
        (rule(BLOCK, (), (B,)), ["a.b"], [app("c.d", B)], ["c.d"]),
        (rule(BLOCK, (), (B,)), ["a.b", "c.d"], [], []),
        (rule(BLOCK, ("a.b",), (B,)), [], [app("a.b", A), app("c.d", A)], ["a.b"]),
        # an empty allowlist admits nothing; an empty blocklist blocks nothing
        (rule(ALLOW), ["a.b"], [], ["a.b"]),
        (rule(BLOCK), ["a.b"], [app("a.b", A)], []),
    ],
)
def test_the_offending_apps(
    admission: Admission, installed: list[str], inventory: list[InstalledApp], offenders: list[str]
) -> None:
    found = admission.reasons(installed, inventory)
    assert [reason.split(" ")[1] for reason in found] == offenders


def test_admins_may_type_a_signer_as_keytool_prints_it_and_it_is_stored_plainly() -> None:
    typed = ":".join(["AB"] * 32)
    document = AdmissionDocument(mode=ALLOW, packages=["b.c", "a.b", "a.b"], signers=[typed, "ab" * 32])
    assert (document.packages, document.signers) == (["a.b", "b.c"], ["ab" * 32])
