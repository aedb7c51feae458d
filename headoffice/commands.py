"""Commands to kiosks: each gets a unique id, is recorded, signed, published at QoS 1 (never retained) and followed.

A kiosk answers each id once on `cmd-result` (ingest records it); a command
with no answer within `answer_timeout_s` is marked `no_answer`, or sent again
with the same id if it is idempotent (the kiosk answers a repeated id again
and never carries it out twice).  A kiosk that is offline gets the command
from the broker's persistent session when it comes back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, and_, insert, select, update

from headoffice.db import commands
from headoffice.signing import signed

# Commands the kiosk knows (kiosk/services/office.py); resent after a timeout only when doing them twice is harmless
KNOWN = (
    "ping",
    "refund",
    "reconcile",
    "resend",
    "reprint",
    "lock",
    "unlock",
    "report",
    "config",
    "catalog",
    "selftest",
    "rotate-cert",
    "update",
    "logs",
)
IDEMPOTENT = ("ping", "resend", "lock", "unlock", "report", "config", "catalog", "selftest", "logs")


class Publisher(Protocol):
    def publish(self, topic: str, payload: str, qos: int = 0, retain: bool = False) -> Any: ...


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def command_envelope(
    store: str, kiosk: str, name: str, data: dict[str, Any], cmd_id: str, key: Ed25519PrivateKey | None, now: float
) -> str:
    body = {
        "v": 1,
        "id": cmd_id,
        "ts": rfc3339(now),
        "type": f"cmd/{name}",
        "store": store,
        "kiosk": kiosk,
        "data": data,
    }
    return json.dumps(signed(body, key), ensure_ascii=False, separators=(",", ":"))


def ack_envelope(store: str, kiosk: str, ids: list[str], key: Ed25519PrivateKey | None, now: float) -> str:
    body = {
        "v": 1,
        "id": f"ack-{uuid.uuid4().hex}",
        "ts": rfc3339(now),
        "type": "ack",
        "store": store,
        "kiosk": kiosk,
        "data": {"ids": ids},
    }
    return json.dumps(signed(body, key), ensure_ascii=False, separators=(",", ":"))


class Commands:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        key: Ed25519PrivateKey | None,
        *,
        answer_timeout_s: float = 600.0,
        clock=time.time,
        expand: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] | None = None,
    ) -> None:
        """`expand`: for a command whose recorded data is a reference (a catalog's version), what it carries when
        published (the bundle itself): name -> (store, data) -> data sent."""
        self.engine = engine
        self.expand = expand or {}
        self.publisher = publisher
        self.key = key
        self.answer_timeout_s = answer_timeout_s
        self.clock = clock

    def send(self, store: str, kiosk: str, name: str, data: dict[str, Any] | None = None) -> str:
        """Record and publish one command; returns its id.  ValueError for a name no kiosk knows."""
        if name not in KNOWN:
            raise ValueError(f"unknown command {name!r}; one of: {', '.join(KNOWN)}")
        data = data or {}
        cmd_id = uuid.uuid4().hex
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(commands).values(
                    id=cmd_id, store=store, kiosk=kiosk, name=name, data=data, state="sent", sent_at=now, attempts=1
                )
            )
        self._publish(store, kiosk, name, data, cmd_id, now)
        return cmd_id

    def _publish(self, store: str, kiosk: str, name: str, data: dict[str, Any], cmd_id: str, now: float) -> None:
        if name in self.expand:
            data = self.expand[name](store, data)
        payload = command_envelope(store, kiosk, name, data, cmd_id, self.key, now)
        self.publisher.publish(f"kiosk/v1/{store}/{kiosk}/cmd/{name}", payload, qos=1, retain=False)

    def expire(self) -> int:
        """Commands past answer_timeout_s: idempotent ones go again (same id), the others become no_answer."""
        now = self.clock()
        cutoff = now - self.answer_timeout_s
        with self.engine.begin() as conn:
            late = conn.execute(
                select(commands).where(and_(commands.c.state == "sent", commands.c.sent_at < cutoff))
            ).all()
            for c in late:
                if c.name in IDEMPOTENT and c.attempts < 3:
                    conn.execute(
                        update(commands).where(commands.c.id == c.id).values(sent_at=now, attempts=c.attempts + 1)
                    )
                else:
                    conn.execute(update(commands).where(commands.c.id == c.id).values(state="no_answer"))
        for c in late:
            if c.name in IDEMPOTENT and c.attempts < 3:
                self._publish(c.store, c.kiosk, c.name, c.data, c.id, now)
        return len(late)

    def result(self, cmd_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(commands).where(commands.c.id == cmd_id)).first()
        return dict(row._mapping) if row else None
