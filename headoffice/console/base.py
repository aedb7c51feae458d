"""What every console page shares: who is signed in and what they may do, the CSRF token, the viewer's language,
paging, and rendering a template with all of that.

No page answers without a login: `guard` sends a visitor to /login, and a viewer who asks for an operator's action
gets 403.  Every form carries the session's CSRF token; a post without it changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from headoffice import users
from headoffice.commands import Commands
from headoffice.config import utc_offset_min
from headoffice.console import charts, i18n

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_SIZE = 50


@dataclass
class Console:
    engine: Engine
    commands: Commands | None  # None: head office's web runs without its MQTT service (actions are refused)
    time_zone: str = ""  # "": the machine's

    def __post_init__(self) -> None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, extensions=["jinja2.ext.i18n"]
        )
        t = Jinja2Templates(env=env)
        t.env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
        t.env.filters.update(
            money=i18n.money, when=i18n.when, number=i18n.number, percent=i18n.percent, bars=charts.bars
        )
        t.env.globals.update(LANGUAGES=i18n.LANGUAGES, heat=charts.heat)
        self.templates = t

    # -- time --------------------------------------------------------------------------------------
    def offset_min(self) -> int:
        """Head office's time zone as minutes east of UTC, now (the statistics group local days by it)."""
        return utc_offset_min(self.time_zone)

    # -- who ---------------------------------------------------------------------------------------
    async def user(self, request: Request) -> users.User | None:
        name = request.session.get("user")
        return await run_in_threadpool(users.get, self.engine, name) if name else None

    def csrf(self, request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(24)
        return request.session["csrf"]

    async def form(self, request: Request):
        """The posted form, or None when its CSRF token is missing or wrong."""
        form = await request.form()
        sent = str(form.get("csrf", ""))
        if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
            return None
        return form

    def language(self, request: Request) -> str:
        lang = i18n.choose(request.session.get("lang"), request.headers.get("accept-language", ""))
        i18n.current.set(lang)
        return lang

    # -- rendering ---------------------------------------------------------------------------------
    def page(
        self, request: Request, template: str, user: users.User | None, status: int = 200, **context: Any
    ) -> Response:
        lang = self.language(request)
        context = {
            "user": user,
            "csrf": self.csrf(request),
            "lang": lang,
            "path": request.url.path,
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            "now": time.time(),
            **context,
        }
        return self.templates.TemplateResponse(request, template, context, status_code=status)


async def guard(console: Console, request: Request, role: str = "viewer") -> users.User | Response:
    """The signed-in user when they may see this (at least `role`); else where to go (login) or 403."""
    user = await console.user(request)
    if user is None:
        target = urllib.parse.quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if not user.may(role):
        console.language(request)
        return console.page(request, "refused.html", user, 403, needed=role)
    return user


async def guarded_form(console: Console, request: Request, role: str):
    """(the user, their posted form) when they may act as `role` and the form carries the session's CSRF token;
    else the answer to give (login, or a 403 page)."""
    user = await guard(console, request, role)
    if isinstance(user, Response):
        return user
    form = await console.form(request)
    if form is None:
        console.language(request)
        return console.page(request, "refused.html", user, 403, needed="csrf")
    return user, form


def page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1
