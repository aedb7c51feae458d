"""Pictures for the demo catalog, so the simulator's look-up tiles and scanned-item card show what a head-office
catalog with pictures looks like.  Drawn, not photographed (no product photo to license): one simple shape per
kind of goods (a bottle, a can, a carton, a fruit…) in the product's own colour, 240x240 PNG on white, as head
office makes real ones (headoffice/pictures.py).

`install()` draws them (once a process, and only while some are missing), writes the missing files into the
kiosk's pictures folder by their SHA-256, and names them on the seeded demo products that have none; a
head-office catalog replaces them all.
"""

from __future__ import annotations

import hashlib
import io
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.store import Store

if TYPE_CHECKING:
    from PIL import Image

SIZE = 240
Colour = tuple[int, int, int]

# sku -> (shape, colour)
LOOKS: dict[str, tuple[str, Colour]] = {
    "P001": ("bottle", (90, 165, 225)),
    "P002": ("can", (205, 40, 40)),
    "P003": ("bottle", (70, 155, 75)),
    "P004": ("carton", (245, 150, 30)),
    "P005": ("carton", (70, 120, 200)),
    "P006": ("jar", (235, 120, 160)),
    "P007": ("loaf", (185, 125, 65)),
    "P008": ("eggs", (235, 205, 160)),
    "P009": ("sack", (225, 215, 190)),
    "P010": ("bowl", (235, 190, 40)),
    "P011": ("bag", (240, 185, 20)),
    "P012": ("bar", (110, 60, 35)),
    "P013": ("box", (210, 160, 90)),
    "P014": ("bar", (60, 175, 120)),
    "P015": ("fruit", (210, 45, 50)),
    "P016": ("banana", (245, 205, 40)),
    "P017": ("can", (120, 75, 45)),
    "P018": ("can", (215, 160, 30)),
    "P019": ("box", (150, 200, 230)),
    "P020": ("tube", (40, 160, 170)),
    "P021": ("bottle", (140, 90, 190)),
    "P022": ("battery", (50, 50, 55)),
    "P023": ("umbrella", (40, 60, 130)),
    "P024": ("book", (60, 110, 200)),
    "P025": ("pen", (40, 80, 180)),
    "P026": ("bottle", (90, 45, 30)),
    "P027": ("bottle", (225, 180, 40)),
    "P028": ("cone", (240, 150, 180)),
    "P029": ("sandwich", (215, 175, 110)),
    "P030": ("onigiri", (40, 70, 50)),
    "P031": ("cable", (120, 125, 135)),
    "P032": ("shopping_bag", (60, 150, 90)),
}


def _darker(c: Colour, f: float = 0.7) -> Colour:
    return (round(c[0] * f), round(c[1] * f), round(c[2] * f))


def _lighter(c: Colour, f: float = 0.55) -> Colour:
    return (round(c[0] + (255 - c[0]) * f), round(c[1] + (255 - c[1]) * f), round(c[2] + (255 - c[2]) * f))


