"""Receipt blocks -> rows of text that fit the paper, columns counted by display width.

A CJK character takes two columns, as in a printer's font (12x24 dots Latin,
24x24 Chinese).  Long names wrap at word boundaries where there are any, else
between characters; nothing runs past the last column.  Large rows (titles,
the total) use double-width characters, so they have half the columns.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from kiosk.receipts.document import Centre, Item, Pair, Receipt, Rule, Title, Total


@dataclass(frozen=True)
class Row:
    text: str
    big: bool = False  # double width and height


def char_width(c: str) -> int:
    return 2 if unicodedata.east_asian_width(c) in "WF" else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def clip(text: str, width: int) -> str:
    out, used = "", 0
    for c in text:
        if used + char_width(c) > width:
            break
        out, used = out + c, used + char_width(c)
    return out


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` columns; breaks at spaces where it can."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if display_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while display_width(word) > width:  # a word (or CJK run) longer than a line: break between characters
            head = clip(word, width)
            lines.append(head)
            word = word[len(head) :]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def pad_between(left: str, right: str, width: int) -> str:
    gap = width - display_width(left) - display_width(right)
    return left + " " * gap + right


def centre(text: str, width: int) -> str:
    free = width - display_width(text)
    return " " * (free // 2) + text


def pair(left: str, right: str, width: int) -> list[str]:
    """Label left and value right on one line, or the label wrapped above a right-aligned value."""
    if display_width(left) + display_width(right) + 1 <= width:
        return [pad_between(left, right, width)]
    right = clip(right, width)
    return [*wrap(left, width), pad_between("", right, width)]


def layout(receipt: Receipt, columns: int) -> list[Row]:
    rows: list[Row] = []
    half = columns // 2
    for block in receipt.blocks:
        if isinstance(block, Title):
            rows += [Row(centre(line, half), big=True) for line in wrap(block.text, half)]
        elif isinstance(block, Centre):
            rows += [Row(centre(line, columns)) for line in wrap(block.text, columns)]
        elif isinstance(block, Pair):
            rows += [Row(line) for line in pair(block.left, block.right, columns)]
        elif isinstance(block, Item):
            rows += [Row(line) for line in wrap(block.name, columns)]
            rows += [Row(line) for line in pair(f"  {block.qty} x {block.unit_price}", block.amount, columns)]
        elif isinstance(block, Total):
            rows += [Row(line, big=True) for line in pair(block.label, block.value, half)]
        elif isinstance(block, Rule):
            rows.append(Row("-" * columns))
    return rows
