"""Per-kiosk broker accounts: the mosquitto ACL file a chain's broker uses (topic scheme v1, ../shared/spec/mqtt.md).

Each kiosk logs in as `{store_id}-{kiosk_id}` (its MQTT client id) and may
publish only its own topics and read only its own `cmd/#` and `ack`; head
office (`hq`) reads every kiosk and alone may send commands and acks.  So a
kiosk's credentials, stolen from one device, cannot command, acknowledge for
or read another kiosk.  Commands are also signed by head office
(kiosk.signing): the ACLs keep strangers off the topics, the signature decides
what a kiosk obeys.

    python -m provisioning.broker_acl s001/kiosk-01 s001/kiosk-02 > /etc/mosquitto/kiosk/acl
    mosquitto_passwd /etc/mosquitto/kiosk/passwd s001-kiosk-01      # one password per kiosk
"""

from __future__ import annotations

import argparse
import re
import sys

KIOSK_PUBLISHES = ("status", "birth", "orders", "receipts", "payments", "refunds", "events", "telemetry", "cmd-result")
KIOSK_READS = ("cmd/#", "ack")
ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def username(store_id: str, kiosk_id: str) -> str:
    return f"{store_id}-{kiosk_id}"


def acl(kiosks: list[tuple[str, str]], hq_user: str = "hq") -> str:
    lines = [
        "# mosquitto ACL for the kiosk fleet (made by python -m provisioning.broker_acl)",
        f"user {hq_user}",
        "topic read kiosk/v1/#",
        "topic write kiosk/v1/+/+/cmd/#",
        "topic write kiosk/v1/+/+/ack",
    ]
    for store_id, kiosk_id in kiosks:
        prefix = f"kiosk/v1/{store_id}/{kiosk_id}/"
        lines += ["", f"user {username(store_id, kiosk_id)}"]
        lines += [f"topic write {prefix}{t}" for t in KIOSK_PUBLISHES]
        lines += [f"topic read {prefix}{t}" for t in KIOSK_READS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provisioning.broker_acl", description=__doc__.split("\n")[0])
    ap.add_argument("kiosks", nargs="+", metavar="STORE/KIOSK", help="e.g. s001/kiosk-01")
    ap.add_argument("--hq-user", default="hq")
    args = ap.parse_args(argv)
    kiosks = []
    for item in args.kiosks:
        store_id, _, kiosk_id = item.partition("/")
        if not ID.match(store_id) or not ID.match(kiosk_id):
            print(f"{item!r}: use STORE/KIOSK, each 1-32 of a-z 0-9 - _ (as in kiosk.toml)", file=sys.stderr)
            return 2
        kiosks.append((store_id, kiosk_id))
    sys.stdout.write(acl(kiosks, args.hq_user))
    return 0


if __name__ == "__main__":
    sys.exit(main())
