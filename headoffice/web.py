"""Head office's web side (Starlette, served by uvicorn beside the MQTT service): the console and the HTTP API.

    GET  /health                          no login: {"ok": true, "database": true}
    the console's pages and actions       headoffice/console/pages.py and actions.py (login, fleet, kiosks,
                                          orders, statistics, reconciliation, alerts, audit)
    POST /api/v1/orders                   an order from a web shop or booking system (headoffice/online_orders.py)
    GET  /api/v1/orders/{order_no}        its state, timeline and signed QR
    POST /api/v1/orders/{order_no}/paid   the client took the payment since: {trade_id, gateway}
    POST /api/v1/order-status             a kiosk's question before it hands an order over (no token: the
                                          order's signed QR is the right to ask; the answer is signed)
    GET  /api/v1/catalog/{store}/{version}/{token}  a published catalog bundle (the address cmd/catalog gives)
    GET  /api/v1/pictures/{sha256}        a product picture by the hash a published catalog names (no token:
                                          pictures are what the shelves show; the kiosk checks the hash)
    GET  /api/v1/releases/{version}/{token}  a firmware bundle (the address cmd/update gives)
    POST /api/v1/pairing                  a new kiosk asks to be paired: {code, serial, csr, secret}
    GET  /api/v1/pairing/{id}             its answer once a technician approved the code (header X-Pairing-Secret)
    POST /api/v1/pairing/enroll           a kiosk provisioned by QR: {token, serial, csr} -> its certificate, once

Every console page needs a login (a signed session cookie: HttpOnly, SameSite=Strict, Secure behind TLS); every
form carries the session's CSRF token and a post without it is refused.  The orders routes need
`Authorization: Bearer <token>` of a client made with `python -m headoffice apiclient NAME`.  A refused API
request gets a JSON `{"error": ...}` naming the reason, and changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from headoffice import online_orders, pairing, pictures, publish, releases
from headoffice.commands import Commands
from headoffice.console import actions, pages, pair, team
from headoffice.console.base import Console
from headoffice.db import hq_secret

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def make_app(
    engine: Engine,
    key: Ed25519PrivateKey | None,
    qr_days: float = 30.0,
    secure_cookies: bool = False,
    commands: Commands | None = None,
    time_zone: str = "",
    pairing_ttl_s: float | None = None,
    pairing_authority: pairing.Authority | None = None,
    releases_dir: str = "hq-data/releases",
) -> Starlette:
    """The console (headoffice/console) and the HTTP API on one app.  `commands`: how the console's actions reach
    the kiosks (the running service's); None refuses them.  `pairing_ttl_s`: kiosks may ask to be paired (their
    codes good this long); None: refused.  `pairing_authority`: what the console pairs them with."""
    console = Console(engine, commands, time_zone)

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

    async def with_json_body(request: Request, work, limit: int = MAX_BODY, refusal: int = 400) -> JSONResponse:
        """Read the request's JSON body (at most `limit` bytes), run work(body) -> (status, answer) on a thread;
        a body that is not JSON is refused 400, an unknown order 404, an OrderError `refusal` naming the field."""
        raw = await request.body()
        if len(raw) > limit:
            return refused(413, f"the body is more than {limit // 1024} KB")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return refused(400, "the body is not JSON")
        try:
            status, answer = await run_in_threadpool(work, body)
        except KeyError:
            return refused(404, "no such order")
        except (online_orders.OrderError, pairing.PairingError) as exc:
            return refused(refusal, str(exc))
        return JSONResponse(answer, status_code=status)

    NO_TOKEN = "a valid API token is needed (Authorization: Bearer ...)"
    NO_KEY = "head office has no signing key (commands.private_key_file)"

    async def create_order(request: Request) -> JSONResponse:
        who = await client(request)
        if who is None:
            return refused(401, NO_TOKEN)
        if key is None:
            return refused(503, NO_KEY + ": no order QR can be made")

        def work(body):
            made, order = online_orders.create(engine, key, who, body, qr_days)
            return (201 if made else 200), order

        return await with_json_body(request, work)

    async def get_order(request: Request) -> JSONResponse:
        if await client(request) is None:
            return refused(401, NO_TOKEN)
        if key is None:
            return refused(503, NO_KEY)
        try:
            order = await run_in_threadpool(online_orders.get, engine, key, request.path_params["order_no"])
            return JSONResponse(order)
        except KeyError:
            return refused(404, "no such order")

    async def order_paid(request: Request) -> JSONResponse:
        who = await client(request)
        if who is None:
            return refused(401, NO_TOKEN)
        if key is None:
            return refused(503, NO_KEY)
        no = request.path_params["order_no"]
        work = lambda body: (200, online_orders.mark_paid(engine, key, who, no, body))  # noqa: E731
        return await with_json_body(request, work, 8192, refusal=409)

    async def order_status(request: Request) -> JSONResponse:
        if key is None:
            return refused(503, NO_KEY)
        return await with_json_body(request, lambda body: (200, online_orders.status(engine, key, body)), 8192)

    async def catalog_bundle(request: Request) -> Response:
        p = request.path_params
        data = await run_in_threadpool(publish.download, engine, p["store"], p["version"], p["token"])
        if data is None:
            return refused(404, "no such catalog")
        return Response(data, media_type="application/gzip")

    async def picture(request: Request) -> Response:
        sha = request.path_params["sha256"]
        found = await run_in_threadpool(pictures.data, engine, sha) if SHA256.fullmatch(sha) else None
        if found is None:
            return refused(404, "no such picture")
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}  # its address is its hash
        return Response(found[0], media_type=found[1], headers=headers)

    async def pairing_request(request: Request) -> JSONResponse:
        if pairing_ttl_s is None:
            return refused(503, "head office pairs no kiosks (pairing.ca_cert_file is not set)")

        def work(body):
            return 201, pairing.request(engine, body, pairing_ttl_s)

        return await with_json_body(request, work, 16384)

    async def release_bundle(request: Request) -> Response:
        p = request.path_params
        found = await run_in_threadpool(releases.path, engine, releases_dir, p["version"], p["token"])
        if found is None:
            return refused(404, "no such release")
        return FileResponse(found, media_type="application/gzip")

    async def pairing_enroll(request: Request) -> JSONResponse:
        if pairing_authority is None:
            return refused(503, "head office pairs no kiosks (pairing.ca_cert_file is not set)")
        return await with_json_body(request, lambda body: (200, pairing.enroll(engine, pairing_authority, body)), 16384)

    async def pairing_answer(request: Request) -> JSONResponse:
        secret = request.headers.get("x-pairing-secret", "")
        status, answer = await run_in_threadpool(pairing.collect, engine, request.path_params["rid"], secret)
        return JSONResponse(answer, status_code=status)

    return Starlette(
        routes=[
            Route("/health", health),
            *pages.routes(console),
            *actions.routes(console),
            *team.routes(console),
            *pair.routes(console, pairing_authority),
            Route("/api/v1/orders", create_order, methods=["POST"]),
            Route("/api/v1/orders/{order_no}", get_order),
            Route("/api/v1/orders/{order_no}/paid", order_paid, methods=["POST"]),
            Route("/api/v1/order-status", order_status, methods=["POST"]),
            Route("/api/v1/catalog/{store}/{version:int}/{token}", catalog_bundle),
            Route("/api/v1/pictures/{sha256}", picture),
            Route("/api/v1/releases/{version}/{token}", release_bundle),
            Route("/api/v1/pairing", pairing_request, methods=["POST"]),
            Route("/api/v1/pairing/enroll", pairing_enroll, methods=["POST"]),
            Route("/api/v1/pairing/{rid}", pairing_answer),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=hq_secret(engine, "session_secret"),
                session_cookie="hq_session",
                max_age=8 * 3600,
                same_site="strict",
                https_only=secure_cookies,
            )
        ],
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
