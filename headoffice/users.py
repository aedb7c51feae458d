"""Head office's people: users with a role (viewer, operator, admin), passwords kept as scrypt hashes, and
logins throttled.

A password is stored as `scrypt$N$r$p$salt$hash` (hashlib.scrypt, N=2^15, r=8, p=1, a 16-byte salt): never
itself.  After MAX_FAILURES wrong passwords in a row a user's logins are refused for a while that doubles with
each further failure (up to LOCK_MAX_S); a right password resets it.  A wrong name and a wrong password get the
same answer and take the same time, so a login form tells nobody which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from headoffice.db import users

ROLES = ("viewer", "operator", "admin")  # each may do what the ones before it may
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
MAX_FAILURES = 5
LOCK_BASE_S = 30.0
LOCK_MAX_S = 900.0
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


class UserError(ValueError):
    pass


class LoginRefused(Exception):
    """Why a login failed, fit to show (it never says whether the name exists).  `message` is the text with
    %-placeholders for `params` (the console translates it)."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def may(self, role: str) -> bool:
        """At least `role`: an operator may do what a viewer may, an admin what an operator may."""
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=2**26, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), maxmem=2**26)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


_DUMMY = hash_password(secrets.token_urlsafe(16))  # checked against for unknown names: the same time either way


def add_user(engine: Engine, name: str, role: str, password: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserError("a user name is 1-32 lowercase letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise UserError(f"the role is one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise UserError("a password has at least 10 characters")
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(users).values(
                    name=name,
                    role=role,
                    password_hash=hash_password(password),
                    failures=0,
                    locked_until=0.0,
                    created_at=time.time(),
                )
            )
    except IntegrityError:
        raise UserError(f"there is a user {name!r} already") from None


def login(engine: Engine, name: str, password: str, now: float | None = None) -> User:
    """The user, if the password is right and the user is not locked out; LoginRefused otherwise."""
    now = time.time() if now is None else now
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        check_password(password, _DUMMY)
        raise LoginRefused("wrong name or password")
    if row.locked_until > now:
        raise LoginRefused("too many wrong passwords: try again in %(s)d s", s=int(row.locked_until - now) + 1)
    if not check_password(password, row.password_hash):
        failures = row.failures + 1
        locked = 0.0
        if failures >= MAX_FAILURES:
            locked = now + min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - MAX_FAILURES))
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(failures=failures, locked_until=locked))
        if locked:
            raise LoginRefused("too many wrong passwords: try again in %(s)d s", s=int(locked - now) + 1)
        raise LoginRefused("wrong name or password")
    if row.failures:
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(failures=0, locked_until=0.0))
    return User(row.name, row.role)


def get(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users.c.name, users.c.role).where(users.c.name == name)).first()
    return User(row.name, row.role) if row else None


def all_users(engine: Engine) -> list[dict]:
    """Every user (name, role, created, wrong passwords in a row, locked until): never a hash."""
    cols = (users.c.name, users.c.role, users.c.created_at, users.c.failures, users.c.locked_until)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(*cols).order_by(users.c.name))]


def set_role(engine: Engine, name: str, role: str) -> None:
    """Change a user's role; UserError for an unknown user or role, or for the last admin losing the role."""
    if role not in ROLES:
        raise UserError(f"the role is one of {', '.join(ROLES)}")
    with engine.begin() as conn:
        row = conn.execute(select(users.c.role).where(users.c.name == name)).first()
        if row is None:
            raise UserError(f"there is no user {name!r}")
        admins = conn.execute(select(users.c.name).where(users.c.role == "admin")).scalars().all()
        if row.role == "admin" and role != "admin" and admins == [name]:
            raise UserError("the last admin keeps the role: make another admin first")
        conn.execute(update(users).where(users.c.name == name).values(role=role))


def set_password(engine: Engine, name: str, password: str) -> None:
    """A new password for a user (and their lock-out lifted); UserError for an unknown user or a short one."""
    if len(password) < 10:
        raise UserError("a password has at least 10 characters")
    with engine.begin() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.name == name)
            .values(password_hash=hash_password(password), failures=0, locked_until=0.0)
        ).rowcount
    if not done:
        raise UserError(f"there is no user {name!r}")
