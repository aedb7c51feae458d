"""The shared phone photos (../shared/data/barcode-photos) and how a read of one is judged, for tests and bench."""

from __future__ import annotations

from pathlib import Path

import cv2

from kiosk.catalog import gtin14

PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "barcode-photos"


def photos() -> list[tuple[Path, str | None, str]]:
    """(image, expected text or None for a photo with no barcode, the symbology its folder holds)."""
    items = []
    for img in sorted(PHOTOS.glob("*/*")):
        if img.suffix not in (".png", ".jpg", ".gif") or cv2.imread(str(img)) is None:
            continue
        txt = img.with_suffix(".txt")
        expected = txt.read_text(encoding="utf-8", errors="replace") if txt.exists() else None
        items.append((img, expected, "UPCE" if img.parent.name.startswith("upce") else ""))
    return items


def norm(text: str, symbology: str = "") -> str:
    """Retail codes compare as GTIN-14 (UPC-A = EAN-13 with a leading 0, UPC-E expanded); other text as is."""
    return gtin14(text, symbology) or text.replace("\r\n", "\n").strip()
