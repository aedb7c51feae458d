"""The audit log: who did what in the console, to which kiosk, order or alert, and the command it sent.

Written in the transaction of the change itself where there is one (an alert closed), else right after the
command is recorded; never changed or deleted by the console.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, insert

from headoffice.db import audit_log


def record(
    conn: Connection, user: str, action: str, target: str, detail: dict[str, Any], command_id: str | None = None
) -> None:
    conn.execute(
        insert(audit_log).values(
            at=time.time(), user=user, action=action, target=target[:200], detail=detail, command_id=command_id
        )
    )
