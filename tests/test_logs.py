"""Head office's `logs`: an excerpt of the kiosk's log, bounded, from the journal under systemd and from the
kiosk's own memory of its last lines otherwise (the whole path, over MQTT, is in tests/test_pairing.py)."""

from __future__ import annotations

import logging
import shutil

from kiosk.services import logs


def test_the_excerpt_is_the_newest_lines_within_bounds():
    logs.install()
    log = logging.getLogger("kiosk.test")
    for n in range(30):
        log.warning("line %d %s", n, "x" * 4000)
    got = logs.excerpt({"lines": 20, "since": 60}, env={})
    assert got["ok"] and got["source"] == "memory"
    assert got["lines"][-1].endswith("line 29 " + "x" * 4000)
    assert sum(len(line) + 1 for line in got["lines"]) <= logs.MAX_BYTES and len(got["lines"]) < 20  # bytes cap
    assert logs.excerpt({"lines": 0}, env={}) == {"ok": False, "error": "'lines' must be a whole number from 1 to 500"}
    assert logs.excerpt({"since": "yesterday"}, env={})["error"].startswith("'since' must be a whole number")


def test_under_systemd_an_empty_journal_falls_back_to_memory():
    assert shutil.which("journalctl")  # make test installs systemd (systemd-analyze)
    logging.getLogger("kiosk.test").warning("kept in memory")
    got = logs.excerpt({"lines": 5}, env={"JOURNAL_STREAM": "8:1234"})  # this machine has no journal of a kiosk
    assert got["source"] == "memory" and got["lines"][-1].endswith("kept in memory")
