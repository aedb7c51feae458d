"""The MQTT link to head office (../shared/spec/mqtt.md, topic scheme v1).

One thread owns the session: it connects (status `online` retained, will
`lost`), publishes `birth`, then drains the SQLite outbox in seq order with
QoS 1 and marks rows sent when the broker's PUBACK arrives, in batches.  A
broker that is down or restarts loses nothing: rows stay unsent and go out in
order on the next connection.  A fresh paho client is made per connection so
paho's in-memory retries never duplicate what the outbox resends.

Incoming: `ack` (HQ stored these ids: mark delivered) and `cmd/{name}`
(commands; malformed ones are answered with an error on `cmd-result`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import shutil
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from kiosk import __version__
from kiosk.config import Config
from kiosk.store import Store

log = logging.getLogger(__name__)

WINDOW = 200  # messages in flight at once

CommandHandler = Callable[[str, dict[str, Any]], dict[str, Any] | None]


class MqttLink:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        devices: Callable[[], dict[str, Any]] = dict,
        on_command: CommandHandler | None = None,
        on_status: Callable[[bool, str], None] = lambda ok, msg: None,
    ) -> None:
        self.cfg = cfg
        self.m = cfg.mqtt
        self.store = store
        self.prefix = cfg.topic_prefix
        self.devices = devices
        self.on_command = on_command or (lambda name, body: {"ok": False, "error": f"unknown command {name!r}"})
        self.on_status = on_status
        self.connected = threading.Event()
        self._connack = threading.Event()  # the broker answered CONNECT, yes or no
        self._refused = ""
        self.wake = threading.Event()  # set when the outbox has new rows
        self._stop = threading.Event()
        self._acks: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()
        self.config_digest = hashlib.sha256(repr(cfg).encode()).hexdigest()[:16]

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Clean stop: retained status `offline` (so no will fires), then disconnect."""
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def notify(self) -> None:
        self.wake.set()

    # -- the session ---------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        ids = self.cfg.kiosk
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{ids.store_id}-{ids.kiosk_id}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        c.will_set(self.prefix + "status", "lost", qos=1, retain=True)
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
        c.on_disconnect = self._on_disconnect
        c.on_publish = lambda client, userdata, mid, rc, props: self._acks.put(("puback", mid))
        c.on_message = lambda client, userdata, msg: self._acks.put(("message", msg))
        return c

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._refused = str(reason_code) if reason_code.is_failure else ""
        self._connack.set()
        if reason_code.is_failure:
            return
        client.subscribe([(self.prefix + "cmd/#", 1), (self.prefix + "ack", 1)])
        self.connected.set()
        self.wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            client = self._new_client()
            self._connack.clear()
            try:
                client.connect(self.m.host, self.m.port, keepalive=self.m.keepalive_s)
                client.loop_start()
                if not self._connack.wait(timeout=10):
                    raise OSError("no CONNACK from the broker")
                if self._refused:
                    raise OSError(f"the broker refused the connection: {self._refused}")
                self.on_status(True, f"connected to {self.m.host}:{self.m.port}")
                self._session(client)
            except Exception as exc:  # broker down or gone: the outbox keeps everything; retry
                if not self._stop.is_set():
                    self.on_status(False, f"broker {self.m.host}:{self.m.port} unreachable ({exc})")
            finally:
                if self._stop.is_set() and self.connected.is_set():
                    client.publish(self.prefix + "status", "offline", qos=1, retain=True).wait_for_publish(2)
                client.disconnect()
                client.loop_stop()
                self.connected.clear()
            self._stop.wait(self.m.retry_s)

    def _session(self, client: mqtt.Client) -> None:
        client.publish(self.prefix + "status", "online", qos=1, retain=True)
        session = self.store.next_session()
        birth = {
            "v": 1,
            "type": "birth",
            "store": self.cfg.kiosk.store_id,
            "kiosk": self.cfg.kiosk.kiosk_id,
            "firmware": __version__,
            "config_digest": self.config_digest,
            "devices": self.devices(),
            "session": session,
        }
        client.publish(self.prefix + "birth", json.dumps(birth), qos=1)
        inflight: dict[int, int] = {}  # mid -> outbox seq
        last_seq = 0
        next_heartbeat = time.monotonic()
        while not self._stop.is_set() and self.connected.is_set():
            sent = self._handle_incoming(inflight)
            if sent:
                self.store.mark_sent(sent)
            if len(inflight) < WINDOW:
                for row in self.store.pending_outbox(after_seq=last_seq, limit=WINDOW - len(inflight)):
                    info = client.publish(self.prefix + row["topic"], row["payload"], qos=row["qos"])
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        raise OSError(f"publish failed: {mqtt.error_string(info.rc)}")
                    inflight[info.mid] = row["seq"]
                    last_seq = row["seq"]
            if time.monotonic() >= next_heartbeat:
                client.publish(self.prefix + "telemetry", json.dumps(self.heartbeat()), qos=0)
                next_heartbeat = time.monotonic() + self.m.telemetry_interval_s
            if self._acks.empty():
                self.wake.wait(0.05 if inflight else 0.5)
                self.wake.clear()
        sent = self._handle_incoming(inflight)
        if sent:
            self.store.mark_sent(sent)

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
                self._incoming_message(item)

    def _incoming_message(self, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic[len(self.prefix) :]
        if topic == "ack":
            try:
                body = json.loads(msg.payload)
                ids = body["ids"]
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                log.warning("mqtt: ignored a malformed ack")
                return
            self.store.mark_acked(ids)
            return
        if topic.startswith("cmd/"):
            self._command(topic[4:], msg.payload)

    def _command(self, name: str, payload: bytes) -> None:
        cmd_id = None
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                raise ValueError("the payload must be a JSON object")
            cmd_id = body.get("id")
            if not isinstance(cmd_id, str) or not cmd_id:
                raise ValueError("the command has no string 'id'")
            result = self.on_command(name, body)
            if result is None:  # a long command: its handler writes the outcome when it is done
                self.wake.set()
                return
        except (ValueError, UnicodeDecodeError) as exc:
            result = {"ok": False, "error": f"malformed command: {exc}"}
        except Exception as exc:  # a command handler bug must not end the MQTT session
            log.exception("command %s failed", name)
            result = {"ok": False, "error": f"command failed: {exc}"}
        self.store.add_command_result(cmd_id, name, result)
        self.wake.set()

    def heartbeat(self) -> dict[str, Any]:
        disk = shutil.disk_usage(self.cfg.kiosk.data_dir)
        data: dict[str, Any] = {
            "v": 1,
            "type": "telemetry",
            "uptime_s": round(time.monotonic() - self.started),
            "load": os.getloadavg()[0],
            "disk_free_mb": disk.free // 2**20,
            "outbox_depth": self.store.outbox_depth(),
            "devices": self.devices(),
        }
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
