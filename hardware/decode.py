"""`python -m hardware.decode FILE...`: print every symbol found, one line each.

Output: PATH<TAB>SYMBOLOGY<TAB>TEXT.  Line breaks inside a text are printed as
\\n so one symbol is always one line.  Exit 0 when something was found in every
file, 1 when a file had no symbol, 2 when a file could not be read.
"""

from __future__ import annotations

import os
import sys

import cv2

from hardware.decoder import Decoder


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m hardware.decode IMAGE...", file=sys.stderr)
        return 2
    decoder, status = Decoder(), 0
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.isfile(path) else None
        if image is None:
            print(f"{path}: cannot read this image", file=sys.stderr)
            status = 2
            continue
        symbols = decoder.decode(image)
        if not symbols:
            status = max(status, 1)
        for s in symbols:
            text = s.text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
            print(f"{path}\t{s.symbology}\t{text}")
    return status


if __name__ == "__main__":
    sys.exit(main())
