"""What a scanned text is: product, payment code (per payments.md), or neither; masking."""

from kiosk.catalog import DEMO_PRODUCTS, gtin_valid
from kiosk.codes import CodeKind, CodeMemory, Scheme, classify, mask

EMV_VECTOR = (
    "hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0I"
    "cnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw=="
)


def test_wallet_schemes_from_the_spec():
    assert classify("281234567890123456").scheme is Scheme.ALIPAY  # 18 digits, 25-30
    assert classify("2512345678901234").scheme is Scheme.ALIPAY  # 16 digits
    assert classify("301234567890123456789012").scheme is Scheme.ALIPAY  # 24 digits
    assert classify("134567890123456789").scheme is Scheme.WECHAT  # 18 digits, 10-15
    assert classify("6212345678901234567").scheme is Scheme.UNIONPAY  # 19 digits, 62
    assert classify(EMV_VECTOR).scheme is Scheme.EMVCO


def test_not_payment_codes():
    for text in [
        "3012345678901234567890123",  # 25 digits: too long for Alipay
        "161234567890123456",  # 18 digits starting 16: neither scheme
        "fp1234567890123456",  # Alipay face pay: not for this kiosk
        "https://qr.alipay.com/bax01234",  # a URL
        "hQVDUFYwMWETTwegAAAA",  # EMV prefix but truncated TLV
        "hQVDUFYwMW!!!!",  # EMV prefix, not Base64
        "",
    ]:
        assert classify(text).kind is not CodeKind.PAYMENT, text


def test_product_codes_need_a_valid_check_digit():
    assert classify("6901234000016").kind is CodeKind.PRODUCT
    assert classify("6901234000017").kind is CodeKind.OTHER
    assert classify("96385074").kind is CodeKind.PRODUCT  # EAN-8
    assert classify("hello world").kind is CodeKind.OTHER


def test_demo_catalog_is_valid():
    assert len(DEMO_PRODUCTS) >= 30
    assert all(gtin_valid(p.barcode) and len(p.barcode) == 13 for p in DEMO_PRODUCTS)
    assert len({p.barcode for p in DEMO_PRODUCTS}) == len(DEMO_PRODUCTS)
    assert all(p.name_zh and p.name_en and isinstance(p.price, int) and p.price > 0 for p in DEMO_PRODUCTS)


def test_mask_shows_first_and_last_four_only():
    assert mask("281234567890123456") == "2812********3456"
    assert "56789012" not in mask("281234567890123456")
    assert classify("281234567890123456").masked == "2812********3456"
    assert mask("1234") == "****"


def test_code_memory_keeps_no_code():
    mem = CodeMemory()
    mem.remember("281234567890123456")
    assert mem.seen("281234567890123456") and not mem.seen("281234567890123457")
    assert all("2812345" not in repr(d) for d in mem._seen)


def test_retail_codes_compare_as_gtin14():
    from kiosk.catalog import gtin14

    assert gtin14("890444000335") == gtin14("0890444000335") == "00890444000335"  # UPC-A and its EAN-13 form
    assert gtin14("05096893", "UPCE") == gtin14("050968000093") == "00050968000093"  # UPC-E expanded
    # each UPC-E rule (last digit 0-2, 3, 4, 5-9), as zxing-cpp expands them
    assert gtin14("01234505", "UPCE") == "00012000003455"
    assert gtin14("01234531", "UPCE") == "00012300000451"
    assert gtin14("01234543", "UPCE") == "00012340000053"
    assert gtin14("01234565", "UPCE") == "00012345000065"
    assert gtin14("96385074") == "00000096385074"  # 8 digits without a symbology: EAN-8
    assert gtin14("6901234000017") is None  # bad check digit
    assert gtin14("hello") is None
