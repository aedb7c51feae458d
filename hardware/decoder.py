"""Barcode and QR decoding for camera frames.

Two decoders, each where it is strong (measured in bench/RESULTS.md):

1. A quarter-size gradient map finds regions whose edges all run one way:
   the bars of a 1D code (EAN-13, UPC, CODE128).  The crop is turned so the
   bars stand upright and squeezed 4x down them (a 1D code needs resolution
   only across its bars, and the averaging removes sensor noise).  zxing-cpp
   reads it first (cheapest, and its text for CODE128 function characters
   follows the ZXing convention), then ZBar along rows only: ZBar is more
   tolerant of tilt and blur in 1D codes, and a squeezed crop costs a
   fraction of a full frame.
2. Otherwise zxing-cpp reads, at full resolution, the regions where the same
   map shows dense edges every way (QR codes, and 1D codes the first step
   missed): never the whole frame, whose cost grows with the camera.  QR
   finding does not depend on rotation, so zxing-cpp's 90-degree retries
   (half its time) are left off: a turned 1D code is step 1's.

An empty frame (the commonest) costs the gradient map alone: about 0.6 ms at
640x480 and 2 ms at 1920x1080 here, against 2.4 and 13 ms for zxing-cpp's
full frame, with the same hits (bench/RESULTS.md).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from pyzbar import wrapper as zw
from pyzbar.pyzbar import ZBarSymbol

_F = zxingcpp.BarcodeFormat
FORMATS = (_F.QRCode, _F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.Code128)
# Names as pyzbar prints them, so tools and logs read the same whichever decoder ran
_NAMES = {
    _F.QRCode: "QRCODE",
    _F.EAN13: "EAN13",
    _F.EAN8: "EAN8",
    _F.UPCA: "UPCA",
    _F.UPCE: "UPCE",
    _F.Code128: "CODE128",
}
_ZBAR_1D = [ZBarSymbol.EAN13, ZBarSymbol.EAN8, ZBarSymbol.UPCA, ZBarSymbol.UPCE, ZBarSymbol.CODE128]
_CLOSE = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
SCALE = 4  # the gradient map is 1/4 of the frame each way
EDGE_THRESHOLD = 60  # mean one-way gradient that counts as bars (sensor noise stays well below)
ONE_WAY = 1.25  # edges this much stronger one way than the other: bars (a QR measures about 1.0)
TEXTURE_THRESHOLD = 40  # mean edge strength (both ways) where a code may be; a smooth or noisy frame stays below
_Y800 = 0x30303859  # fourcc of 8-bit grey ('Y800')
Box = tuple[int, int, int, int, bool]


@dataclass(frozen=True)
class Symbol:
    symbology: str
    text: str


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def shrink4(gray: np.ndarray, across: bool, down: bool) -> np.ndarray:
    """The image made 4x smaller across and/or down, each pixel the mean of the 4 (or 4x4) it replaces: two
    exact halvings by bilinear interpolation, the same as INTER_AREA's 4x to within rounding and 4-7x faster."""
    for _ in range(2):
        h, w = gray.shape
        gray = cv2.resize(gray, (w // 2 if across else w, h // 2 if down else h), interpolation=cv2.INTER_LINEAR)
    return gray


def regions(gray: np.ndarray, max_regions: int = 2) -> tuple[list[Box], list[Box]]:
    """Where codes may be, from one quarter-size gradient map: boxes (x, y, w, h, upright) in frame pixels that
    look like the bars of a 1D code, and boxes with dense edges every way (a QR, or a 1D code at an angle),
    each largest first.  `upright`: the bars stand vertically.  A frame with neither holds no code."""
    h, w = gray.shape
    small = shrink4(gray, across=True, down=True)
    gx = cv2.convertScaleAbs(cv2.Sobel(small, cv2.CV_16S, 1, 0, ksize=3))
    gy = cv2.convertScaleAbs(cv2.Sobel(small, cv2.CV_16S, 0, 1, ksize=3))
    bars = []
    for x, y, bw, bh in _blobs(cv2.blur(cv2.absdiff(gx, gy), (5, 5)), EDGE_THRESHOLD, max_regions, 40):
        sx = float(gx[y : y + bh, x : x + bw].sum()) + 1
        sy = float(gy[y : y + bh, x : x + bw].sum()) + 1
        if sx / sy >= ONE_WAY or sy / sx >= ONE_WAY:
            bars.append((x * SCALE, y * SCALE, bw * SCALE, bh * SCALE, sx > sy))
    edges = _blobs(cv2.blur(cv2.add(gx, gy), (5, 5)), TEXTURE_THRESHOLD, max_regions + 1, 30)
    return bars, [(x * SCALE, y * SCALE, bw * SCALE, bh * SCALE, False) for x, y, bw, bh in edges]


def _blobs(strength: np.ndarray, threshold: int, most: int, min_area: int) -> list[tuple[int, int, int, int]]:
    """The largest connected areas where `strength` passes `threshold` (closed over small gaps)."""
    _, mask = cv2.threshold(strength, threshold, 255, cv2.THRESH_BINARY)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _CLOSE)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return [
        (int(x), int(y), int(bw), int(bh))
        for x, y, bw, bh, area in sorted(stats[1:], key=lambda s: -s[4])[:most]
        if area >= min_area
    ]


class Decoder:
    def __init__(self) -> None:
        self._rows = _RowScanner()

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        gray = to_gray(frame)
        h, w = gray.shape
        bars, textured = regions(gray)
        for x, y, bw, bh, upright in bars:
            px, py = bw // 4 + 8, bh // 4 + 8
            crop = gray[max(0, y - py) : min(h, y + bh + py), max(0, x - px) : min(w, x + bw + px)]
            if not upright:
                crop = cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE)
            # bars now stand upright: squeeze the crop 4x down them (a 1D code needs resolution only across)
            squeezed = shrink4(crop, across=False, down=crop.shape[0] >= 32)
            found = _zxing(squeezed, FORMATS[1:], rotate=False) or self._rows.scan(squeezed)
            if found:
                return found
        for x, y, bw, bh, _ in textured:  # read at full resolution, only where the map saw edges
            px, py = bw // 4 + 16, bh // 4 + 16
            crop = gray[max(0, y - py) : min(h, y + bh + py), max(0, x - px) : min(w, x + bw + px)]
            found = _zxing(crop, FORMATS, rotate=False)
            if found:
                return found
        return []


