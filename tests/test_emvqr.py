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


@pytest.mark.parametrize(
    ("name", "tag59"),
    [("演示便利店", "DEMO-STORE"), ("Demo Store 演示店", "Demo Store"), ("Demo Store", "Demo Store")],
)
def test_a_chinese_store_name_goes_in_the_language_template(name, tag59):
    """Tag 59 takes only ASCII: the Chinese name goes into 64 (00 ZH, 01 name, 02 city), as in the spec's vector."""
    payload = dynamic_payment(
        scheme_id="D15600000000",
        merchant_id="M123",
        mcc="5411",
        currency_numeric="156",
        amount_minor=550,
        country="CN",
        merchant_name=name,
        city="SHANGHAI",
        local_city="上海",
        fallback_name="DEMO-STORE",
        bill_number="K01-261124-0001",
        terminal="kiosk-01",
    )
    objects = dict(parse(payload))
    assert objects["59"] == tag59 and objects["59"].isascii() and objects["60"] == "SHANGHAI"
    assert all(v.isascii() for t, v in parse(payload) if t not in ("64",))  # nothing else outside ASCII
    if name.isascii():
        assert "64" not in objects
    else:
        assert dict(split(objects["64"])) == {"00": "ZH", "01": name, "02": "上海"}
    # laid out as the spec's vector is: the same shapes parse the same way
    vector = dict(parse(SPEC_VECTOR))
    assert [t for t, _ in split(vector["64"])] == [t for t, _ in split(objects.get("64", vector["64"]))]


def test_the_sandboxs_scan_to_pay_qr_for_a_chinese_store(tmp_path):
    from kiosk.payments.sandbox import SandboxGateway

    gw = SandboxGateway(tmp_path / "s.sqlite", latency_s=0, merchant=("演示便利店", "demo-store", "kiosk-01", "CNY"))
    objects = dict(parse(gw.precreate("K0126112500000001", 550, "t").qr))
    assert objects["59"] == "DEMO-STORE" and dict(split(objects["64"]))["01"] == "演示便利店"
