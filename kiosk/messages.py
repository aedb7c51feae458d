"""MQTT message bodies for head office (../shared/spec/mqtt.md, topic scheme v1.1; protocol/ has its JSON Schema).

Pure functions: they build the envelope and the `data` of each message type
from plain values.  The store writes them to the outbox in the same transaction
as the change they report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kiosk.orders import Order


def utc_now() -> str:
    """RFC 3339 UTC, millisecond precision: '2026-11-24T08:15:02.123Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def envelope(*, msg_id: str, seq: int, ts: str, store: str, kiosk: str, type_: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"v": 1, "id": msg_id, "seq": seq, "ts": ts, "store": store, "kiosk": kiosk, "type": type_, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def payment_data(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "out_trade_no": p["out_trade_no"],
        "gateway": p["gateway"],
        "channel": p["channel"],
        "state": p["state"],
        "amount": p["amount"],
        "currency": p["currency"],
        "masked_code": p["code_masked"],
        "trade_id": p["trade_id"] or None,
        "reason": p["reason"] or None,
        "order_no": p["order_no"],
        "recovered": bool(p.get("recovered", 0)),
    }


def refund_data(r: dict[str, Any]) -> dict[str, Any]:
    return {
        k: r[k]
        for k in (
            "out_request_no",
            "order_no",
            "out_trade_no",
            "amount",
            "currency",
            "state",
            "reason",
            "requested_by",
            "command_id",
        )
    }


def order_data(order: Order, catalog_version: str) -> dict[str, Any]:
    """An order for head office; its receipt's fate follows in `receipts` messages."""
    pay = order.payment
    return {
        "order_no": order.order_no,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
        "currency": order.currency,
        "lines": [
            {
                "sku": ln.sku,
                "barcode": ln.barcode,
                "name": ln.name,
                "qty": ln.qty,
                "unit_price": ln.unit_price,
                "amount": ln.amount,
                "tax_class": ln.tax_class,
                **({"grams": ln.grams} if ln.grams else {}),
            }
            for ln in order.lines
        ],
        "subtotal": order.subtotal,
        "discount": order.discount,
        "tax": order.tax,
        "total": order.total,
        "payment": {
            "channel": pay.channel,
            "gateway": pay.gateway,
            "out_trade_no": pay.out_trade_no,
            "trade_id": pay.trade_id or None,
            "state": pay.state,
            "masked_code": pay.code_masked,
        },
        "language": order.language,
        "catalog_version": catalog_version,
    }
