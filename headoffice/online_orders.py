"""Orders made elsewhere (a web shop, a table booking): head office takes them from its HTTP API, numbers them,
and gives each a signed QR that a kiosk reads to show the order, take payment if it is unpaid, and hand it over.

The QR is `KO1.<payload>.<signature>`: the payload is the order as canonical JSON (sorted keys, no spaces,
UTF-8) in unpadded Base64url: `v` 1, `o` order number, `s` store, `c` currency, `t` total in minor units,
`p` paid already, `l` lines as [name, qty, unit price], `x` when it expires (Unix seconds); the signature is
head office's Ed25519 signature of the payload's bytes, also Base64url.  A kiosk with head office's public key
checks it without asking anyone.

An order is created, paid (when the client says it was, with the gateway's trade id, or when a kiosk takes the
payment) and collected (once).  The client's `reference` makes a repeated request the same order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from headoffice.db import api_clients, online_orders
from headoffice.signing import canonical

PREFIX = "KO1"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_LINES = 200


class OrderError(ValueError):
    """A request head office will not take; the message names the field."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def add_client(engine: Engine, name: str) -> str:
    """A new API client: returns its bearer token (shown once; only its hash is kept)."""
    if not _ID.fullmatch(name):
        raise OrderError("a client's name is 1-32 lowercase letters, digits, '-' or '_'")
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    try:
        with engine.begin() as conn:
            conn.execute(insert(api_clients).values(name=name, token_hash=digest, created_at=time.time()))
    except IntegrityError:
        raise OrderError(f"a client named {name!r} exists already") from None
    return token


