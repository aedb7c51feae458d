"""Finding a font that has Chinese glyphs, for the screen and the receipt raster."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

KNOWN = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
]


class FontMissing(Exception):
    pass


def find_cjk_font(configured: str = "") -> str:
    """The configured font, else a known CJK font on this system, else fontconfig's answer for zh."""
    if configured:
        if Path(configured).is_file():
            return usable(configured, "display.font: ")
        raise FontMissing(f"display.font: {configured} does not exist")
    for path in KNOWN:
        if Path(path).is_file():
            return usable(path)
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).is_file() and ("wqy" in path.lower() or "cjk" in path.lower()):
            return usable(path)
    raise FontMissing(
        "no Chinese font found: install one (sudo apt-get install fonts-wqy-microhei) or set display.font"
    )


def usable(path: str, key: str = "") -> str:
    """`path` if it is a font that draws Chinese; FontMissing naming it otherwise (garbage, or no CJK glyphs)."""
    from PIL import Image, ImageDraw, ImageFont

    def drawn(font: ImageFont.FreeTypeFont, text: str) -> bytes:
        img = Image.new("L", (48, 48))
        ImageDraw.Draw(img).text((4, 4), text, font=font, fill=255)
        return img.tobytes()

    try:
        font = ImageFont.truetype(path, 32)
        han, missing = drawn(font, "中"), drawn(font, "\U0010fffd")  # a private-use character: no glyph
    except (OSError, ValueError) as exc:
        raise FontMissing(f"{key}{path} is not a font the kiosk can read ({exc})") from None
    if not any(han) or han == missing:
        raise FontMissing(f"{key}{path} has no Chinese characters; use a CJK font (fonts-wqy-microhei)")
    return path
