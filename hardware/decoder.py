"""Barcode and QR decoding for camera frames.

Two decoders, each where it is strong (measured in bench/RESULTS.md):

1. A quarter-size gradient map finds regions whose edges all run one way:
   the bars of a 1D code (EAN-13, UPC, CODE128).  The crop is squeezed 4x
   along the bars (a 1D code needs resolution only across them, and the
   averaging removes sensor noise), then pyzbar, restricted to 1D
   symbologies, reads it: ZBar is more tolerant of tilt and blur in 1D codes
   than zxing-cpp, and a squeezed crop costs a fraction of a full frame.
   zxing-cpp tries the crop first (it is cheaper still, and its text for
   CODE128 function characters follows the ZXing convention).
2. Otherwise zxing-cpp reads, at full resolution, the regions where the same
   map shows dense edges every way (QR codes, and 1D codes the first step
   missed): never the whole frame, whose cost grows with the camera.

An empty frame (the commonest) costs the gradient map alone: about 1 ms at
640x480 and 3 ms at 1920x1080 here, against 2.5 and 14 ms for zxing-cpp's
full frame, with the same hits (bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar
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
Box = tuple[int, int, int, int, bool]


@dataclass(frozen=True)
class Symbol:
    symbology: str
    text: str


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def regions(gray: np.ndarray, max_regions: int = 2) -> tuple[list[Box], list[Box]]:
    """Where codes may be, from one quarter-size gradient map: boxes (x, y, w, h, upright) in frame pixels that
    look like the bars of a 1D code, and boxes with dense edges every way (a QR, or a 1D code at an angle),
    each largest first.  `upright`: the bars stand vertically.  A frame with neither holds no code."""
    h, w = gray.shape
    small = cv2.resize(gray, (w // SCALE, h // SCALE), interpolation=cv2.INTER_AREA)
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
    def decode(self, frame: np.ndarray) -> list[Symbol]:
        gray = to_gray(frame)
        h, w = gray.shape
        bars, textured = regions(gray)
        for x, y, bw, bh, upright in bars:
            px, py = bw // 4 + 8, bh // 4 + 8
            crop = gray[max(0, y - py) : min(h, y + bh + py), max(0, x - px) : min(w, x + bw + px)]
            found = _zxing(crop, FORMATS[1:])
            if not found:
                ch, cw = crop.shape
                size = (cw, max(8, ch // 4)) if upright else (max(8, cw // 4), ch)
                squeezed = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
                found = [
                    Symbol(r.type, r.data.decode("utf-8", "replace")) for r in pyzbar.decode(squeezed, symbols=_ZBAR_1D)
                ]
            if found:
                return found
        for x, y, bw, bh, _ in textured:  # read at full resolution, only where the map saw edges
            px, py = bw // 4 + 16, bh // 4 + 16
            found = _zxing(gray[max(0, y - py) : min(h, y + bh + py), max(0, x - px) : min(w, x + bw + px)], FORMATS)
            if found:
                return found
        return []


def _zxing(gray: np.ndarray, formats: tuple) -> list[Symbol]:
    results = zxingcpp.read_barcodes(gray, formats=formats, try_rotate=True)
    return [Symbol(_NAMES.get(r.format, r.format.name.upper()), r.text) for r in results if r.valid]
