"""EMVCo merchant-presented QR payloads (the kiosk shows them): build, parse, check the CRC.

Objects are ID (2 digits), length (2 digits, in characters), value; templates
nest the same way.  The CRC is CRC-16/CCITT-FALSE over the UTF-8 bytes of
everything up to and including the literal "6304" (payments.md).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable


class EmvQrError(ValueError):
    pass


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) as 4 uppercase hex digits."""
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def tlv(tag: str, value: str) -> str:
    if len(tag) != 2 or not tag.isdigit():
        raise EmvQrError(f"tag {tag!r} is not two digits")
    if len(value) > 99:
        raise EmvQrError(f"value of tag {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def parse(payload: str) -> list[tuple[str, str]]:
    """Top-level objects in order; raises EmvQrError on a malformed payload or a wrong CRC."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise EmvQrError("no CRC object (6304) at the end")
    if crc16(payload[:-4].encode("utf-8")) != payload[-4:].upper():
        raise EmvQrError("CRC does not match")
    objects = split(payload)
    if not objects or objects[0] != ("00", "01"):
        raise EmvQrError("payload format indicator 00 = 01 missing")
    return objects


def split(text: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(text):
        tag, length = text[i : i + 2], text[i + 2 : i + 4]
        if len(tag) < 2 or not length.isdigit():
            raise EmvQrError(f"malformed object at character {i}")
        value = text[i + 4 : i + 4 + int(length)]
        if len(value) != int(length):
            raise EmvQrError(f"object {tag} is cut short")
        out.append((tag, value))
        i += 4 + int(length)
    return out


def build(objects: Iterable[tuple[str, str]]) -> str:
    """A payload from (tag, value) objects, without 63: the CRC is appended."""
    body = "".join(tlv(tag, value) for tag, value in objects if tag != "63") + "6304"
    return body + crc16(body.encode("utf-8"))


def dynamic_payment(
    *,
    scheme_id: str,
    merchant_id: str,
    mcc: str,
    currency_numeric: str,
    amount_minor: int,
    country: str,
    merchant_name: str,
    city: str,
    bill_number: str,
    terminal: str,
    template_tag: str = "26",
    local_city: str = "",
    fallback_name: str = "MERCHANT",
) -> str:
    """A dynamic (01 = 12) merchant-presented QR for one amount and one bill.

    Tags 59 and 60 take only ASCII: a name in another script goes, whole, into the merchant information
    language template (64: 00 language ZH, 01 name, 02 city), and 59 keeps its ASCII letters, or
    `fallback_name` when it has none (the spec's vector: 59 "BEST TRANSPORT", 64 01 "最佳运输").
    """
    account = tlv("00", scheme_id) + tlv("01", merchant_id)
    extra = tlv("01", bill_number) + tlv("07", terminal)
    whole, cents = divmod(amount_minor, 100)
    objects = [
        ("00", "01"),
        ("01", "12"),
        (template_tag, account),
        ("52", mcc),
        ("53", currency_numeric),
        ("54", f"{whole}.{cents:02d}"),
        ("58", country),
        ("59", (ascii_only(merchant_name) or ascii_only(fallback_name) or "MERCHANT")[:25]),
        ("60", (ascii_only(city) or "CITY")[:15]),
    ]
    if ascii_only(merchant_name) != merchant_name.strip():  # 64 needs its 01: only for a name in another script
        local = tlv("00", "ZH") + tlv("01", merchant_name.strip()[:25])
        if local_city:
            local += tlv("02", local_city[:15])
        objects.append(("64", local))
    return build([*objects, ("62", extra)])


def ascii_only(text: str) -> str:
    """The printable ASCII of `text`, spaces folded: what tags 59 and 60 may hold."""
    return " ".join("".join(c if 0x20 <= ord(c) < 0x7F else " " for c in text).split())
