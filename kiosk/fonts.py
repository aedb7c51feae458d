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
            return configured
        raise FontMissing(f"display.font: {configured} does not exist")
    for path in KNOWN:
        if Path(path).is_file():
            return path
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).is_file() and "wqy" in path.lower() or "cjk" in path.lower():
            return path
    raise FontMissing(
        "no Chinese font found: install one (sudo apt-get install fonts-wqy-microhei) or set display.font"
    )
