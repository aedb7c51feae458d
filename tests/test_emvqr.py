"""EMVCo merchant-presented QR: the spec's vectors, round trips, refusals."""

import pytest

from kiosk.payments.emvqr import EmvQrError, build, crc16, dynamic_payment, parse, split

SPEC_VECTOR = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT"
    "6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A01"
    "12233449988770708123456786304A13A"
)


def test_crc_check_value():
    assert crc16(b"123456789") == "29B1"


def test_spec_vector_round_trips():
    objects = parse(SPEC_VECTOR)
    assert objects[0] == ("00", "01") and ("59", "BEST TRANSPORT") in objects and ("54", "23.72") in objects
    assert dict(split(dict(objects)["64"]))["01"] == "最佳运输"  # lengths count characters, not bytes
    assert build(objects) == SPEC_VECTOR


def test_a_changed_payload_is_refused():
    with pytest.raises(EmvQrError, match="CRC"):
        parse(SPEC_VECTOR.replace("23.72", "93.72"))
    with pytest.raises(EmvQrError):
        parse("000201")
    with pytest.raises(EmvQrError, match="cut short"):
        split("5910ABC")


def test_dynamic_payment_payload():
    payload = dynamic_payment(
        scheme_id="D15600000000",
        merchant_id="M123",
        mcc="5411",
        currency_numeric="156",
        amount_minor=7660,
        country="CN",
        merchant_name="Demo Store",
        city="SHANGHAI",
        bill_number="K01-261124-0001",
        terminal="kiosk-01",
    )
    objects = dict(parse(payload))
    assert objects["01"] == "12" and objects["54"] == "76.60" and objects["53"] == "156"
    assert dict(split(objects["62"])) == {"01": "K01-261124-0001", "07": "kiosk-01"}
    with pytest.raises(EmvQrError):
        build([("5", "x")])
