"""The MQTT link to head office (../shared/spec/mqtt.md, topic scheme v1).

One thread owns the session: it connects (status `online` retained, will
`lost`), publishes `birth`, then drains the SQLite outbox in seq order with
QoS 1 and marks rows sent when the broker's PUBACK arrives, in batches.  A
broker that is down or restarts loses nothing: rows stay unsent and go out in
order on the next connection.  A fresh paho client is made per connection so
paho's in-memory retries never duplicate what the outbox resends.

Incoming: `ack` (HQ stored these ids: mark delivered) and `cmd/{name}`, handed
to kiosk.intake, which checks head office's signature and each command id.  A
retained message is ignored (a command would run again on every reconnect).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import queue
import shutil
import sqlite3
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509

import kiosk
from kiosk import messages
from kiosk.config import Config
from kiosk.intake import CommandHandler, Intake
from kiosk.signing import Verifier, load_public_key
from kiosk.store import Store

log = logging.getLogger(__name__)

WINDOW = 200  # messages in flight at once

# (name, data, command id) -> the result, or None when the handler writes it itself later


def cert_days_left(cfg: Config, now: float | None = None) -> int | None:
    """Whole days until the kiosk's MQTT client certificate expires (negative: expired), None without one."""
    if not (cfg.mqtt.enabled and cfg.mqtt.tls and cfg.mqtt.cert_file):
        return None
    try:
        with open(cfg.mqtt.cert_file, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
    except (OSError, ValueError):
        return None  # link_files_problem says what is wrong with it
    left = cert.not_valid_after_utc.timestamp() - (time.time() if now is None else now)
    return int(left // 86400)


def link_files_problem(cfg: Config) -> str:
    """Why the broker cannot be reached with the configured TLS and password files ("" when they load): the key,
    the file, the reason.  `--check` refuses the config with it; the link says it and tries again."""
    m = cfg.mqtt
    if not m.enabled:
        return ""
    files = [k for k in ("ca_file", "cert_file", "key_file") if m.tls and getattr(m, k)]
    files += ["password_file"] if m.password_file else []
    for key in files:
        path = getattr(m, key)
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as exc:
            return f"mqtt.{key}: {path}: {exc.strerror}"
    if not m.tls:
        return ""
    try:
        context = ssl.create_default_context(cafile=m.ca_file or None)
    except (ssl.SSLError, ValueError) as exc:
        return f"mqtt.ca_file: {m.ca_file}: not a PEM certificate ({exc})"
    if m.cert_file:
        try:
            context.load_cert_chain(m.cert_file, m.key_file or None)
        except (ssl.SSLError, ValueError) as exc:
            return f"mqtt.cert_file / key_file: {m.cert_file}: the certificate and key do not load together ({exc})"
    return ""


class MqttLink:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        devices: Callable[[], dict[str, Any]] = dict,
        on_command: CommandHandler | None = None,
        on_status: Callable[[bool, str], None] = lambda ok, msg: None,
        settings: Callable[[], dict[str, Any]] = dict,
        frame_age: Callable[[], float] | None = None,
    ) -> None:
        self.frame_age = frame_age  # seconds since the screen loop's last frame (None: no screen)
        self.settings = settings  # what head office changed with `config`, reported in birth
        self.cfg = cfg
        self.m = cfg.mqtt
        self.store = store
        self.prefix = cfg.topic_prefix
        self.devices = devices
        self.verifier = Verifier(
            load_public_key(cfg.mqtt.hq_public_key_file),
            cfg.kiosk.store_id,
            cfg.kiosk.kiosk_id,
            cfg.mqtt.command_max_age_s,
        )
        self.intake = Intake(
            store,
            self.verifier,
            on_command or (lambda name, data, cmd_id: {"ok": False, "error": f"unknown command {name!r}"}),
        )
        self.on_status = on_status
        self.connected = threading.Event()
        self._connack = threading.Event()  # the broker answered CONNECT, yes or no
        self._suback = threading.Event()  # the broker confirmed the command subscription
        self._refused = ""
        self.wake = threading.Event()  # set when the outbox has new rows
        self._service: str | None = None  # why the kiosk is out of service, or None
        self._service_sent: str | None = None
        self._alerts: collections.deque[dict[str, Any]] = collections.deque(maxlen=50)  # direct events to send
        self._stop = threading.Event()
        self._acks: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()
        self.config_digest = hashlib.sha256(repr(cfg).encode()).hexdigest()[:16]

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Clean stop: retained status `offline` (so no will fires), then disconnect."""
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def reconnect(self) -> None:
        """End the session now: the next one reads the TLS files again (a rotated certificate)."""
        self.connected.clear()
        self.wake.set()

    def notify(self) -> None:
        self.wake.set()

    def set_out_of_service(self, problem: str | None) -> None:
        """Status `locked` (retained) and an `events` alert while the kiosk cannot record a sale, `online` after.

        Sent straight to the broker, not through the outbox: the disk it would be written to may be full.
        """
        self._service = problem
        self.wake.set()

    def alert(self, kind: str, **data: Any) -> None:
        """An `events` message sent straight to the broker, for what the store cannot record (it is what failed).

        Kept in memory only (the last 50) until the link is up: what the store can record goes through the outbox.
        """
        self._alerts.append({"kind": kind, **data})
        self.wake.set()

    def _publish_alerts(self, client: mqtt.Client) -> None:
        while self._alerts:
            self._publish_direct(client, self._alerts.popleft())

    def _publish_service(self, client: mqtt.Client, connecting: bool = False) -> None:
        problem = self._service
        if not connecting and problem == self._service_sent:
            return
        self._service_sent = problem
        state = {"state": "locked", "reason": problem} if problem else {"state": "online"}
        client.publish(self.prefix + "status", self._direct("status", state), qos=1, retain=True)
        if connecting and not problem:
            return
        self._publish_direct(
            client, {"kind": "out_of_service" if problem else "back_in_service", "message": problem or ""}
        )

    def _publish_direct(self, client: mqtt.Client, data: dict[str, Any]) -> None:
        """One `events` message, not through the outbox: its id is unique, its seq 0 (outside the sequence)."""
        client.publish(self.prefix + "events", self._direct("events", data), qos=1)

    def _direct(self, type_: str, data: dict[str, Any], *, ts: str = "") -> str:
        """An envelope sent straight to the broker (status, birth, telemetry, direct alerts): seq 0, a new id."""
        ids = self.cfg.kiosk
        return messages.envelope(
            msg_id=f"{ids.store_id}:{ids.kiosk_id}:{self.store.installation}:{type_}:direct-{uuid.uuid4().hex}",
            seq=0,
            ts=ts or messages.utc_now(),
            store=ids.store_id,
            kiosk=ids.kiosk_id,
            type_=type_,
            data=data,
        )

    # -- the session ---------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        ids = self.cfg.kiosk
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{ids.store_id}-{ids.kiosk_id}",
            protocol=mqtt.MQTTv311,
            # a persistent session: commands sent while this kiosk is away wait at the broker (QoS 1)
            clean_session=False,
        )
        # the will's ts is the time the session began: the broker sends it later, unchanged
        c.will_set(self.prefix + "status", self._direct("status", {"state": "lost"}), qos=1, retain=True)
        if self.m.tls:
            c.tls_set(
                ca_certs=self.m.ca_file,
                certfile=self.m.cert_file or None,
                keyfile=self.m.key_file or None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if self.m.username:
            password = None
            if self.m.password_file:
                with open(self.m.password_file, encoding="utf-8") as f:
                    password = f.read().strip()
            c.username_pw_set(self.m.username, password)
        c.max_inflight_messages_set(WINDOW)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        c.on_publish = lambda client, userdata, mid, rc, props: self._acks.put(("puback", mid))
        c.on_message = lambda client, userdata, msg: self._acks.put(("message", msg))
        return c

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._refused = str(reason_code) if reason_code.is_failure else ""
        if not reason_code.is_failure:
            client.subscribe([(self.prefix + "cmd/#", 1), (self.prefix + "ack", 1)])
            self.connected.set()
            self.wake.set()
        self._connack.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._suback.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            client: mqtt.Client | None = None
            self._connack.clear()
            self._suback.clear()
            try:
                problem = link_files_problem(self.cfg)
                if problem:  # a missing or unreadable TLS file: said, and tried again (it may be put right)
                    raise OSError(problem)
                client = self._new_client()
                client.connect(self.m.host, self.m.port, keepalive=self.m.keepalive_s)
                client.loop_start()
                if not self._connack.wait(timeout=10):
                    raise OSError("no CONNACK from the broker")
                if self._refused:
                    raise OSError(f"the broker refused the connection: {self._refused}")
                # `online` only once commands can reach the kiosk: head office acts on it
                if not self._suback.wait(timeout=10):
                    raise OSError("the broker did not confirm the command subscription")
                self.on_status(True, f"connected to {self.m.host}:{self.m.port}")
                self._session(client)
            except Exception as exc:  # broker down or gone: the outbox keeps everything; retry
                if not self._stop.is_set():
                    self.on_status(False, f"broker {self.m.host}:{self.m.port} unreachable ({exc})")
            finally:
                if client is not None:
                    if self._stop.is_set() and self.connected.is_set():
                        offline = self._direct("status", {"state": "offline"})
                        client.publish(self.prefix + "status", offline, qos=1, retain=True).wait_for_publish(2)
                    client.disconnect()
                    client.loop_stop()
                self.connected.clear()
            self._stop.wait(self.m.retry_s)

    def _session(self, client: mqtt.Client) -> None:
        self._publish_service(client, connecting=True)  # status online, or locked while out of service
        try:
            session = self.store.next_session()
        except sqlite3.Error as exc:  # a full or failing disk: the session goes on, unnumbered
            log.warning("mqtt: session not counted (%s)", exc)
            session = 0
        birth = {
            "firmware": kiosk.__version__,
            "installation": self.store.installation,
            "config_digest": self.config_digest,
            "catalog_version": self.store.catalog_version(),
            "devices": self.devices(),
            "gateway": {"kind": self.cfg.payment.gateway, "sandbox": self.cfg.payment.gateway == "sandbox"},
            "session": session,
            "last_seq": self.store.last_seq(),
            "settings": self.settings(),
        }
        client.publish(self.prefix + "birth", self._direct("birth", birth), qos=1)
        self._mark_birth()
        self._prune()
        inflight: dict[int, int] = {}  # mid -> outbox seq
        last_seq = 0
        resends = self.store.resends
        next_heartbeat = time.monotonic()
        next_resend = time.monotonic() + min(self.m.ack_timeout_s, 60.0)
        while not self._stop.is_set() and self.connected.is_set():
            sent = self._handle_incoming(inflight)
            if sent:
                self._mark_sent(sent)
            if self.store.resends != resends:  # head office asked for messages again: start the cursor over
                resends, last_seq = self.store.resends, 0
            if len(inflight) < WINDOW:
                for row in self.store.pending_outbox(after_seq=last_seq, limit=WINDOW - len(inflight)):
                    info = client.publish(self.prefix + row["topic"], row["payload"], qos=row["qos"])
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        raise OSError(f"publish failed: {mqtt.error_string(info.rc)}")
                    inflight[info.mid] = row["seq"]
                    last_seq = row["seq"]
            if time.monotonic() >= next_resend and len(inflight) < WINDOW:
                # not acknowledged by head office within ack_timeout_s: the same message again, same id
                for row in self.store.stale_unacked(self.m.ack_timeout_s, limit=WINDOW - len(inflight)):
                    if row["seq"] not in inflight.values():
                        info = client.publish(self.prefix + row["topic"], row["payload"], qos=row["qos"])
                        inflight[info.mid] = row["seq"]
                next_resend = time.monotonic() + min(self.m.ack_timeout_s / 4, 60.0)
            self._publish_service(client)
            self._publish_alerts(client)
            if time.monotonic() >= next_heartbeat:
                client.publish(self.prefix + "telemetry", self._direct("telemetry", self.heartbeat()), qos=0)
                next_heartbeat = time.monotonic() + self.m.telemetry_interval_s
            if self._acks.empty():
                self.wake.wait(0.05 if inflight else 0.5)
                self.wake.clear()
        sent = self._handle_incoming(inflight)
        if sent:
            self._mark_sent(sent)

    def _mark_birth(self) -> None:
        """data_dir/link.json: when this kiosk last said `birth` to head office (the root updater keeps a release
        only if a kiosk that was connected before connects on it too: provisioning/update.py)."""
        path = Path(self.cfg.kiosk.data_dir) / "link.json"
        try:
            tmp = path.with_name("link.json.tmp")
            tmp.write_text(json.dumps({"birth_at": time.time(), "firmware": kiosk.__version__}))
            tmp.replace(path)
        except OSError as exc:  # a full disk: the link goes on
            log.warning("mqtt: cannot note the birth in %s (%s)", path, exc)

    def _prune(self) -> None:
        """Acknowledged messages older than outbox_retention_days leave the outbox (at each connect)."""
        try:
            gone = self.store.prune_outbox(self.m.outbox_retention_days * 86400)
        except sqlite3.Error as exc:
            log.warning("mqtt: outbox not pruned (%s)", exc)
            return
        if gone:
            log.info("mqtt: %d acknowledged messages pruned from the outbox", gone)

    def _mark_sent(self, seqs: list[int]) -> None:
        try:
            self.store.mark_sent(seqs)
        except sqlite3.Error as exc:  # a full disk: they stay "unsent" and go again later (HQ stores each id once)
            log.warning("mqtt: could not mark %d messages sent (%s)", len(seqs), exc)

    def _handle_incoming(self, inflight: dict[int, int]) -> list[int]:
        sent = []
        while True:
            try:
                kind, item = self._acks.get_nowait()
            except queue.Empty:
                return sent
            if kind == "puback":
                seq = inflight.pop(item, None)
                if seq is not None:
                    sent.append(seq)
            else:
                try:
                    self._incoming_message(item)
                except sqlite3.Error as exc:  # a full disk: unanswered; head office sees no answer and resends
                    log.error("mqtt: %s not handled, the store cannot be written (%s)", item.topic, exc)

    def _incoming_message(self, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic[len(self.prefix) :]
        if msg.retain:  # a retained message is old news replayed by the broker: never act on it
            log.warning("mqtt: ignored a retained message on %s", topic)
            return
        if topic == "ack":
            self.intake.ack(msg.payload)
        elif topic.startswith("cmd/"):
            self.intake.command(topic[4:], msg.payload)
            self.wake.set()  # its answer (or its repeat) is in the outbox

    def heartbeat(self) -> dict[str, Any]:
        disk = shutil.disk_usage(self.cfg.kiosk.data_dir)
        data: dict[str, Any] = {
            "uptime_s": round(time.monotonic() - self.started),
            "load": os.getloadavg()[0],
            "disk_free_mb": disk.free // 2**20,
            "outbox_depth": self.store.outbox_depth(),
            "unacked": self.store.unacked_count(),
            "devices": self.devices(),
            "catalog_version": self.store.catalog_version(),
        }
        if self.frame_age is not None:  # a frozen screen shows here even while everything else looks fine
            data["frame_age_s"] = round(self.frame_age(), 1)
        days = cert_days_left(self.cfg)
        if days is not None:  # head office renews it before the broker refuses the kiosk
            data["cert_days_left"] = days
        try:
            with open("/sys/class/thermal/thermal_zone0/temp") as f:
                data["cpu_temp_c"] = int(f.read()) / 1000
        except OSError:
            pass
        try:
            with open("/proc/self/status") as f:
                rss = next(line for line in f if line.startswith("VmRSS:"))
                data["rss_mb"] = int(rss.split()[1]) // 1024
        except (OSError, StopIteration):
            pass
        return data
