"""The console's users, for admins: who may look (viewer), act (operator) and manage users (admin).

`/users` lists them (never a password hash) with their lock-out state; an admin adds one, changes a role or sets
a new password (which also lifts a lock-out).  Each change is one POST with the session's CSRF token, written to
the audit log without the password; the last admin cannot lose the role.  Anyone else gets 403.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from headoffice import audit, users
from headoffice.console.base import Console, guard, guarded_form

CHANGES = ("add", "role", "password")


def routes(console: Console) -> list[Route]:
    engine = console.engine

    async def page(request: Request, status: int = 200, error: str = "") -> Response:
        user = await guard(console, request, "admin")
        if isinstance(user, Response):
            return user
        people = await run_in_threadpool(users.all_users, engine)
        return console.page(
            request, "users.html", user, status, people=people, roles=users.ROLES, error=error, now=time.time()
        )

    async def change(request: Request) -> Response:
        allowed = await guarded_form(console, request, "admin")
        if isinstance(allowed, Response):
            return allowed
        user, form = allowed
        what, name = str(form.get("change", "")), str(form.get("name", "")).strip().lower()
        role, password = str(form.get("role", "")), str(form.get("password", ""))

        def apply() -> None:
            if what == "add":
                users.add_user(engine, name, role, password)
            elif what == "role":
                users.set_role(engine, name, role)
            elif what == "password":
                users.set_password(engine, name, password)
            else:
                raise users.UserError("unknown change")
            with engine.begin() as conn:
                detail = {"role": role} if what in ("add", "role") else {}
                audit.record(conn, user.name, f"user_{what}", f"user/{name}", detail)

        try:
            await run_in_threadpool(apply)
        except users.UserError as exc:
            return await page(request, 400, str(exc))
        return RedirectResponse("/users", status_code=303)

    return [Route("/users", page, methods=["GET"]), Route("/users", change, methods=["POST"])]
