"""The message schema head office shares with the kiosks (protocol/mqtt-v1.1.schema.json), and the topic layout.

`check(topic, payload)` returns the envelope, or raises Invalid with a one-line
reason (kept in the quarantine table with the message).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "protocol" / "mqtt-v1.1.schema.json"
KIOSK_TOPICS = ("status", "birth", "orders", "receipts", "payments", "refunds", "events", "telemetry", "cmd-result")


class Invalid(ValueError):
    """A message that does not follow the protocol; the text says why."""


@dataclass(frozen=True)
class Topic:
    store: str
    kiosk: str
    name: str  # orders, status, ...


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def _compiled() -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema (about 25x faster than interpreting it: head office checks
    every message).  The tests hold it to the reference validator, jsonschema, on good and broken messages."""
    return fastjsonschema.compile({k: v for k, v in schema().items() if k not in ("$schema", "$id")})


@lru_cache(maxsize=64)  # types come from the network: a bounded cache
def _for_type(kind: str) -> Callable[[Any], Any]:
    """The schema as it stands for messages of one `type`: each if/then rule whose `if` holds for `kind` kept as
    a plain rule, the others dropped.  Every `if` of the schema looks at `type` alone, so for one type this
    gives the whole schema's verdict without trying ten failing `if`s per message (each a raised exception in
    fastjsonschema, about half of head office's checking time).  A rule on anything else: no shortcut."""
    s = {k: v for k, v in schema().items() if k not in ("$schema", "$id")}
    rules = []
    for rule in s.get("allOf", []):
        cond = rule.get("if")
        if cond is None:
            rules.append(rule)
            continue
        if set(cond) != {"properties"} or set(cond["properties"]) != {"type"}:
            return _compiled()
        try:
            fastjsonschema.compile(cond)({"type": kind})
            holds = True
        except fastjsonschema.JsonSchemaException:
            holds = False
        branch = rule.get("then" if holds else "else")
        if branch is not None:
            rules.append(branch)
    return fastjsonschema.compile({**s, "allOf": rules})


def prepare() -> None:
    """Compile the check of every kiosk topic now (tens of milliseconds each), not inside the first batches."""
    for kind in KIOSK_TOPICS:
        _for_type(kind)


def validator_for(body: Any) -> Callable[[Any], Any]:
    """The compiled schema to check `body` with: the one for its type when it names a plausible one."""
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and 0 < len(kind) <= 40:
        return _for_type(kind)
    return _compiled()


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 5 or parts[:2] != ["kiosk", "v1"] or parts[4] not in KIOSK_TOPICS:
        raise Invalid(f"not a kiosk topic of scheme v1.1: {topic!r}")
    return Topic(parts[2], parts[3], parts[4])


def check(topic: Topic, payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"not JSON ({exc})") from None
    try:
        validator_for(body)(body)
    except fastjsonschema.JsonSchemaException as exc:
        raise Invalid(str(exc.message).replace("data.", "", 1)[:300]) from None
    if body["type"] != topic.name:
        raise Invalid(f"type {body['type']!r} sent on the {topic.name!r} topic")
    if body["store"] != topic.store or body["kiosk"] != topic.kiosk:
        raise Invalid(f"a message of {body['store']}/{body['kiosk']} on {topic.store}/{topic.kiosk}'s topic")
    return body


def installation_of(msg_id: str) -> str:
    """The kiosk installation a message id names (store:kiosk:installation:topic:key), or ""."""
    parts = msg_id.split(":")
    return parts[2] if len(parts) >= 5 else ""
