"""The README's pictures: `python -m kiosk.ui.screenshots` draws every screen in every language, and
docs/screens holds every one of them (a new screen or language without its pictures fails here)."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from kiosk.i18n import LANGUAGES
from tests.conftest import REPO


def test_every_screen_in_every_language_is_drawn_and_in_the_docs(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "kiosk.ui.screenshots", str(tmp_path)], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    made = {p.name for p in tmp_path.glob("*.png")}
    screens = {name.rsplit("-", 1)[0] for name in made if name.endswith("-en.png")}
    assert len(screens) >= 19 and {"look-up", "type-barcode", "age-check", "cart-large-text"} <= screens
    assert made == {f"{s}-{lang}.png" for s in screens for lang in LANGUAGES}
    assert made == {p.name for p in (REPO / "docs" / "screens").glob("*.png")}, "docs/screens is out of date"
    for name in made:
        assert Image.open(tmp_path / name).size == (800, 480)
    readme = (REPO / "README.md").read_text()
    for shown in (line for line in readme.splitlines() if "docs/screens/" in line and "![]" in line):
        for part in shown.split("docs/screens/")[1:]:
            assert part.split(")")[0] in made, part
