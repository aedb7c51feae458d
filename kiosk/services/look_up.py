"""The look-up screen's reads: the catalog's categories, a category's items, a search, one page at a time.

The screen asks (`request`) whenever what it shows changes; the read runs on
the look-up worker, so a search through a large catalog never holds up a
frame, and the answer comes back to the UI thread as a `LookUpRead` event.
An answer to a question the screen no longer asks is dropped by the controller.
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.services.events import Event, LookUpRead
from kiosk.services.jobs import Worker
from kiosk.store import Store

PAGE = {"browse": 9, "search": 3}  # tiles a page shows (the screens lay them out 3 by 3, or in one row)


class LookUpService:
    def __init__(self, store: Store, worker: Worker, post: Callable[[Event], None]) -> None:
        self.store, self.worker, self.post = store, worker, post

    def request(self, key: tuple[str, str | None, str, int]) -> None:
        """`key`: (tab, category, query, page)."""
        self.worker.submit("look_up", key[0], self._read, key)

    def _read(self, key: tuple[str, str | None, str, int]) -> None:
        tab, category, query, page = key
        size = PAGE.get(tab, 9)
        if tab == "browse" and category is None:
            names = self.store.categories()
            shown = names[page * size : (page + 1) * size]
            self.post(LookUpRead(key, tuple(shown), (), len(names) > (page + 1) * size))
            return
        if tab == "search" and not query:
            self.post(LookUpRead(key, (), (), False))
            return
        items = self.store.browse(
            category if tab == "browse" else None, query if tab == "search" else "", limit=size + 1, offset=page * size
        )
        self.post(LookUpRead(key, (), tuple(items[:size]), len(items) > size))
