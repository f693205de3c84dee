"""The API's codes (device states, reasons, command types...) in the admin's words.

The codes are the API's, stable and English; what the admin reads is these labels, each a
message of the catalogue, in the words of GLOSSARY.md. A code the console does not know yet (a
newer appliance) shows as itself rather than failing.
"""

from __future__ import annotations

from govmobile_client.models import (
    CommandState,
    CommandType,
    DeviceState,
    InstallationState,
    LastSeen,
    ReasonKind,
    Role,
)
from govmobile_console.i18n import Translate


def device_state(_: Translate) -> dict[str, str]:
    return {
        DeviceState.ENROLLED: _("Enrolled, first check-in pending"),
        DeviceState.ACTIVE: _("Active"),
        DeviceState.LOCKED: _("Locked"),
        DeviceState.LOST: _("Lost mode"),
        DeviceState.WIPED: _("Wiped"),
        DeviceState.RETIRED: _("Retired"),
    }


def compliance(_: Translate) -> dict[str, str]:
    return {
        "compliant": _("Compliant"),
        "noncompliant": _("Non-compliant"),
        "unknown": _("Not evaluated yet"),
    }


def reason_kind(_: Translate) -> dict[str, str]:
    return {
        ReasonKind.OS_VERSION: _("OS version too old"),
        ReasonKind.NOT_ENCRYPTED: _("Storage not encrypted"),
        ReasonKind.NO_PASSCODE: _("No passcode"),
        ReasonKind.ROOTED: _("Rooted or jailbroken"),
        ReasonKind.APP_ADMISSION: _("Apps not admitted"),
        ReasonKind.OFFLINE: _("Offline too long"),
        "other": _("Other reasons"),
    }


def last_seen(_: Translate) -> dict[str, str]:
    return {
        LastSeen.UNDER_1_HOUR: _("Under 1 hour"),
        LastSeen.UNDER_1_DAY: _("1 to 24 hours"),
        LastSeen.UNDER_7_DAYS: _("1 to 7 days"),
        LastSeen.OLDER: _("Over 7 days"),
        LastSeen.NEVER: _("Never"),
    }


def command_type(_: Translate) -> dict[str, str]:
    return {
        CommandType.LOCK: _("Remote lock"),
        CommandType.UNLOCK: _("Unlock"),
        CommandType.WIPE: _("Full wipe"),
        CommandType.SELECTIVE_WIPE: _("Selective wipe"),
        CommandType.LOCATE: _("Locate"),
        CommandType.LOST_MODE_ON: _("Lost mode on"),
        CommandType.LOST_MODE_OFF: _("Lost mode off"),
        CommandType.MESSAGE: _("Message push"),
        CommandType.INSTALL_APP: _("Install app"),
        CommandType.REMOVE_APP: _("Remove app"),
        CommandType.RENEW_CERTIFICATE: _("Renew certificate"),
        CommandType.REFRESH_POLICY: _("Refresh policy"),
    }


def command_state(_: Translate) -> dict[str, str]:
    return {
        CommandState.QUEUED: _("Queued"),
        CommandState.SENT: _("Sent"),
        CommandState.NOT_NOW: _("Deferred by the device"),
        CommandState.ERROR: _("Failed"),
        CommandState.EXPIRED: _("Expired"),
        CommandState.ACKNOWLEDGED: _("Acknowledged"),
        CommandState.CANCELLED: _("Cancelled"),
        CommandState.SUPERSEDED: _("Superseded"),
    }


def installation_state(_: Translate) -> dict[str, str]:
    return {
        InstallationState.INSTALLED: _("Installed"),
        InstallationState.FAILED: _("Install failed"),
        InstallationState.REMOVED: _("Removed"),
        InstallationState.PENDING: _("Pending"),
    }


def certificate_profile(_: Translate) -> dict[str, str]:
    return {
        "device": _("Device certificates"),
        "service": _("Service certificates"),
        "admin": _("Admin certificates"),
        "codesign": _("Code-signing certificates"),
    }


def role(_: Translate) -> dict[str, str]:
    return {
        Role.PLATFORM_ADMIN: _("Platform admin"),
        Role.TENANT_ADMIN: _("Department admin"),
        Role.AUDITOR: _("Auditor"),
    }


def label(table: dict[str, str], code: str) -> str:
    return table.get(code, code)
