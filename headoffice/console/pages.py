"""The console's pages (every one needs a login; lists are paged):

/login, /logout, /lang/{en|zh_CN}    signing in and out; the language switch on every page
/fleet?store=                        every kiosk: state, since, heartbeat, firmware, catalog, devices, outbox,
                                     gateway (sandbox in red), open alerts
/kiosks/{store}/{kiosk}              one kiosk: telemetry over the last day, events, alerts, commands, actions
/orders?q=&store=&kiosk=&since=&until=&min=&max=&state=   search; the first page updates itself (htmx)
/orders/{store}/{kiosk}/{order_no}   an order: timeline, the receipt as printed, refunds, actions
/stats?since=&until=&store=          the figures (headoffice/stats.py), charts and tables; /stats.csv?table=
/reconciliation                      each reconciliation with its differences; explain them
/alerts?state=open|closed            alerts and who closed them
/audit                               who did what
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from headoffice import queries, stats, users
from headoffice.console import i18n
from headoffice.console.base import PAGE_SIZE, Console, guard, page_number
from headoffice.console.i18n import gettext_ as _

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {p.name for p in STATIC.glob("*.js")}


def _day(text: str, default: date | None) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return default


def _utc(d: date, offset_min: int) -> str:
    """Local midnight of `d` as the RFC 3339 UTC string the tables hold."""
    moment = datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(minutes=offset_min)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _minor(text: str) -> int | None:
    try:
        return round(float(text) * 100) if text.strip() else None
    except ValueError:
        return None


def routes(console: Console) -> list[Route]:
    engine = console.engine

    async def login_page(request: Request) -> Response:
        return console.page(
            request, "login.html", None, error="", login_name="", next=request.query_params.get("next", "")
        )

    async def login_post(request: Request) -> Response:
        form = await console.form(request)
        console.language(request)
        if form is None:
            return console.page(
                request, "login.html", None, 403, error=_("The form expired: log in again."), login_name="", next=""
            )
        name = str(form.get("name", "")).strip().lower()
        try:
            user = await run_in_threadpool(users.login, engine, name, str(form.get("password", "")))
        except users.LoginRefused as exc:
            error = _(exc.message, **exc.params)
            return console.page(
                request, "login.html", None, 401, error=error, login_name=name, next=str(form.get("next", ""))
            )
        lang = request.session.get("lang")
        request.session.clear()  # a new session for the signed-in user: none planted before survives
        request.session.update(user=user.name, csrf=secrets.token_urlsafe(24))
        if lang:
            request.session["lang"] = lang
        target = str(form.get("next", ""))
        return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/fleet", 303)

    async def logout(request: Request) -> Response:
        if await console.form(request) is None:
            return PlainTextResponse("refused: the form's CSRF token is missing or wrong", status_code=403)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def language(request: Request) -> Response:
        code = request.path_params["code"]
        if code in i18n.LANGUAGES:
            request.session["lang"] = code
        back = request.query_params.get("back", "/fleet")
        return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/fleet", 303)

    async def home(request: Request) -> Response:
        return RedirectResponse("/fleet", status_code=303)

    async def fleet(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        store, n = request.query_params.get("store", ""), page_number(request)
        rows, total = await run_in_threadpool(queries.fleet_page, engine, store, (n - 1) * 100, 100)
        all_stores = await run_in_threadpool(queries.stores, engine)
        return console.page(
            request,
            "fleet.html",
            user,
            kiosks=rows,
            total=total,
            store=store,
            stores=all_stores,
            page=n,
            pages=max(1, -(-total // 100)),
        )

    async def kiosk(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        store, name = request.path_params["store"], request.path_params["kiosk"]

        def load() -> dict[str, Any] | None:
            row = queries.kiosk(engine, store, name)
            if row is None:
                return None
            return {
                "k": row,
                "history": queries.telemetry_since(engine, store, name, time.time() - 86400),
                "events": queries.events_of(engine, store, name),
                "alerts": queries.alerts(engine, store, name),
                "commands": queries.commands_of(engine, store, name),
            }

        found = await run_in_threadpool(load)
        if found is None:
            return console.page(request, "missing.html", user, 404, what=f"{store}/{name}")
        return console.page(request, "kiosk.html", user, today=date.today().isoformat(), **found)

    async def kiosk_commands(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        store, name = request.path_params["store"], request.path_params["kiosk"]
        found = await run_in_threadpool(queries.commands_of, engine, store, name)
        return console.page(request, "_commands.html", user, commands=found)

    def _order_filters(request: Request) -> dict[str, Any]:
        q = request.query_params
        offset = console.offset_min()
        since, until = _day(q.get("since", ""), None), _day(q.get("until", ""), None)  # not a date: no bound
        return {
            "text": q.get("q", "").strip(),
            "store": q.get("store", ""),
            "kiosk_name": q.get("kiosk", ""),
            "since": _utc(since, offset) if since else "",
            "until": _utc(until + timedelta(days=1), offset) if until else "",
            "min_total": _minor(q.get("min", "")),
            "max_total": _minor(q.get("max", "")),
            "state": q.get("state", "") if q.get("state", "") in queries.ORDER_STATES else "",
        }

    async def orders_list(request: Request, template: str = "orders.html") -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        n = page_number(request)
        rows = await run_in_threadpool(
            lambda: queries.search_orders(
                engine, **_order_filters(request), offset=(n - 1) * PAGE_SIZE, limit=PAGE_SIZE
            )
        )
        more = len(rows) > PAGE_SIZE
        query = request.url.query
        return console.page(
            request,
            template,
            user,
            orders=rows[:PAGE_SIZE],
            more=more,
            page=n,
            q=request.query_params,
            query=query,
            states=queries.ORDER_STATES,
        )

    async def orders_rows(request: Request) -> Response:
        return await orders_list(request, "_orders_tbody.html")

    async def order_page(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        p = request.path_params

        def load() -> dict[str, Any] | None:
            found = [
                o for o in queries.order(engine, p["order_no"]) if o["store"] == p["store"] and o["kiosk"] == p["kiosk"]
            ]
            if not found:
                return None
            target = f"{p['store']}/{p['kiosk']}/{p['order_no']}"
            done = queries.audit_page(engine, 0, 50, target)
            sent = queries.commands_by_ids(engine, [a["command_id"] for a in done if a["command_id"]])
            return {"o": found[0], "commands": sent}

        found = await run_in_threadpool(load)
        if found is None:
            return console.page(request, "missing.html", user, 404, what=p["order_no"])
        return console.page(request, "order.html", user, **found)

    def _period(request: Request) -> stats.Period:
        q = request.query_params
        default = stats.Period.last_days(7, console.offset_min(), q.get("store", ""))
        since = _day(q.get("since", ""), default.since)
        until = _day(q.get("until", ""), default.until - timedelta(days=1))
        if until < since:
            since, until = until, since
        return stats.Period(since, until + timedelta(days=1), default.store, default.offset_min)

    async def stats_page(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        period = _period(request)
        figures = await run_in_threadpool(stats.compute, engine, period, stats.PAGE)  # pairs: their own request
        all_stores = await run_in_threadpool(queries.stores, engine)
        shown_until = period.until - timedelta(days=1)
        return console.page(
            request,
            "stats.html",
            user,
            f=figures,
            period=period,
            until=shown_until,
            stores=all_stores,
            query=request.url.query,
        )

    async def stats_part(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        part = request.path_params["part"]
        if part not in stats.PARTS:
            return PlainTextResponse("not found", status_code=404)
        figures = await run_in_threadpool(stats.compute, engine, _period(request), stats.PARTS[part])
        return console.page(request, f"_stats_{part}.html", user, f=figures, query=request.url.query)

    async def stats_csv(request: Request) -> Response:
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        name = request.query_params.get("table", "summary")
        if name not in stats.TABLES:
            return PlainTextResponse(f"no table {name!r}; one of: {', '.join(stats.TABLES)}", status_code=404)
        period = _period(request)
        rows = (await run_in_threadpool(stats.compute, engine, period, [name]))[name]
        out = io.StringIO()
        if rows:
            w = csv.DictWriter(out, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        filename = f"{name}-{period.since}-{period.until - timedelta(days=1)}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def listing(request: Request, template: str, fetch, name: str, **extra: Any) -> Response:
        """A paged list: fetch(offset, limit) gives one row more than a page when there is a next one."""
        user = await guard(console, request)
        if isinstance(user, Response):
            return user
        n = page_number(request)
        rows = await run_in_threadpool(fetch, (n - 1) * PAGE_SIZE, PAGE_SIZE)
        context = {name: rows[:PAGE_SIZE], "more": len(rows) > PAGE_SIZE, "page": n, **extra}
        return console.page(request, template, user, **context)

    async def reconciliation(request: Request) -> Response:
        fetch = lambda offset, limit: queries.reconciliations(engine, offset, limit)  # noqa: E731
        return await listing(request, "reconciliation.html", fetch, "rows")

    async def alerts_page(request: Request) -> Response:
        state = request.query_params.get("state", "open")
        fetch = lambda offset, limit: queries.alerts_page(engine, state != "closed", offset, limit)  # noqa: E731
        return await listing(request, "alerts.html", fetch, "alerts", state=state)

    async def audit_page(request: Request) -> Response:
        fetch = lambda offset, limit: queries.audit_page(engine, offset, limit)  # noqa: E731
        return await listing(request, "audit.html", fetch, "rows")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang/{code}", language),
        Route("/fleet", fleet),
        Route("/kiosks/{store}/{kiosk}", kiosk),
        Route("/kiosks/{store}/{kiosk}/commands", kiosk_commands),
        Route("/orders", orders_list),
        Route("/orders/rows", orders_rows),
        Route("/orders/{store}/{kiosk}/{order_no}", order_page),
        Route("/stats", stats_page),
        Route("/stats.csv", stats_csv),
        Route("/stats/{part}", stats_part),
        Route("/reconciliation", reconciliation),
        Route("/alerts", alerts_page),
        Route("/audit", audit_page),
        Route("/static/{name}", static),
    ]
