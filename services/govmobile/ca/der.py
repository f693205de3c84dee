"""Just enough DER (ITU-T X.690) to write a large CRL quickly.

``cryptography``'s CRL builder copies its entry list on every addition, which makes a CRL of
100,000 entries take many seconds. The CRL's TBSCertList is simple enough to encode directly;
the result is parsed back with ``cryptography`` in the tests and checked with ``openssl crl``.
"""

from __future__ import annotations

import datetime as dt


def length(n: int) -> bytes:
    """X.690 §8.1.3 definite length."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    """X.690 §8.3 for a non-negative value: minimal length, a leading zero bit."""
    if value < 0:
        raise ValueError("only non-negative integers occur in a CRL")
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def enumerated(value: int) -> bytes:
    return tlv(0x0A, integer(value)[2:])


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def bit_string(value: bytes) -> bytes:
    return tlv(0x03, b"\x00" + value)


def explicit(tag_number: int, content: bytes) -> bytes:
    """A context-specific constructed (EXPLICIT) tag."""
    return tlv(0xA0 | tag_number, content)


def oid(dotted: str) -> bytes:
    """X.690 §8.19 object identifier."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray((parts[0] * 40 + parts[1],))
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def time(value: dt.datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after."""
    value = value.astimezone(dt.UTC)
    if value.year < 2050:
        return tlv(0x17, value.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, value.strftime("%Y%m%d%H%M%SZ").encode())
