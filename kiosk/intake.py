"""Head office's messages to this kiosk: acks and commands, checked before anything is done.

Both are envelopes signed by head office (kiosk.signing); with no head-office
key configured only `ping` is obeyed and acks are taken unsigned.  Each
command id is claimed in the store before it runs: a repeated command gets its
answer again and is not carried out twice; an id reused for a different
command is refused.  Malformed or refused commands are answered with an error
on `cmd-result` and change nothing.  Runs on the MQTT thread (kiosk.telemetry).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from kiosk.signing import Refused, Verifier, canonical
from kiosk.store import Store

log = logging.getLogger(__name__)
UNSIGNED_COMMANDS = frozenset({"ping"})  # harmless: obeyed without head office's signature
MAX_COMMAND_ID = 128
# on_command(name, data, command_id) -> the answer, or None when the handler answers later itself
CommandHandler = Callable[[str, dict[str, Any], str], "dict[str, Any] | None"]


class Intake:
    def __init__(self, store: Store, verifier: Verifier, on_command: CommandHandler) -> None:
        self.store = store
        self.verifier = verifier
        self.on_command = on_command

    def ack(self, payload: bytes) -> None:
        """Head office stored these ids: mark them delivered.  A bad or forged ack is logged and ignored."""
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            if self.verifier.enabled:
                self.verifier.check("ack", body)
            ids = body["data"]["ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ValueError("data.ids must be a list of strings")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            log.warning("mqtt: ignored an ack (%s)", exc)
            return
        self.store.mark_acked(ids)

    def command(self, name: str, payload: bytes) -> None:
        """Check, claim and carry out one command; its answer goes to the outbox (`cmd-result`)."""
        cmd_id: str | None = None
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                raise ValueError("the payload must be a JSON object")
            raw_id = body.get("id")
            if not isinstance(raw_id, str) or not raw_id or len(raw_id) > MAX_COMMAND_ID or not raw_id.isprintable():
                raise ValueError(f"the command needs an 'id': a string of 1-{MAX_COMMAND_ID} printable characters")
            data = body.get("data", {})
            if not isinstance(data, dict):
                raise ValueError("'data' must be a JSON object")
            if name not in UNSIGNED_COMMANDS:
                self.verifier.check(f"cmd/{name}", body)
            cmd_id = raw_id
            digest = hashlib.sha256(canonical({"type": f"cmd/{name}", "data": data})).hexdigest()
            claim = self.store.claim_command(cmd_id, name, digest)
            if claim == "answered":  # delivered again: the same answer again, nothing done twice
                self.store.repeat_command_result(cmd_id)
                return
            if claim == "running":  # still being carried out: its answer follows
                return
            if claim == "conflict":
                log.warning("command %s: id %s was used before for another command", name, cmd_id)
                self.store.add_command_result(
                    None,
                    name,
                    {"ok": False, "error": f"command id {cmd_id!r} was used before for another command"},
                    command_id=cmd_id,
                )
                return
            result = self.on_command(name, data, cmd_id)
            if result is None:  # a long command: its handler writes the outcome when it is done
                return
        except Refused as exc:
            log.warning("command %s refused: %s", name, exc)
            result = {"ok": False, "error": f"refused: {exc}"}
            self.store.add_command_result(None, name, result, command_id=cmd_id or _printable_id(payload))
            return
        except (ValueError, UnicodeDecodeError) as exc:
            result = {"ok": False, "error": f"malformed command: {exc}"}
            self.store.add_command_result(None, name, result, command_id=_printable_id(payload))
            return
        except Exception as exc:  # a command handler bug must not end the MQTT session
            log.exception("command %s failed", name)
            result = {"ok": False, "error": f"command failed: {exc}"}
        self.store.add_command_result(cmd_id, name, result)


def _printable_id(payload: bytes) -> str | None:
    """The id of a command that was refused, if it has a usable one, so head office can match the answer."""
    try:
        raw = json.loads(payload).get("id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return raw if isinstance(raw, str) and 0 < len(raw) <= MAX_COMMAND_ID and raw.isprintable() else None
