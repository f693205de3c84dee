"""Public CA material: certificates, the CRL and the OCSP responder. No authentication."""

import base64
import binascii
import email.utils
import urllib.parse
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from govmobile.ca.authority import Authority
from govmobile.ca.ocsp import OcspResponder

_PEM = "application/x-pem-file"
_OCSP = "application/ocsp-response"
MAX_OCSP_REQUEST = 8 * 1024


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}


#: RFC 6960 §2.3: a malformed request gets an OCSP response saying so, not the common error body.
_OCSP_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_binary(_OCSP, "a signed OCSP response (RFC 6960)"),
    400: {
        "description": "malformedRequest, as an unsigned OCSP response",
        "content": {_OCSP: {"schema": {"type": "string"}}},
    },
}


class _AnyText(Convertor[str]):
    """The rest of the path, whatever it holds: ``{x:path}`` stops at a line break, and a GET
    request whose path is no base64 must still get an OCSP answer (malformedRequest), not a 404."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ocsp_request", _AnyText())


def publication_router(authority: Authority, responder: OcspResponder) -> APIRouter:
    router = APIRouter(tags=["publication"])
    issuer = authority.issuer
    root_pem = issuer.root.public_bytes(serialization.Encoding.PEM)
    issuing_pem = issuer.certificate.public_bytes(serialization.Encoding.PEM)

    @router.get(
        "/pki/root.crt", response_class=Response, responses=_binary(_PEM, "the root certificate, PEM")
    )
    def root_certificate() -> Response:
        """The root CA certificate (PEM): the trust anchor to pin."""
        return Response(root_pem, media_type=_PEM)

    @router.get(
        "/pki/issuing.crt",
        response_class=Response,
        responses=_binary(_PEM, "the issuing CA's certificate, PEM"),
    )
    def issuing_certificate() -> Response:
        """The issuing CA certificate (PEM)."""
        return Response(issuing_pem, media_type=_PEM)

    @router.get(
        "/pki/chain.pem", response_class=Response, responses=_binary(_PEM, "issuing CA then root, PEM")
    )
    def chain() -> Response:
        """Issuing CA then root (PEM), as a TLS server or client would present them."""
        return Response(issuing_pem + root_pem, media_type=_PEM)

    @router.get(
        "/pki/crl", response_class=Response, responses=_binary("application/pkix-crl", "the CRL, DER")
    )
    def crl() -> Response:
        """The current CRL, DER, signed by the issuing CA (RFC 5280 §5)."""
        document = authority.refresh_crl_if_due()
        return Response(
            document.der,
            media_type="application/pkix-crl",
            headers={
                "Cache-Control": "public, max-age=5",
                "Last-Modified": email.utils.format_datetime(document.this_update, usegmt=True),
                "ETag": f'"crl-{document.number}"',
                "X-CRL-Number": str(document.number),
            },
        )

    def ocsp_response(request_der: bytes) -> Response:
        der, well_formed = responder.answer(request_der, now=authority.clock())
        return Response(
            der,
            status_code=200 if well_formed else 400,
            media_type="application/ocsp-response",
            headers={"Cache-Control": "no-cache"},
        )

    @router.post(
        "/ocsp",
        response_class=Response,
        responses=_OCSP_ANSWERS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/ocsp-request": {"schema": {"type": "string", "maxLength": MAX_OCSP_REQUEST}}
                },
            }
        },
    )
    async def ocsp_post(request: Request) -> Response:
        """RFC 6960 §A.1 POST: the DER request is the body."""
        body = await request.body()
        if len(body) > MAX_OCSP_REQUEST:
            return ocsp_response(b"")
        return ocsp_response(body)

    @router.get("/ocsp/{encoded:ocsp_request}", response_class=Response, responses=_OCSP_ANSWERS)
    def ocsp_get(encoded: str) -> Response:
        """RFC 6960 §A.1 GET: the DER request, base64 then URL-encoded, in the path."""
        try:
            request_der = base64.b64decode(urllib.parse.unquote(encoded), validate=True)
        except (binascii.Error, ValueError):
            request_der = b""
        return ocsp_response(request_der[:MAX_OCSP_REQUEST])

    return router
