"""Products, barcodes and the demo catalog that `make run` seeds.

Plain data: a Product is what the cart needs to know; the catalog is a mapping
from barcode to Product.  GTIN checksums are checked here so a misread never
looks up a product.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tax classes, rates in basis points.  Prices are tax-inclusive (Chinese retail).
TAX_RATES_BP: dict[str, int] = {"standard": 1300, "reduced": 900, "zero": 0}


@dataclass(frozen=True)
class Product:
    sku: str
    barcode: str
    name_zh: str
    name_en: str
    price: int  # minor units, tax inclusive
    tax_class: str = "standard"
    unit: str = "piece"  # piece, or kg (sold by weight)
    age_restricted: bool = False
    category: str = ""
    label: str = ""  # a scale's label this item was priced by (kiosk.weighed): each label is a line of its own
    grams: int | None = None  # what that label weighed (for an item sold by kg): head office counts its stock so
    search: str = ""  # extra words the look-up screen finds it by: pinyin initials and pinyin ("kqs kuangquanshui")
    picture: str = ""  # the SHA-256 of its picture (kiosk.services.pictures keeps the file), "" for none
    names: tuple[tuple[str, str], ...] = ()  # head office's names for other shoppers: (zh_TW | ja | ko, name)

    @property
    def key(self) -> str:
        """What a cart line is: the product, or the product as one label priced it."""
        return f"{self.sku}@{self.label}" if self.label else self.sku

    def name(self, language: str) -> str:
        """Its name for a shopper who reads `language` (kiosk.i18n.product_name)."""
        from kiosk.i18n import product_name  # the language rules live with the languages

        return product_name(self.name_zh, self.name_en, language, self.names)


def gtin_valid(code: str) -> bool:
    """True for a GTIN-8/12/13/14 (EAN-8, UPC-A, EAN-13) whose check digit is right."""
    if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def lookup_key(code: str) -> str:
    """How a scanned code is looked up in the catalog: a retail code as its GTIN-14 (so a scanner's UPC-A finds
    the product listed by its EAN-13 form), any other code as it is."""
    return gtin14(code) or code


def upce_to_upca(code: str) -> str | None:
    """Expand an 8-digit UPC-E (number system, 6 digits, check) to its 12-digit UPC-A, or None."""
    if len(code) != 8 or not code.isascii() or not code.isdigit() or code[0] not in "01":
        return None
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def gtin14(code: str, symbology: str = "") -> str | None:
    """A retail code as GTIN-14, so UPC-A, its EAN-13 form and UPC-E compare equal; None if it is not one.

    An 8-digit code is EAN-8 unless `symbology` says UPCE (the digits alone cannot tell them apart).
    """
    code = code.strip()
    if symbology.upper().replace("-", "") == "UPCE" and len(code) == 8:
        code = upce_to_upca(code) or ""
    if not gtin_valid(code):
        return None
    return code.zfill(14)


# sku, EAN-13, Chinese name, English name, price (fen), tax class[, unit, age-restricted]
_DEMO_ROWS = [
    ("P001", "6901234000016", "矿泉水 550ml", "Mineral water 550ml", 200, "standard"),
    ("P002", "6901234000023", "可乐 330ml", "Cola 330ml", 350, "standard"),
    ("P003", "6901234000030", "绿茶 500ml", "Green tea 500ml", 400, "standard"),
    ("P004", "6901234000047", "橙汁 1L", "Orange juice 1L", 1290, "standard"),
    ("P005", "6901234000054", "纯牛奶 250ml", "Whole milk 250ml", 380, "reduced"),
    ("P006", "6901234000061", "酸奶 200g", "Yogurt 200g", 590, "reduced"),
    ("P007", "6901234000078", "全麦面包", "Wholemeal bread", 1250, "reduced"),
    ("P008", "6901234000085", "鸡蛋 10枚", "Eggs x10", 1680, "reduced"),
    ("P009", "6901234000092", "大米 5kg", "Rice 5kg", 4990, "reduced"),
    ("P010", "6901234000108", "方便面", "Instant noodles", 450, "standard"),
    ("P011", "6901234000115", "薯片 原味", "Potato crisps", 790, "standard"),
    ("P012", "6901234000122", "巧克力", "Chocolate bar", 990, "standard"),
    ("P013", "6901234000139", "饼干", "Biscuits", 650, "standard"),
    ("P014", "6901234000146", "口香糖", "Chewing gum", 1000, "standard"),
    ("P015", "6901234000153", "苹果 1kg", "Apples 1kg", 1590, "reduced"),
    ("P016", "6901234000160", "香蕉 1kg", "Bananas 1kg", 890, "reduced"),
    ("P017", "6901234000177", "咖啡 罐装", "Canned coffee", 680, "standard"),
    ("P018", "6901234000184", "啤酒 500ml", "Beer 500ml", 800, "standard", "piece", True),  # age-restricted
    ("P019", "6901234000191", "纸巾 10包", "Tissues x10", 1490, "standard"),
    ("P020", "6901234000207", "牙膏", "Toothpaste", 1890, "standard"),
    ("P021", "6901234000214", "洗发水", "Shampoo", 3990, "standard"),
    ("P022", "6901234000221", "电池 AA 4节", "AA batteries x4", 2590, "standard"),
    ("P023", "6901234000238", "雨伞", "Umbrella", 4900, "standard"),
    ("P024", "6901234000245", "笔记本", "Notebook", 590, "reduced"),
    ("P025", "6901234000252", "圆珠笔", "Ballpoint pen", 250, "standard"),
    ("P026", "6901234000269", "酱油 500ml", "Soy sauce 500ml", 990, "reduced"),
    ("P027", "6901234000276", "食用油 1L", "Cooking oil 1L", 2290, "reduced"),
    ("P028", "6901234000283", "冰淇淋", "Ice cream", 1200, "standard"),
    ("P029", "6901234000290", "三明治", "Sandwich", 1580, "standard"),
    ("P030", "6901234000306", "饭团", "Rice ball", 690, "standard"),
    ("P031", "6901234000313", "充电线", "Charging cable", 2990, "standard"),
    ("P032", "6901234000320", "购物袋", "Shopping bag", 50, "zero"),
]

# the look-up screen's categories and search words (pinyin initials and pinyin, as head office's publish makes them)
_DEMO_CATEGORY = {
    "P001": "drinks",
    "P002": "drinks",
    "P003": "drinks",
    "P004": "drinks",
    "P005": "dairy",
    "P006": "dairy",
    "P007": "bakery",
    "P008": "fresh",
    "P009": "pantry",
    "P010": "pantry",
    "P011": "snacks",
    "P012": "snacks",
    "P013": "snacks",
    "P014": "snacks",
    "P015": "fruit",
    "P016": "fruit",
    "P017": "drinks",
    "P018": "drinks",
    "P019": "household",
    "P020": "household",
    "P021": "household",
    "P022": "household",
    "P023": "household",
    "P024": "stationery",
    "P025": "stationery",
    "P026": "pantry",
    "P027": "pantry",
    "P028": "fresh",
    "P029": "fresh",
    "P030": "fresh",
    "P031": "household",
    "P032": "bags",
}
_DEMO_SEARCH = {
    "P001": "kqs kuangquanshui",
    "P002": "kl kele",
    "P003": "lc lvcha",
    "P004": "cz chengzhi",
    "P005": "cnn chunniunai",
    "P006": "sn suannai",
    "P007": "qmmb quanmaimianbao",
    "P008": "jdm jidanmei",
    "P009": "dm dami",
    "P010": "fbm fangbianmian",
    "P011": "spyw shupianyuanwei",
    "P012": "qkl qiaokeli",
    "P013": "bg binggan",
    "P014": "kxt kouxiangtang",
    "P015": "pg pingguo",
    "P016": "xj xiangjiao",
    "P017": "kfgz kafeiguanzhuang",
    "P018": "pj pijiu",
    "P019": "zjb zhijinbao",
    "P020": "yg yagao",
    "P021": "xfs xifashui",
    "P022": "dcj dianchijie",
    "P023": "ys yusan",
    "P024": "bjb bijiben",
    "P025": "yzb yuanzhubi",
    "P026": "jy jiangyou",
    "P027": "syy shiyongyou",
    "P028": "bql bingqilin",
    "P029": "smz sanmingzhi",
    "P030": "ft fantuan",
    "P031": "cdx chongdianxian",
    "P032": "gwd gouwudai",
}
DEMO_PRODUCTS: list[Product] = [
    Product(*row, category=_DEMO_CATEGORY[row[0]], search=_DEMO_SEARCH[row[0]])  # type: ignore[misc]
    for row in _DEMO_ROWS
]
