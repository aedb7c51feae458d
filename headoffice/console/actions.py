"""What an operator does from the console: refund (full or part) and reprint an order; lock, unlock, resend, ask
for the day's report or a reconciliation, and change a setting on a kiosk; close an alert or explain a
reconciliation difference.

Every action is one POST to /actions with the session's CSRF token, and goes in two steps: the first answers a
page saying exactly what will happen (nothing is sent yet); the second, with `confirmed=yes`, does it.  Each done
action is written to the audit log with the user's name and the command it sent; the command's answer appears on
the kiosk's or the order's page when the kiosk gives it.  A viewer gets 403 and changes nothing.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, and_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from headoffice import alerts as alert_rules
from headoffice import audit
from headoffice.console.base import Console, guarded_form
from headoffice.console.i18n import gettext_ as _
from headoffice.db import orders

KIOSK_COMMANDS = ("lock", "unlock", "resend", "report", "reconcile", "config", "refund", "reprint", "selftest")
SETTINGS = ("idle_timeout_s", "default_language", "receipt_footer")  # what a kiosk takes with `config`
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ActionError(ValueError):
    """A form that cannot be acted on; the message is for the operator."""


@dataclass
class Plan:
    action: str
    target: str  # "store/kiosk", "store/kiosk/order_no" or "alert/N"
    summary: str  # what will happen, in the operator's language
    store: str = ""
    kiosk: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # the command's data
    alert: int = 0
    note: str = ""


def _minor(text: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ActionError(_("The amount must be a number such as 12.50.")) from None
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ActionError(_("The amount must be more than 0, with at most two decimals."))
    return int(value * 100)


def plan(engine: Engine, form: Any) -> Plan:
    """What the form asks for, checked; ActionError naming what is wrong."""
    action = str(form.get("action", ""))
    if action == "close_alert":
        try:
            n = int(str(form.get("alert", "")))
        except ValueError:
            raise ActionError(_("No such alert.")) from None
        note = str(form.get("note", "")).strip()
        if not note:
            raise ActionError(_("Say why: the note is kept with the alert."))
        return Plan(
            action, f"alert/{n}", _("Close alert %(n)s with the note: %(note)s", n=n, note=note), alert=n, note=note
        )
    if action not in KIOSK_COMMANDS:
        raise ActionError(_("Unknown action."))
    store, kiosk = str(form.get("store", "")), str(form.get("kiosk", ""))
    if not _NAME.fullmatch(store) or not _NAME.fullmatch(kiosk):
        raise ActionError(_("No such kiosk."))
    where = f"{store}/{kiosk}"
    if action in ("refund", "reprint"):
        order_no = str(form.get("order_no", ""))
        with engine.connect() as conn:
            row = conn.execute(
                select(orders.c.total, orders.c.refunded, orders.c.currency).where(
                    and_(orders.c.store == store, orders.c.kiosk == kiosk, orders.c.order_no == order_no)
                )
            ).first()
        if row is None:
            raise ActionError(_("No such order."))
        target = f"{where}/{order_no}"
        if action == "reprint":
            return Plan(
                action,
                target,
                _("Reprint the receipt of %(o)s at %(k)s.", o=order_no, k=where),
                store,
                kiosk,
                {"order_no": order_no},
            )
        left = row.total - row.refunded
        if left <= 0:
            raise ActionError(_("This order has been refunded in full already."))
        amount = _minor(str(form.get("amount", ""))) if str(form.get("amount", "")).strip() else left
        if amount > left:
            raise ActionError(_("At most %(left)s of this order can still be refunded.", left=f"{left / 100:.2f}"))
        reason = str(form.get("reason", "")).strip()[:200]
        restock = form.get("restock") == "yes"
        data: dict[str, Any] = {"order_no": order_no, "amount": amount, "reason": reason}
        if restock:
            data["restock"] = True
        summary = _(
            "Refund %(amount)s of order %(o)s (paid %(total)s) at %(k)s.",
            amount=f"{amount / 100:.2f}",
            o=order_no,
            total=f"{row.total / 100:.2f}",
            k=where,
        )
        if restock:
            summary += " " + _("Its goods went back on the shelf: the stock rises when the refund succeeds.")
        return Plan(action, target, summary, store, kiosk, data)
    if action == "lock":
        reason = str(form.get("reason", "")).strip()[:200]
        return Plan(
            action,
            where,
            _("Lock kiosk %(k)s: it stops selling and shows out of service.", k=where),
            store,
            kiosk,
            {"reason": reason} if reason else {},
        )
    if action == "selftest":
        text = _("Ask %(k)s to check itself: devices, database, free space, clock, certificate.", k=where)
        return Plan(action, where, text, store, kiosk)
    if action == "unlock":
        return Plan(action, where, _("Unlock kiosk %(k)s: it sells again.", k=where), store, kiosk)
    if action == "resend":
        try:
            from_seq = int(str(form.get("from_seq", "1")))
        except ValueError:
            raise ActionError(_("The first message's number must be a whole number.")) from None
        if from_seq < 1:
            raise ActionError(_("The first message's number must be a whole number."))
        return Plan(
            action,
            where,
            _("Ask %(k)s to send its messages again from number %(n)s.", k=where, n=from_seq),
            store,
            kiosk,
            {"from_seq": from_seq},
        )
    if action in ("report", "reconcile"):
        day = str(form.get("date", "")).strip()
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ActionError(_("The date must be a real date, YYYY-MM-DD.")) from None
        text = (
            _("Ask %(k)s for its report of %(d)s.", k=where, d=day)
            if action == "report"
            else _("Ask %(k)s to reconcile %(d)s with its gateway's statement.", k=where, d=day)
        )
        return Plan(action, where, text, store, kiosk, {"date": day})
    key, raw = str(form.get("key", "")), str(form.get("value", "")).strip()
    if key not in SETTINGS:
        raise ActionError(_("That setting cannot be changed from head office."))
    value: Any = raw
    if key == "idle_timeout_s":
        try:
            value = json.loads(raw)
        except ValueError:
            raise ActionError(_("The idle timeout is a number of seconds.")) from None
    return Plan(
        action, where, _("Set %(key)s to %(value)s on %(k)s.", key=key, value=raw, k=where), store, kiosk, {key: value}
    )


def routes(console: Console) -> list[Route]:
    async def act(request: Request) -> Response:
        allowed = await guarded_form(console, request, "operator")
        if isinstance(allowed, Response):
            return allowed
        user, form = allowed
        back = str(form.get("back", "/fleet"))
        if not back.startswith("/") or back.startswith("//"):
            back = "/fleet"
        console.language(request)
        try:
            p = plan(console.engine, form)
        except ActionError as exc:
            return console.page(request, "confirm.html", user, 400, error=str(exc), plan=None, fields={}, back=back)
        if form.get("confirmed") != "yes":
            fields = {k: str(v) for k, v in form.items() if k not in ("csrf", "confirmed")}
            return console.page(request, "confirm.html", user, plan=p, fields=fields, back=back, error="")
        if p.action == "close_alert":
            with console.engine.begin() as conn:
                closed = alert_rules.close_by_staff(conn, p.alert, user.name, p.note, time.time())
                if closed is not None:
                    audit.record(conn, user.name, p.action, p.target, {"kind": closed["kind"], "note": p.note})
            return RedirectResponse(back, status_code=303)
        if console.commands is None:
            return console.page(
                request,
                "confirm.html",
                user,
                503,
                error=_("Head office is not connected to the kiosks (no MQTT service): nothing was sent."),
                plan=None,
                fields={},
                back=back,
            )
        command_id = console.commands.send(p.store, p.kiosk, p.action, p.data)
        with console.engine.begin() as conn:
            audit.record(conn, user.name, p.action, p.target, p.data, command_id)
        return RedirectResponse(back, status_code=303)

    return [Route("/actions", act, methods=["POST"])]
