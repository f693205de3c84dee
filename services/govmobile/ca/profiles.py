"""Certificate profiles: what a certificate of each kind contains.

The profile, not the CSR, decides the subject, extensions, key usage and validity. The
registration authority supplies only the facts the profile asks for (a device id and tenant, a
service's names, an admin's username).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govmobile.ca.csr import RequestedNames
from govmobile.core.errors import InvalidInput, NotFound

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PRINTABLE = re.compile(r"^[\w .,@()'+:=/-]{1,64}$")


class ProfileName(enum.StrEnum):
    DEVICE = "device"
    SERVICE = "service"
    ADMIN = "admin"
    CODESIGN = "codesign"

    @classmethod
    def parse(cls, value: str) -> ProfileName:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(p.value for p in cls)
            raise NotFound(
                f"unknown certificate profile {value!r}; known profiles: {known}", code="unknown_profile"
            ) from None


@dataclass(frozen=True)
class SubjectRequest:
    """What the registration authority asks to be certified."""

    device_id: str | None = None
    tenant_id: str | None = None
    common_name: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class CertifiedNames:
    """The subject and alternative names a profile settled on."""

    subject: x509.Name
    common_name: str
    alt_names: tuple[x509.GeneralName, ...] = ()
    device_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class Profile:
    name: ProfileName
    validity: dt.timedelta
    extended_key_usage: tuple[x509.ObjectIdentifier, ...]

    def key_usage(self, public_key: object) -> x509.KeyUsage:
        # RSA keys in TLS 1.2 key transport need keyEncipherment; ECDSA keys only sign.
        encipher = isinstance(public_key, rsa.RSAPublicKey) and self.name is not ProfileName.CODESIGN
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=encipher,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )

    def certified_names(
        self,
        request: SubjectRequest,
        csr_names: RequestedNames,
        *,
        organisation: str,
        constraints: x509.NameConstraints | None,
    ) -> CertifiedNames:
        """Decide subject and SANs from the request, refusing anything outside the profile."""
        if self.name is ProfileName.SERVICE:
            return _service_names(request, csr_names, organisation, constraints)
        if request.dns_names or request.ip_addresses or csr_names:
            raise InvalidInput(
                f"the {self.name.value} profile certifies no DNS names or IP addresses; "
                "remove them from the request and the CSR",
                code="name_not_allowed",
            )
        if self.name is ProfileName.DEVICE:
            device_id = _identifier(request.device_id, "device_id")
            tenant_id = _identifier(request.tenant_id, "tenant_id")
            if request.common_name:
                raise InvalidInput(
                    "the device profile takes device_id and tenant_id, not common_name",
                    code="name_not_allowed",
                )
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant_id),
                    x509.NameAttribute(NameOID.COMMON_NAME, device_id),
                ]
            )
            return CertifiedNames(subject, device_id, device_id=device_id, tenant_id=tenant_id)
        if request.device_id or request.tenant_id:
            raise InvalidInput(
                f"the {self.name.value} profile takes a common_name, not a device", code="name_not_allowed"
            )
        common_name = request.common_name or ""
        if not _PRINTABLE.match(common_name):
            raise InvalidInput(
                f"the {self.name.value} profile needs a common_name of 1-64 letters, digits, "
                "spaces or .,@()'+:=/-",
                code="name_not_allowed",
            )
        unit = "Administrators" if self.name is ProfileName.ADMIN else "Code Signing"
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        return CertifiedNames(subject, common_name)


def default_profiles(validity: Mapping[ProfileName, dt.timedelta]) -> dict[ProfileName, Profile]:
    """The four profiles with the given validity periods."""
    eku = {
        ProfileName.DEVICE: (ExtendedKeyUsageOID.CLIENT_AUTH,),
        ProfileName.SERVICE: (ExtendedKeyUsageOID.SERVER_AUTH,),
        ProfileName.ADMIN: (ExtendedKeyUsageOID.CLIENT_AUTH,),
        ProfileName.CODESIGN: (ExtendedKeyUsageOID.CODE_SIGNING,),
    }
    return {name: Profile(name, validity[name], eku[name]) for name in ProfileName}


def _identifier(value: str | None, field: str) -> str:
    if not value or not _IDENTIFIER.match(value):
        raise InvalidInput(
            f"the device profile needs {field}: 1-128 letters, digits or . _ : -", code="name_not_allowed"
        )
    return value


def _service_names(
    request: SubjectRequest,
    csr_names: RequestedNames,
    organisation: str,
    constraints: x509.NameConstraints | None,
) -> CertifiedNames:
    if request.device_id or request.tenant_id or request.common_name:
        raise InvalidInput(
            "the service profile takes dns_names and ip_addresses only", code="name_not_allowed"
        )
    dns: list[str] = []
    for name in (*request.dns_names, *csr_names.dns):
        folded = name.strip().lower().rstrip(".")
        if not _valid_hostname(folded):
            raise InvalidInput(f"{name!r} is not a valid DNS name (no wildcards)", code="name_not_allowed")
        if folded not in dns:
            dns.append(folded)
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for value in (*request.ip_addresses, *csr_names.ip):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise InvalidInput(f"{value!r} is not an IP address", code="name_not_allowed") from None
        if address not in ips:
            ips.append(address)
    if not dns and not ips:
        raise InvalidInput(
            "the service profile needs at least one DNS name or IP address", code="name_not_allowed"
        )
    if constraints is not None:
        _check_constraints(dns, ips, constraints)
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt += [x509.IPAddress(a) for a in ips]
    common_name = dns[0] if dns else str(ips[0])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return CertifiedNames(subject, common_name, tuple(alt))


def _valid_hostname(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _check_constraints(
    dns: list[str],
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    constraints: x509.NameConstraints,
) -> None:
    # RFC 5280 §4.2.1.10: a name type with permitted subtrees must fall inside one of them.
    permitted = list(constraints.permitted_subtrees or [])
    dns_trees = [g.value.lower().lstrip(".") for g in permitted if isinstance(g, x509.DNSName)]
    ip_trees = [
        g.value
        for g in permitted
        if isinstance(g, x509.IPAddress)
        and isinstance(g.value, (ipaddress.IPv4Network, ipaddress.IPv6Network))
    ]
    for name in dns:
        if dns_trees and not any(name == t or name.endswith("." + t) for t in dns_trees):
            raise InvalidInput(
                f"{name} is outside the names this CA may certify ({', '.join(dns_trees)})",
                code="name_not_allowed",
            )
    for address in ips:
        if ip_trees and not any(address in net for net in ip_trees):
            raise InvalidInput(
                f"{address} is outside the addresses this CA may certify", code="name_not_allowed"
            )
