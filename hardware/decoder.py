"""Barcode and QR decoding for camera frames.

zxing-cpp, restricted to the symbologies a shop uses, on a grayscale frame:
measured on ../shared/data/barcode-photos it reads as many or more codes than
pyzbar at several times the speed (bench/RESULTS.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

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


@dataclass(frozen=True)
class Symbol:
    symbology: str
    text: str


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


class Decoder:
    def __init__(self, try_rotate: bool = True) -> None:
        self.try_rotate = try_rotate

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        gray = to_gray(frame)
        results = zxingcpp.read_barcodes(gray, formats=FORMATS, try_rotate=self.try_rotate)
        return [Symbol(_NAMES.get(r.format, str(r.format).split(".")[-1].upper()), r.text) for r in results if r.valid]
