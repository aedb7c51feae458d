"""Camera-like test frames: sensor noise and blur, a payment QR or an EAN-13 at a few sizes and tilts.

Used by the decode benchmark and by tests/test_devices.py, so both judge the decoder on the same frames.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

PAYMENT_CODE = "281234567890123451"
PRODUCT_CODE = "6901234000016"


def camera_scenes(w: int, h: int) -> dict[str, list[np.ndarray]]:
    """Camera-like frames: sensor noise and blur, the code at a few sizes and small tilts."""
    import barcode
    from barcode.writer import ImageWriter
    from PIL import Image

    from hardware.camera import qr_image

    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    barcode.get("ean13", PRODUCT_CODE, writer=ImageWriter()).write(
        buf, {"module_width": 0.25, "module_height": 8, "dpi": 200, "quiet_zone": 4, "write_text": False}
    )
    ean = np.array(Image.open(buf).convert("L"))
    qr = qr_image(PAYMENT_CODE, box=5)

    def frame(img: np.ndarray | None, scale: float, angle: float) -> np.ndarray:
        f = cv2.GaussianBlur(rng.normal(150, 25, (h, w)).clip(0, 255).astype(np.uint8), (5, 5), 0)
        if img is not None:
            im = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            m = cv2.getRotationMatrix2D((im.shape[1] / 2, im.shape[0] / 2), angle, 1.0)
            im = cv2.warpAffine(im, m, (im.shape[1], im.shape[0]), borderValue=255)
            ih, iw = im.shape
            y, x = (h - ih) // 2, (w - iw) // 2
            f[y : y + ih, x : x + iw] = im
            f = cv2.GaussianBlur(f, (3, 3), 0)
        return cv2.cvtColor(f, cv2.COLOR_GRAY2BGR)

    variants = [(s, a) for s in (0.8, 1.0, 1.4) for a in (-8, 0, 8)]
    return {
        "payment QR": [frame(qr, s, a) for s, a in variants],
        "EAN-13": [frame(ean, s, a) for s, a in variants],
        "empty": [frame(None, 1, 0) for _ in range(3)],
    }
