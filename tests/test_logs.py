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


def test_under_systemd_the_excerpt_is_read_from_the_journal():
    """A real journald (a namespace instance of Debian's systemd-journald, so the machine's own journal is left
    alone) holds lines sent over its native protocol as the kiosk's unit writes them (SYSLOG_IDENTIFIER=kiosk);
    the excerpt reads them with journalctl, newest last, at most `lines`, and not another program's."""
    import os
    import socket
    import subprocess
    from pathlib import Path

    from tests.loopback import free_port, wait_until

    journald = Path("/lib/systemd/systemd-journald")
    assert journald.exists() and shutil.which("journalctl"), "make test installs systemd"
    namespace = f"kiosktest{free_port()}"
    server = subprocess.Popen([str(journald), namespace], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock_path = Path(f"/run/systemd/journal.{namespace}/socket")
    machine = Path("/etc/machine-id").read_text().strip()
    try:
        assert wait_until(sock_path.exists, 10), "systemd-journald did not start"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            for n in range(12):
                s.sendto(f"MESSAGE=kiosk line {n}\nSYSLOG_IDENTIFIER=kiosk\nPRIORITY=6\n".encode(), str(sock_path))
            s.sendto(b"MESSAGE=another program\nSYSLOG_IDENTIFIER=sshd\nPRIORITY=6\n", str(sock_path))
        env = {"JOURNAL_STREAM": "8:1234", "KIOSK_JOURNAL_NAMESPACE": namespace, "PATH": os.environ["PATH"]}

        def read():
            got = logs.excerpt({"lines": 5, "since": 60}, env=env)
            return (
                got
                if got["source"] == "journal" and got["lines"][-1:] and "kiosk line 11" in got["lines"][-1]
                else None
            )

        assert wait_until(read, 10), logs.excerpt({"lines": 5, "since": 60}, env=env)
        got = read()
        assert len(got["lines"]) == 5 and "kiosk line 7" in got["lines"][0]
        assert not [line for line in got["lines"] if "another program" in line]
    finally:
        server.terminate()
        server.wait(10)
        for folder in (f"/var/log/journal/{machine}.{namespace}", f"/run/log/journal/{machine}.{namespace}",
                       f"/run/systemd/journal.{namespace}"):  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)