def draw(shape: str, c: Colour) -> Image.Image:
    """One picture: `shape` in colour `c` (outlined darker, a lighter label or highlight) on white."""
    from PIL import Image, ImageDraw  # only when drawing: a kiosk that has them starts without

    img = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    d = ImageDraw.Draw(img)
    dark, light = _darker(c), _lighter(c)
    kw = {"fill": c, "outline": dark, "width": 4}
    if shape == "bottle":
        d.rounded_rectangle((102, 18, 138, 44), 6, fill=dark)
        d.polygon([(100, 44), (140, 44), (170, 90), (70, 90)], **kw)
        d.rounded_rectangle((70, 80, 170, 222), 24, **kw)
        d.rectangle((72, 130, 168, 175), fill=light)
    elif shape == "can":
        d.rounded_rectangle((72, 36, 168, 218), 16, **kw)
        d.ellipse((72, 28, 168, 56), fill=light, outline=dark, width=4)
        d.rectangle((76, 105, 164, 150), fill=light)
    elif shape == "carton":
        d.rectangle((108, 18, 132, 40), fill=dark)
        d.polygon([(72, 84), (120, 38), (168, 84)], **kw)
        d.rectangle((72, 84, 168, 222), **kw)
        d.rectangle((76, 130, 164, 178), fill=light)
    elif shape == "jar":
        d.rounded_rectangle((78, 40, 162, 70), 8, fill=dark)
        d.rounded_rectangle((66, 66, 174, 220), 28, **kw)
        d.ellipse((95, 115, 145, 165), fill=light)
    elif shape == "loaf":
        d.rounded_rectangle((28, 70, 212, 200), 60, **kw)
        for x in (80, 120, 160):
            d.line((x - 12, 100, x + 12, 150), fill=dark, width=6)
    elif shape == "eggs":
        d.rounded_rectangle((26, 120, 214, 200), 12, fill=(200, 190, 175), outline=(150, 140, 125), width=4)
        for x in (40, 100, 160):
            d.ellipse((x, 70, x + 44, 136), **kw)
    elif shape == "sack":
        d.polygon([(60, 60), (180, 60), (200, 220), (40, 220)], **kw)
        d.rectangle((70, 40, 170, 64), fill=dark)
        d.rectangle((70, 120, 170, 170), fill=(255, 255, 255))
    elif shape == "bowl":
        d.pieslice((30, 40, 210, 220), 0, 180, **kw)
        d.ellipse((30, 110, 210, 150), fill=light, outline=dark, width=4)
        for x in (80, 115, 150):
            d.arc((x, 70, x + 30, 130), 180, 360, fill=dark, width=5)
    elif shape == "bag":
        top = [(60 + i * 12, 40 + (i % 2) * 10) for i in range(11)]
        bottom = [(180 - i * 12, 210 - (i % 2) * 10) for i in range(11)]
        d.polygon(top + bottom, **kw)
        d.ellipse((85, 100, 155, 160), fill=light)
    elif shape == "bar":
        d.polygon([(30, 150), (170, 60), (210, 110), (70, 200)], **kw)
        d.polygon([(70, 124), (136, 82), (170, 130), (104, 172)], fill=light)
    elif shape == "box":
        d.polygon([(50, 80), (120, 50), (190, 80), (120, 110)], fill=light, outline=dark, width=4)
        d.polygon([(50, 80), (120, 110), (120, 220), (50, 190)], **kw)
        d.polygon([(190, 80), (120, 110), (120, 220), (190, 190)], fill=_darker(c, 0.85), outline=dark, width=4)
    elif shape == "fruit":
        d.ellipse((45, 60, 195, 210), **kw)
        d.line((120, 66, 128, 30), fill=(110, 80, 40), width=7)
        d.ellipse((128, 28, 176, 56), fill=(80, 160, 60))
        d.ellipse((75, 90, 105, 125), fill=light)
    elif shape == "banana":
        d.arc((30, -20, 230, 180), 35, 145, fill=dark, width=44)
        d.arc((34, -16, 226, 176), 38, 142, fill=c, width=34)
        d.arc((30, 20, 230, 220), 40, 140, fill=dark, width=40)
        d.arc((34, 24, 226, 216), 43, 137, fill=c, width=30)
    elif shape == "tube":
        d.polygon([(40, 80), (180, 60), (200, 160), (60, 180)], **kw)
        d.rounded_rectangle((180, 90, 222, 130), 6, fill=dark)
        d.polygon([(70, 105), (160, 92), (170, 140), (80, 152)], fill=light)
    elif shape == "battery":
        for x in (40, 100, 160):
            d.rounded_rectangle((x, 60, x + 44, 210), 8, **kw)
            d.rectangle((x + 14, 46, x + 30, 62), fill=(180, 180, 185))
            d.rectangle((x + 2, 80, x + 42, 110), fill=(220, 170, 40))
    elif shape == "umbrella":
        d.pieslice((24, 40, 216, 220), 180, 360, **kw)
        d.line((120, 130, 120, 205), fill=(60, 60, 60), width=7)
        d.arc((120, 180, 150, 215), 0, 180, fill=(60, 60, 60), width=7)
    elif shape == "book":
        d.rounded_rectangle((55, 30, 190, 215), 8, **kw)
        d.rectangle((55, 30, 78, 215), fill=dark)
        d.rectangle((95, 70, 170, 110), fill=light)
    elif shape == "pen":
        d.polygon([(50, 210), (58, 180), (190, 48), (208, 66), (76, 198)], **kw)
        d.polygon([(50, 210), (58, 180), (76, 198)], fill=(60, 60, 60))
    elif shape == "cone":
        d.polygon([(85, 110), (155, 110), (120, 222)], fill=(215, 165, 95), outline=(160, 115, 60), width=4)
        d.ellipse((70, 40, 170, 130), **kw)
    elif shape == "sandwich":
        d.polygon([(30, 190), (210, 190), (120, 50)], fill=(245, 225, 180), outline=(190, 150, 90), width=4)
        d.line((60, 165, 180, 165), fill=(90, 170, 60), width=9)
        d.line((80, 145, 160, 145), fill=(220, 80, 70), width=8)
    elif shape == "onigiri":
        d.rounded_rectangle((40, 40, 200, 205), 60, fill=(250, 250, 245), outline=(190, 190, 185), width=4)
        d.rectangle((85, 140, 155, 205), fill=c)
    elif shape == "cable":
        d.arc((40, 40, 200, 200), 20, 340, fill=c, width=12)
        d.rounded_rectangle((168, 130, 212, 160), 6, fill=dark)
        d.rectangle((190, 138, 224, 152), fill=(190, 190, 195))
    elif shape == "shopping_bag":
        d.arc((82, 30, 158, 120), 180, 360, fill=dark, width=9)
        d.rounded_rectangle((55, 72, 185, 220), 10, **kw)
        d.ellipse((98, 125, 142, 169), fill=light)
    else:
        raise ValueError(f"no drawing for {shape!r}")
    return img


@cache
def drawn() -> dict[str, tuple[str, bytes]]:
    """sku -> (sha256, PNG bytes) of every demo product's picture, drawn once a process."""
    out = {}
    for sku, (shape, colour) in LOOKS.items():
        buf = io.BytesIO()
        draw(shape, colour).save(buf, "PNG")
        data = buf.getvalue()
        out[sku] = (hashlib.sha256(data).hexdigest(), data)
    return out


def install(store: Store, folder: Path) -> int:
    """The demo pictures written into `folder` (those missing) and named on the demo products without one;
    returns how many products got one.  Nothing is drawn when every picture is there from an earlier start."""
    wanted = store.pictures_wanted()
    if len(wanted) >= len(LOOKS) and all((folder / sha).exists() for sha in wanted):
        return 0
    made = drawn()
    folder.mkdir(mode=0o700, exist_ok=True)
    for sha, data in made.values():
        path = folder / sha
        if not path.exists():
            tmp = folder / f".{sha}.part"
            tmp.write_bytes(data)
            os.replace(tmp, path)
    return store.name_pictures({sku: sha for sku, (sha, _) in made.items()})
