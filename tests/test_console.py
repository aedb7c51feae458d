"""Issue 12 (its start): head office's console answers nobody without a login, keeps passwords as scrypt hashes,
throttles wrong passwords, refuses a form without its session's CSRF token, and shows the fleet.  A real uvicorn
on loopback, on SQLite and PostgreSQL; the kiosk's state comes from its own messages."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests
from sqlalchemy import select

from headoffice import users
from headoffice.db import users as users_table
from headoffice.ingest import Ingest
from headoffice.web import WebServer, make_app
from tests.conftest import REPO
from tests.loopback import free_port, wait_until
from tests.test_headoffice import kiosk_store, outbox, sell  # noqa: F401 - kiosk_store is a fixture

PASSWORD = "correct horse battery"


@pytest.fixture
def console(hq_engine):
    port = free_port()
    server = WebServer(make_app(hq_engine, None), "127.0.0.1", port)
    server.start()
    assert wait_until(lambda: server.started, 10)
    users.add_user(hq_engine, "lin", "operator", PASSWORD)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(url: str, name: str = "lin", password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    token = csrf_of(s.get(f"{url}/login", timeout=10).text)
    r = s.post(f"{url}/login", data={"csrf": token, "name": name, "password": password}, timeout=10)
    return s, r


def test_nothing_but_health_answers_without_a_login(console):
    assert requests.get(f"{console}/health", timeout=10).status_code == 200
    for path in ("/", "/fleet"):
        r = requests.get(f"{console}{path}", allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["location"] in ("/login?next=/fleet", "/fleet")
    r = requests.get(f"{console}/fleet", timeout=10)
    assert "/login" in r.url and "Log in" in r.text and "Fleet</h1>" not in r.text


def test_a_user_logs_in_sees_the_fleet_and_logs_out(console, hq_engine, kiosk_store):  # noqa: F811
    sell(kiosk_store, 1)
    Ingest(hq_engine).store_batch(outbox(kiosk_store))
    s, r = log_in(console)
    assert r.status_code == 200 and r.url.endswith("/fleet")
    assert "<h1>Fleet</h1>" in r.text and 'data-kiosk="s1/k1"' in r.text and "lin (operator)" in r.text
    set_cookie = r.history[0].headers["set-cookie"].lower()  # the login's answer
    assert "hq_session=" in set_cookie and "httponly" in set_cookie and "samesite=strict" in set_cookie
    out = s.post(f"{console}/logout", data={}, allow_redirects=False, timeout=10)
    assert out.status_code == 403  # no CSRF token: refused, still logged in
    assert "<h1>Fleet</h1>" in s.get(f"{console}/fleet", timeout=10).text
    token = csrf_of(s.get(f"{console}/fleet", timeout=10).text)
    assert s.post(f"{console}/logout", data={"csrf": token}, timeout=10).url.endswith("/login")
    assert s.get(f"{console}/fleet", timeout=10).url.endswith("/login?next=/fleet")


def test_wrong_passwords_are_refused_alike_and_then_throttled(console, hq_engine):
    _, unknown = log_in(console, name="nobody")
    _, wrong = log_in(console, password="not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "wrong name or password" in unknown.text and "wrong name or password" in wrong.text
    for _ in range(users.MAX_FAILURES - 1):
        _, r = log_in(console, password="still wrong")
    assert r.status_code == 401 and "too many wrong passwords" in r.text
    _, right = log_in(console)  # the right one now is refused too, for a while
    assert right.status_code == 401 and "too many wrong passwords" in right.text
    with hq_engine.connect() as conn:
        stored = conn.execute(select(users_table.c.password_hash).where(users_table.c.name == "lin")).scalar()
    assert stored.startswith("scrypt$32768$8$1$") and PASSWORD not in stored
    assert users.check_password(PASSWORD, stored) and not users.check_password("x" + PASSWORD, stored)


def test_a_login_form_without_its_token_is_refused(console):
    r = requests.post(f"{console}/login", data={"name": "lin", "password": PASSWORD}, timeout=10)
    assert r.status_code == 403 and "expired" in r.text


def test_adduser_reads_the_password_from_stdin(tmp_path):
    conf = tmp_path / "hq.toml"
    conf.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hq.sqlite"}"\n')

    def adduser(*args: str, password: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "headoffice", "--config", str(conf), "adduser", *args],
            cwd=REPO,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert adduser("wang", "--role", "admin", password=PASSWORD).stdout.strip() == "wang: admin"
    short = adduser("li", password="short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    again = adduser("wang", password=PASSWORD)
    assert again.returncode == 1 and "there is a user 'wang' already" in again.stderr