class _RowScanner:
    """ZBar, held open and set up once, reading 1D codes along rows only: the bars stand upright in every image
    it gets, so its column scan (pyzbar.decode's default, half the work) could find nothing more."""

    def __init__(self) -> None:
        self._scanner = zw.zbar_image_scanner_create()
        for symbol in ZBarSymbol:  # as pyzbar.decode(symbols=...) sets them, once instead of every call
            zw.zbar_image_scanner_set_config(self._scanner, symbol, zw.ZBarConfig.CFG_ENABLE, int(symbol in _ZBAR_1D))
        zw.zbar_image_scanner_set_config(self._scanner, ZBarSymbol.NONE, zw.ZBarConfig.CFG_X_DENSITY, 0)

    def __del__(self) -> None:
        zw.zbar_image_scanner_destroy(self._scanner)

    def scan(self, gray: np.ndarray) -> list[Symbol]:
        pixels = np.ascontiguousarray(gray).tobytes()
        image = zw.zbar_image_create()
        try:
            zw.zbar_image_set_format(image, _Y800)
            zw.zbar_image_set_size(image, gray.shape[1], gray.shape[0])
            zw.zbar_image_set_data(image, ctypes.cast(pixels, ctypes.c_void_p), len(pixels), None)
            if zw.zbar_scan_image(self._scanner, image) <= 0:
                return []
            found = []
            symbol = zw.zbar_image_first_symbol(image)
            while symbol:
                data = ctypes.string_at(zw.zbar_symbol_get_data(symbol), zw.zbar_symbol_get_data_length(symbol))
                found.append(Symbol(ZBarSymbol(symbol.contents.type).name, data.decode("utf-8", "replace")))
                symbol = zw.zbar_symbol_next(symbol)
            return found
        finally:
            zw.zbar_image_destroy(image)


def _zxing(gray: np.ndarray, formats: tuple, rotate: bool) -> list[Symbol]:
    results = zxingcpp.read_barcodes(gray, formats=formats, try_rotate=rotate)
    return [Symbol(_NAMES.get(r.format, r.format.name.upper()), r.text) for r in results if r.valid]
