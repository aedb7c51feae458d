"""Pairing new kiosks from the console, for operators and admins (head office's side: headoffice/pairing.py).

`/pairing` lists the kiosks waiting with their serial and how long their code is good, and a form takes the code
the kiosk's screen shows, the store, the kiosk id and (optionally) the order prefix.  One POST with the session's
CSRF token pairs it; the pairing is written to the audit log.  A refusal (code unknown, expired or used, the kiosk
or the prefix taken) is shown with the form as it was typed.  A viewer gets 403.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from headoffice import pairing
from headoffice.console.base import Console, guard, guarded_form


def routes(console: Console, authority: pairing.Authority | None) -> list[Route]:
    engine = console.engine

    async def page(request: Request, status: int = 200, error: str = "", done=None, typed=None) -> Response:
        user = await guard(console, request, "operator")
        if isinstance(user, Response):
            return user
        waiting = await run_in_threadpool(pairing.waiting, engine)
        return console.page(request, "pairing.html", user, status, waiting=waiting, error=error, done=done,
                            typed=typed or {}, enabled=authority is not None, now=time.time())  # fmt: skip

    async def approve(request: Request) -> Response:
        allowed = await guarded_form(console, request, "operator")
        if isinstance(allowed, Response):
            return allowed
        user, form = allowed
        typed = {k: str(form.get(k, "")).strip() for k in ("code", "store", "kiosk", "prefix")}
        if authority is None:
            return await page(request, 503, "pairing.ca_cert_file is not set: head office pairs no kiosks", None, typed)

        def apply():
            return pairing.approve(engine, authority, typed["code"], typed["store"], typed["kiosk"],
                                   typed["prefix"].upper(), by=user.name)  # fmt: skip

        try:
            done = await run_in_threadpool(apply)
        except pairing.PairingError as exc:
            return await page(request, 400, str(exc), None, typed)
        return await page(request, 200, "", done)

    return [Route("/pairing", page, methods=["GET"]), Route("/pairing", approve, methods=["POST"])]
