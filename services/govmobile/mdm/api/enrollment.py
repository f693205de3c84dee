"""EST (RFC 7030) for devices: cacerts, simpleenroll (with a token), simplereenroll (mTLS)."""

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from govmobile.core.errors import InvalidInput, Unauthenticated
from govmobile.mdm.enrollment import DeviceFacts
from govmobile.mdm.est import (
    CERTS_ONLY,
    EXPIRED_CERT_HEADER,
    POSSESSION_HEADER,
    certs_only,
    proven_possession,
    read_csr,
)
from govmobile.mdm.registrar import Registrar
from govmobile.web.device_identity import PresentedCertificate
from govmobile.web.openapi import errors

_basic = HTTPBasic(
    scheme_name="enrollmentToken",
    description="the enrollment token (gme_...) as the password; the user name is ignored",
    auto_error=False,
    realm="GovMobile enrollment",
)
FACTS_HEADER = "govmobile-device-facts"
#: RFC 7030 §4.2.1: the body is a base64 DER PKCS#10 request (PEM is accepted too).
_CSR_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/pkcs10": {"schema": {"type": "string", "maxLength": 16 * 1024}}},
    }
}
_PKCS7 = {
    "description": "a base64 certs-only PKCS#7 (RFC 7030 §4.1.3, §4.2.3); its set is unordered",
    "content": {CERTS_ONLY: {"schema": {"type": "string"}}},
}


def est_router(registrar: Registrar, presented_certificate: Callable[..., PresentedCertificate]) -> APIRouter:
    router = APIRouter(prefix="/.well-known/est", tags=["EST enrollment (RFC 7030)"])

    def pkcs7(certificates: list[x509.Certificate]) -> Response:
        return Response(
            certs_only(certificates), media_type=CERTS_ONLY, headers={"Content-Transfer-Encoding": "base64"}
        )

    @router.get("/cacerts", response_class=Response, responses={200: _PKCS7, **errors(503)})
    def cacerts() -> Response:
        """§4.1: the CA certificates (issuing CA and root)."""
        return pkcs7(registrar.ca_certificates())

    @router.post(
        "/simpleenroll",
        response_class=Response,
        responses={200: _PKCS7, **errors(400, 401, 403, 409, 410, 503)},
        openapi_extra=_CSR_BODY,
    )
    async def simpleenroll(
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
        facts: Annotated[
            str | None,
            Header(
                alias=FACTS_HEADER,
                max_length=4096,
                description="base64url JSON: serial_number, model, os_name, os_version, hardware_ids",
            ),
        ] = None,
    ) -> Response:
        """§4.2.1: enroll with an enrollment token as the HTTP Basic password.

        Device facts come in the ``GovMobile-Device-Facts`` header (base64url JSON:
        serial_number, model, os_name, os_version, hardware_ids), or at least the serial number
        as the CSR subject's serialNumber attribute.
        """
        if credentials is None or not credentials.password:
            raise Unauthenticated(
                "enroll with the enrollment token as the HTTP Basic password (any user name)",
                code="token_required",
            )
        csr = read_csr(await request.body())
        result = await run_in_threadpool(registrar.enroll, credentials.password, csr, _facts(facts, csr))
        return pkcs7(result.issued.certificates())

    @router.post(
        "/simplereenroll",
        response_class=Response,
        responses={200: _PKCS7, **errors(400, 401, 403, 409, 410, 503)},
        openapi_extra=_CSR_BODY,
    )
    async def simplereenroll(
        request: Request, presented: Annotated[PresentedCertificate, Depends(presented_certificate)]
    ) -> Response:
        """§4.2.2: renew with the current certificate (mutual TLS through the gateway)."""
        csr = read_csr(await request.body())
        issued = await run_in_threadpool(registrar.reenroll, presented, csr)
        return pkcs7(issued.certificates())

    @router.post(
        "/expired/simplereenroll",
        response_class=Response,
        responses={200: _PKCS7, **errors(400, 401, 403, 409, 410, 503)},
        openapi_extra=_CSR_BODY,
    )
    async def renew_expired(
        request: Request,
        expired_certificate: Annotated[
            str | None,
            Header(
                alias=EXPIRED_CERT_HEADER,
                max_length=4096,
                description="base64 DER of the expired certificate",
            ),
        ] = None,
        possession_signature: Annotated[
            str | None,
            Header(
                alias=POSSESSION_HEADER,
                max_length=512,
                description="base64 DER ECDSA-SHA256 signature over the new CSR's DER, by the old key",
            ),
        ] = None,
    ) -> Response:
        """Renewal of a certificate that expired within the grace window (§4.2.2 with the label
        "expired"): the old key signs the new CSR instead of authenticating the TLS connection."""
        body = await request.body()
        csr = read_csr(body)
        presented = proven_possession(
            expired_certificate, possession_signature, csr.public_bytes(Encoding.DER)
        )
        issued = await run_in_threadpool(registrar.reenroll, presented, csr)
        return pkcs7(issued.certificates())

    return router


def _facts(header: str | None, csr: x509.CertificateSigningRequest) -> DeviceFacts:
    data: dict[str, object] = {}
    if header:
        try:
            padded = header + "=" * (-len(header) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, binascii.Error) as exc:
            raise InvalidInput(
                "the GovMobile-Device-Facts header is not base64url-encoded JSON", code="bad_facts"
            ) from exc
        if not isinstance(data, dict):
            raise InvalidInput("the GovMobile-Device-Facts header must hold a JSON object", code="bad_facts")
    if "serial_number" not in data:
        serials = csr.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
        if serials:
            data["serial_number"] = serials[0].value
    if "serial_number" not in data:
        raise InvalidInput(
            "the device's hardware serial number is missing: send it in GovMobile-Device-Facts or as the "
            "CSR subject's serialNumber",
            code="serial_number_required",
        )
    try:
        return DeviceFacts.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidInput(f"bad device facts: {problems}", code="bad_facts") from None