def client_for(engine: Engine, token: str) -> str | None:
    """The client a bearer token belongs to, or None."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.connect() as conn:
        return conn.execute(select(api_clients.c.name).where(api_clients.c.token_hash == digest)).scalar()


def _checked(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise OrderError("the body must be a JSON object")
    reference, store, currency = body.get("reference"), body.get("store"), body.get("currency", "CNY")
    if not isinstance(reference, str) or not 1 <= len(reference) <= 128 or not reference.isprintable():
        raise OrderError("reference: your own id for the order, 1-128 printable characters")
    if not isinstance(store, str) or not _ID.fullmatch(store):
        raise OrderError("store: the store id where it is paid or collected")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise OrderError("currency: an ISO 4217 code such as 'CNY'")
    lines = body.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES:
        raise OrderError(f"lines: a list of 1 to {MAX_LINES} lines")
    out_lines = []
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise OrderError(f"lines[{n}]: an object with name, qty and unit_price")
        name, qty, price = line.get("name"), line.get("qty"), line.get("unit_price")
        if not isinstance(name, str) or not 1 <= len(name) <= 100 or not name.isprintable():
            raise OrderError(f"lines[{n}].name: 1-100 printable characters")
        for field, value, low in (("qty", qty, 1), ("unit_price", price, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 10**9:
                raise OrderError(f"lines[{n}].{field}: a whole number from {low} (minor units for a price)")
        out_lines.append([name, qty, price])
    total = body.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total != sum(q * p for _, q, p in out_lines):
        raise OrderError("total: the sum of the lines' qty x unit_price, in minor units")
    paid = body.get("paid")
    if paid is not None:
        if not isinstance(paid, dict) or not isinstance(paid.get("trade_id"), str) or not paid["trade_id"]:
            raise OrderError("paid: {trade_id, gateway} when it was paid already (leave it out if not)")
    return {
        "reference": reference,
        "store": store,
        "currency": currency,
        "lines": out_lines,
        "total": total,
        "paid": paid,
    }


def create(engine: Engine, key: Ed25519PrivateKey, client: str, body: Any, qr_days: float = 30.0) -> tuple[bool, dict]:
    """Take an order: (created now, the order as `get` shows it with its QR).  The same reference again: the
    order made the first time.  OrderError for a body head office will not take."""
    o = _checked(body)
    now = time.time()
    day = datetime.now(UTC).strftime("%y%m%d")
    for _ in range(5):
        with engine.begin() as conn:
            found = conn.execute(
                select(online_orders.c.order_no).where(
                    and_(online_orders.c.client == client, online_orders.c.reference == o["reference"])
                )
            ).scalar()
            if found:
                return False, get(engine, key, found)
            n = conn.execute(
                select(func.count()).select_from(online_orders).where(online_orders.c.order_no.like(f"W-{day}%"))
            ).scalar_one()
            order_no = f"W-{day}{n + 1:06d}"
            paid = o["paid"]
            try:
                conn.execute(
                    insert(online_orders).values(
                        order_no=order_no,
                        client=client,
                        reference=o["reference"],
                        store=o["store"],
                        currency=o["currency"],
                        total=o["total"],
                        lines=o["lines"],
                        state="paid" if paid else "created",
                        trade_id=paid["trade_id"][:64] if paid else None,
                        gateway=str(paid.get("gateway", ""))[:32] if paid else None,
                        created_at=now,
                        expires_at=now + qr_days * 86400,
                        paid_at=now if paid else None,
                    )
                )
            except IntegrityError:  # another request took the number (or the reference) meanwhile: again
                continue
        return True, get(engine, key, order_no)
    raise OrderError("head office is too busy to number the order; try again")


def mark_paid(engine: Engine, key: Ed25519PrivateKey, client: str, order_no: str, body: Any) -> dict[str, Any]:
    """The client took the payment after the order was made (the guest paid in the shop's app): the order is
    paid, so a kiosk hands it over without asking for money even though the guest's QR still says unpaid.  The
    same trade id again changes nothing; OrderError when the order is not this client's or is paid otherwise."""
    if not isinstance(body, dict) or not isinstance(body.get("trade_id"), str) or not body["trade_id"]:
        raise OrderError("trade_id: the gateway's trade id of the payment (and gateway)")
    trade_id, gateway = body["trade_id"][:64], str(body.get("gateway", ""))[:32]
    with engine.begin() as conn:
        row = conn.execute(
            select(online_orders.c.client, online_orders.c.state, online_orders.c.trade_id).where(
                online_orders.c.order_no == order_no
            )
        ).first()
        if row is None or row.client != client:
            raise KeyError(order_no)
        if row.state == "created":
            conn.execute(
                update(online_orders)
                .where(and_(online_orders.c.order_no == order_no, online_orders.c.state == "created"))
                .values(state="paid", trade_id=trade_id, gateway=gateway, paid_at=time.time())
            )
        elif row.trade_id != trade_id:
            raise OrderError(f"the order is {row.state} already (trade id {row.trade_id or 'taken at a kiosk'})")
    return get(engine, key, order_no)


def get(engine: Engine, key: Ed25519PrivateKey, order_no: str) -> dict[str, Any]:
    """The order, its state and timeline, and its signed QR; KeyError if there is none."""
    with engine.connect() as conn:
        row = conn.execute(select(online_orders).where(online_orders.c.order_no == order_no)).first()
    if row is None:
        raise KeyError(order_no)
    steps = [{"at": row.created_at, "what": "created"}]
    if row.paid_at:
        steps.append({"at": row.paid_at, "what": "paid", "trade_id": row.trade_id})
    if row.collected_at:
        steps.append({"at": row.collected_at, "what": "collected", "by": row.collected_by})
    return {
        "order_no": row.order_no,
        "reference": row.reference,
        "store": row.store,
        "currency": row.currency,
        "total": row.total,
        "lines": [{"name": n, "qty": q, "unit_price": p} for n, q, p in row.lines],
        "state": row.state,
        "timeline": steps,
        "qr": qr_text(key, row),
        "expires_at": row.expires_at,
    }


def qr_text(key: Ed25519PrivateKey, row: Any) -> str:
    payload = json.dumps(
        {
            "v": 1,
            "o": row.order_no,
            "s": row.store,
            "c": row.currency,
            "t": row.total,
            "p": row.state != "created",
            "l": row.lines,
            "x": int(row.expires_at),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    return f"{PREFIX}.{b64url(payload)}.{b64url(key.sign(payload))}"


def status(engine: Engine, key: Ed25519PrivateKey, body: Any, now: float | None = None) -> dict[str, Any]:
    """What a kiosk asks before it hands an order over: the order's state now, signed for that question.

    The kiosk sends the order's QR and a nonce of its own.  Holding a QR head office signed is the right to ask
    (a guest's QR, scanned), so no kiosk credential is needed; the answer (`status`: order number, state, paid,
    collected at and by, the nonce, head office's time) is signed with head office's key over its canonical
    JSON, so the kiosk trusts it as it trusts the QR, and an old answer replayed does not match its nonce.
    OrderError for a question head office will not answer."""
    if not isinstance(body, dict):
        raise OrderError("the body must be a JSON object")
    qr, nonce = body.get("qr"), body.get("nonce")
    if not isinstance(nonce, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce):
        raise OrderError("nonce: 16-64 letters, digits, '-' or '_', new for each question")
    parts = qr.split(".") if isinstance(qr, str) and len(qr) <= 4000 else []
    if len(parts) != 3 or parts[0] != PREFIX:
        raise OrderError("qr: the order's QR text (KO1.payload.signature)")
    try:
        payload, signature = (base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in parts[1:])
        key.public_key().verify(signature, payload)
        order_no = json.loads(payload)["o"]
    except (ValueError, KeyError, TypeError, InvalidSignature):
        raise OrderError("qr: not an order QR head office signed") from None
    with engine.connect() as conn:
        row = conn.execute(select(online_orders).where(online_orders.c.order_no == order_no)).first()
    if row is None:
        raise OrderError("qr: head office has no such order")
    answer = {
        "order_no": row.order_no,
        "state": row.state,
        "paid": row.state != "created",
        "collected_at": row.collected_at,
        "collected_by": row.collected_by,
        "nonce": nonce,
        "at": time.time() if now is None else now,
    }
    return {"status": answer, "sig": b64url(key.sign(canonical(answer)))}
