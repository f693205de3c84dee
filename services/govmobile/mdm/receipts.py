"""Selective-wipe receipts: the device signs what it destroyed, the MDM verifies and keeps it.

The receipt is canonical JSON (sorted keys, no spaces) signed with the device's own key
(ECDSA P-256 with SHA-256, DER signature, base64), checked against the certificate the device
authenticated with.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile.core.errors import InvalidInput


def canonical(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()


def verify_receipt(
    result: dict[str, Any], *, certificate: x509.Certificate, device_id: str, command_id: str
) -> dict[str, Any]:
    """Return the verified receipt from a selective-wipe result, or refuse it."""
    receipt = result.get("receipt")
    signature = result.get("signature")
    if not isinstance(receipt, dict) or not isinstance(signature, str):
        raise InvalidInput(
            "a selective wipe result needs a signed receipt ('receipt' and 'signature')", code="bad_receipt"
        )
    if receipt.get("device_id") != device_id or receipt.get("command_id") != command_id:
        raise InvalidInput("the receipt names another device or command", code="bad_receipt")
    if not isinstance(receipt.get("destroyed"), list) or receipt.get("data_key_destroyed") is not True:
        raise InvalidInput(
            "the receipt must list what was destroyed and confirm the data key was destroyed",
            code="bad_receipt",
        )
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise InvalidInput("receipts must be signed with an ECDSA device key", code="bad_receipt")
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), canonical(receipt), ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise InvalidInput(
            "the receipt's signature does not verify with the device's certificate", code="bad_receipt"
        ) from None
    return receipt
