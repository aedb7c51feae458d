"""Head office's HTTP API (Starlette, served by uvicorn beside the MQTT service): online orders and health.

    GET  /health                          no login: {"ok": true, "database": true}
    POST /api/v1/orders                   an order from a web shop or booking system (headoffice/online_orders.py)
    GET  /api/v1/orders/{order_no}        its state, timeline and signed QR

Every /api route needs `Authorization: Bearer <token>` of a client made with `python -m headoffice apiclient
NAME`.  A refused request gets a JSON `{"error": ...}` naming the reason, and changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from headoffice import online_orders

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024


def make_app(engine: Engine, key: Ed25519PrivateKey | None, qr_days: float = 30.0) -> Starlette:
    async def client(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await run_in_threadpool(online_orders.client_for, engine, token.strip())

    def refused(status: int, error: str) -> JSONResponse:
        return JSONResponse({"error": error}, status_code=status)

    def ping_database() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def health(request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(ping_database)
            return JSONResponse({"ok": True, "database": True})
        except Exception as exc:  # noqa: BLE001 - health says what is wrong instead of failing
            return JSONResponse({"ok": False, "database": False, "error": type(exc).__name__}, status_code=503)

    async def create_order(request: Request) -> JSONResponse:
        who = await client(request)
        if who is None:
            return refused(401, "a valid API token is needed (Authorization: Bearer ...)")
        if key is None:
            return refused(503, "head office has no signing key (commands.private_key_file): no order QR can be made")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return refused(413, f"the body is more than {MAX_BODY // 1024} KB")
        try:
            body = json.loads(raw)
            made, order = await run_in_threadpool(online_orders.create, engine, key, who, body, qr_days)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return refused(400, "the body is not JSON")
        except online_orders.OrderError as exc:
            return refused(400, str(exc))
        return JSONResponse(order, status_code=201 if made else 200)

    async def get_order(request: Request) -> JSONResponse:
        if await client(request) is None:
            return refused(401, "a valid API token is needed (Authorization: Bearer ...)")
        if key is None:
            return refused(503, "head office has no signing key (commands.private_key_file)")
        try:
            order = await run_in_threadpool(online_orders.get, engine, key, request.path_params["order_no"])
            return JSONResponse(order)
        except KeyError:
            return refused(404, "no such order")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/v1/orders", create_order, methods=["POST"]),
            Route("/api/v1/orders/{order_no}", get_order),
        ]
    )


class WebServer:
    """uvicorn on its own thread (no signal handlers: the service owns the process's signals)."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, name="hq-http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
