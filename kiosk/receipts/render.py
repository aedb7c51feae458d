"""Rows -> paper: a 1-bit picture drawn on the printer's character grid, or GB18030 text; then ESC/POS.

The picture puts every character in its cell (12 dots wide, 24 for CJK and
twice that for large rows), so columns line up exactly as on a printer's own
font.  The preview adds the barcode and QR as the printer draws them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
from collections.abc import Iterator
from functools import cache
from typing import Any

import numpy as np
import qrcode
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from kiosk.receipts.document import Receipt, ReceiptSettings
from kiosk.receipts.layout import Row, char_width, layout

ROW_H, BIG_ROW_H = 30, 58
BARCODE_H, BARCODE_W, QR_MODULE = 64, 2, 6  # dots, as sent to the printer
RASTER_BAND = 960  # rows per GS v 0 command, as python-escpos splits images


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@cache
def _glyph(font_path: str, c: str, size: int, cell_w: int, cell_h: int) -> Image.Image:
    """One character drawn into its cell (squeezed if the font's glyph is wider), as a mask."""
    font = _font(font_path, size)
    w = max(1, int(font.getlength(c) + 0.5))
    img = Image.new("L", (w, cell_h), 0)
    ImageDraw.Draw(img).text((0, 0), c, font=font, fill=255)
    if w > cell_w:
        img = img.resize((cell_w, cell_h), Image.LANCZOS)
    cell = Image.new("L", (cell_w, cell_h), 0)
    cell.paste(img, ((cell_w - img.width) // 2, 0))
    return cell.point(lambda v: 255 if v >= 110 else 0).convert("1")


def text_image(rows: list[Row], s: ReceiptSettings) -> Image.Image:
    """The rows as a picture exactly as wide as the paper's printable area."""
    cell = s.dots // s.columns
    height = sum(BIG_ROW_H if r.big else ROW_H for r in rows) + 8
    img = Image.new("1", (s.dots, height), 1)
    y = 4
    for row in rows:
        scale = 2 if row.big else 1
        row_h = BIG_ROW_H if row.big else ROW_H
        x = 0
        for c in row.text:
            w = char_width(c) * cell * scale
            if c != " ":
                img.paste(0, (x, y), _glyph(s.font_path, c, 22 * scale, w, row_h))
            x += w
        y += row_h
    return img


def raster(img: Image.Image, band: int = RASTER_BAND) -> bytes:
    """`GS v 0` commands for a 1-bit picture (white = 1), `band` rows each: the bytes python-escpos's
    image(impl="bitImageRaster") sends (tests hold them equal), packed once with numpy instead of python-escpos
    converting, splitting and re-converting the picture band by band (most of a long receipt's time)."""
    black = ~np.asarray(img.convert("1"), dtype=bool)
    packed = np.packbits(black, axis=1)  # 8 dots a byte, the first dot in the high bit, rows padded with white
    width_bytes = packed.shape[1]
    out = bytearray()
    for top in range(0, packed.shape[0], band):
        part = packed[top : top + band]
        out += b"\x1dv0\x00" + width_bytes.to_bytes(2, "little") + part.shape[0].to_bytes(2, "little")
        out += part.tobytes()
    return bytes(out)


@contextlib.contextmanager
def _job(width: int) -> Iterator[Dummy]:
    """A Dummy printer that knows the paper width (so python-escpos refuses an image too wide for it)."""
    p = Dummy()
    p.profile.profile_data = copy.deepcopy(p.profile.profile_data)
    p.profile.profile_data["media"]["width"]["pixels"] = width
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos 3.1 print()s which barcode renderer it uses
        yield p


def code128(text: str) -> bytes:
    """ESC/POS CODE128 data: code set B, with runs of 4 or more digits packed two to a symbol in code set C.

    Packing matters on 58 mm paper: an order number in set B alone is wider than the paper at 2 dots a module.
    """
    import re

    out = bytearray()
    for part in re.split(r"(\d{4,})", text):
        if not part:
            continue
        if part.isdigit() and len(part) >= 4:
            if len(part) % 2:  # an odd run: its first digit stays in set B
                out += (b"{B" if not out else b"") + part[0].encode()
                part = part[1:]
            out += b"{C" + bytes(int(part[i : i + 2]) for i in range(0, len(part), 2))
        else:
            out += b"{B" + part.replace("{", "{{").encode("ascii")
    return bytes(out)


def code128_modules(data: bytes) -> int:
    """How many modules wide the printer draws `data`: 11 per symbol, start and check, 13 for stop."""
    symbols, i = 0, 0
    while i < len(data):
        if data[i : i + 1] == b"{" and data[i + 1 : i + 2] in (b"B", b"C", b"A"):
            symbols += 1 if i else 0  # the first selector is the start symbol itself
            i += 2
        else:
            symbols += 1
            i += 2 if data[i : i + 2] == b"{{" else 1
    return 11 * (symbols + 2) + 13


FS_CHINESE_ON, FS_CHINESE_OFF = b"\x1c\x26", b"\x1c\x2e"
GS_SIZE_NORMAL, GS_SIZE_DOUBLE = b"\x1d\x21\x00", b"\x1d\x21\x11"


# GB18030 has no two-byte form of U+00A5: it would go out as a 4-byte sequence many printers print as garbage.
# Chinese printers' fonts have the GBK full-width yuan sign (A3 A4), two columns wide, as layout counts it.
NATIVE_CHARS = str.maketrans({"¥": "￥"})


def for_native_font(receipt: Receipt) -> Receipt:
    """The receipt with the characters the printer's own GB18030 font lacks replaced by the ones it has."""

    def fix(block: Any) -> Any:
        if not dataclasses.is_dataclass(block):
            return block
        texts = {
            f.name: getattr(block, f.name).translate(NATIVE_CHARS)
            for f in dataclasses.fields(block)
            if isinstance(getattr(block, f.name), str)
        }
        return dataclasses.replace(block, **texts)

    return dataclasses.replace(receipt, blocks=tuple(fix(b) for b in receipt.blocks))


def _in_printer_font(text: str) -> bool:
    """Whether a Chinese printer's own font (GBK: Chinese, kana, no Hangul) has every character of `text`."""
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def barcode_fits(code: str, s: ReceiptSettings) -> bool:
    """Whether CODE128 of `code` fits the paper at the narrowest module the printer draws (2 dots)."""
    return code128_modules(code128(code)) * BARCODE_W <= s.dots


def escpos_job(receipt: Receipt, s: ReceiptSettings) -> bytes:
    """The whole print job: init, the text (raster or native), CODE128, QR, feed and cut."""
    native = s.mode == "native"
    if native:
        receipt = for_native_font(receipt)
    rows = layout(receipt, s.columns)
    if native and not all(_in_printer_font(row.text) for row in rows):
        native = False  # Hangul, or characters beyond GBK: the printer's own font has none; the picture has all
    with _job(s.dots) as p:
        p.hw("INIT")
        if native:
            p._raw(FS_CHINESE_ON)
            for row in rows:
                p._raw((GS_SIZE_DOUBLE if row.big else GS_SIZE_NORMAL) + row.text.encode("gb18030") + b"\n")
            p._raw(GS_SIZE_NORMAL + FS_CHINESE_OFF)
        else:
            picture = text_image(rows, s)
            if picture.width > s.dots:  # as python-escpos's image() refuses one wider than the paper
                raise ValueError(f"receipt picture {picture.width} dots wide, paper {s.dots}")
            p._raw(raster(picture))
        p.set(align="center")
        if receipt.barcode and barcode_fits(receipt.barcode, s):  # wider than the paper: left out (python-escpos
            # draws modules 2-6 dots wide only); every receipt also prints its number as text
            p.barcode(
                code128(receipt.barcode).decode("latin-1"),
                "CODE128",
                height=BARCODE_H,
                width=BARCODE_W,
                pos="BELOW",
                function_type="B",
                check=False,
            )
        if receipt.qr:
            p.qr(receipt.qr, size=QR_MODULE, native=True)
        p.text("\n")
        p.cut()
        return bytes(p.output)


def preview_image(receipt: Receipt, s: ReceiptSettings) -> Image.Image:
    """What the paper shows: the text, then the barcode and the QR at the printer's sizes."""
    parts = [text_image(layout(receipt, s.columns), s)]
    if receipt.barcode and barcode_fits(receipt.barcode, s):
        parts.append(_barcode_image(receipt.barcode, s))
    if receipt.qr:
        qr = qrcode.QRCode(border=1, box_size=QR_MODULE)
        qr.add_data(receipt.qr)
        parts.append(qr.make_image().convert("1"))
    height = sum(p.height for p in parts) + 40
    page = Image.new("1", (s.dots, height), 1)
    y = 0
    for part in parts:
        page.paste(part, ((s.dots - part.width) // 2, y))
        y += part.height + 10
    return page


def _barcode_image(code: str, s: ReceiptSettings) -> Image.Image:
    import barcode
    from barcode.writer import ImageWriter

    dpi = 203  # 8 dots per mm
    mm = 25.4 / dpi
    buf = io.BytesIO()
    barcode.get("code128", code, writer=ImageWriter()).write(
        buf,
        {
            "module_width": BARCODE_W * mm,
            "module_height": BARCODE_H * mm,
            "dpi": dpi,
            "quiet_zone": 2,
            "font_size": 7,
            "text_distance": 3,
            "font_path": s.font_path,
        },
    )
    img = Image.open(buf).convert("1")
    if img.width > s.dots:  # a printer would not print a barcode wider than the paper; neither does the preview
        img = img.crop(((img.width - s.dots) // 2, 0, (img.width + s.dots) // 2, img.height))
    return img
