"""The head-office service: one MQTT session, a batcher that stores and then acknowledges, and the timers.

Threads: paho's network loop only queues what arrives; the batcher thread
takes up to `ingest.batch_max` messages (waiting at most `batch_wait_ms` for
a batch to fill), stores them in one transaction, and only after the commit
acknowledges them: PUBACK to the broker (paho's manual acks) and `ack` to each
kiosk.  A head office killed before the commit has acknowledged nothing: the
broker hands the messages again to its persistent session (MQTT 5,
clean_start=False, a session expiry), or to another worker on the shared
subscription.  Every second the batcher also asks for resends of seq gaps,
expires unanswered commands and notices silent kiosks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from headoffice import protocol, publish, rollup, stats
from headoffice.commands import Commands, ack_envelope
from headoffice.config import Config
from headoffice.db import make_engine
from headoffice.ingest import Ingest, Received
from headoffice.migrate import upgrade
from headoffice.signing import load_key

log = logging.getLogger(__name__)
TELEMETRY_KEEP_DAYS = 14  # the kiosk page shows this much of each kiosk's heartbeat


class Service:
    def __init__(self, cfg: Config, engine: Engine | None = None) -> None:
        self.cfg = cfg
        self.engine = engine or make_engine(cfg.database.url)
        upgrade(self.engine)
        protocol.prepare()
        self.key = load_key(cfg.commands.private_key_file)
        self.ingest = Ingest(self.engine, gap_wait_s=cfg.ingest.gap_wait_s)
        self.inbox: queue.Queue[tuple[mqtt.MQTTMessage, float]] = queue.Queue()
        self.connected = threading.Event()
        self.client = self._client()
        self.commands = Commands(
            self.engine,
            self.client,
            self.key,
            answer_timeout_s=cfg.commands.answer_timeout_s,
            expand={"catalog": self._catalog_data},
        )
        self._next_catch_up = 0.0
        self._next_prune = 0.0
        self._next_rollup = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.stored = 0
        self._acked_orders: list[str] = []  # acks sent; their orders' acked_at goes with the next transaction

    def _client(self) -> mqtt.Client:
        m = self.cfg.mqtt
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=m.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,  # PUBACK only after the message is committed
        )
        if m.tls:
            c.tls_set(ca_certs=m.ca_file or None)
        if m.username:
            password = Path(m.password_file).read_text().strip() if m.password_file else None
            c.username_pw_set(m.username, password)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda client, userdata, flags, rc, props: self.connected.clear()
        c.on_message = lambda client, userdata, msg: self.inbox.put((msg, time.time()))
        c.max_inflight_messages_set(1000)
        return c

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker refused head office: %s", reason_code)
            return
        # subscribe every time: a session the broker kept makes this a no-op; a lost one is made again
        client.subscribe([(f, 1) for f in self.cfg.topic_filters])
        self.connected.set()
        log.info("head office connected to %s:%s (%s)", self.cfg.mqtt.host, self.cfg.mqtt.port, self.cfg.topic_filter)

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> None:
        m = self.cfg.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = m.session_expiry_s
        props.ReceiveMaximum = m.receive_maximum  # a batch can only be as large as what is in flight
        self.client.connect_async(m.host, m.port, keepalive=m.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="hq-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    # -- the batcher ----------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.monotonic() + 1.0
        while not self._stop.is_set():
            batch = self._take()
            if batch:
                try:
                    self._store(batch)
                except Exception:  # the database is down or refused: nothing acknowledged, the broker keeps them
                    log.exception("a batch of %d messages was not stored; they stay unacknowledged", len(batch))
                    for msg, at in batch:
                        self.inbox.put((msg, at))
                    self._stop.wait(1.0)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                try:
                    self._tick()
                except Exception:
                    log.exception("head office's periodic checks failed; next second again")

    def _take(self) -> list[tuple[mqtt.MQTTMessage, float]]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        end = time.monotonic() + self.cfg.ingest.batch_wait_ms / 1000
        while len(batch) < self.cfg.ingest.batch_max:
            left = end - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=max(0.0, left)) if left > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store(self, batch: list[tuple[mqtt.MQTTMessage, float]]) -> None:
        acked, self._acked_orders = self._acked_orders, []
        try:
            out = self.ingest.store_batch(
                [Received(m.topic, m.payload, at, bool(m.retain)) for m, at in batch], acknowledged=acked
            )
        except Exception:
            self._acked_orders = acked + self._acked_orders
            raise
        # committed: now, and only now, acknowledge
        for m, _ in batch:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)
        now = time.time()
        for (store, kiosk), ids in out.acks.items():
            for i in range(0, len(ids), 500):
                payload = ack_envelope(store, kiosk, ids[i : i + 500], self.key, now)
                self.client.publish(f"kiosk/v1/{store}/{kiosk}/ack", payload, qos=1)
        self._acked_orders += out.order_ids
        for store, kiosk, from_seq in out.resend:
            self._ask_resend(store, kiosk, from_seq)
        self.batches += 1
        self.stored += out.stored

    def _tick(self) -> None:
        if self._acked_orders and self.inbox.empty():  # quiet: no batch to carry them
            acked, self._acked_orders = self._acked_orders, []
            self.ingest.mark_acknowledged(acked)
        for store, kiosk, from_seq in self.ingest.check_gaps():
            self._ask_resend(store, kiosk, from_seq)
        self.commands.expire()
        if time.monotonic() >= self._next_catch_up:
            self._next_catch_up = time.monotonic() + self.cfg.commands.catalog_check_s
            for store, kiosk, version in publish.behind(self.engine):
                log.info("%s/%s: sending catalog version %d", store, kiosk, version)
                self.commands.send(store, kiosk, "catalog", {"version": version})
        i = self.cfg.ingest
        self.ingest.check_silent(i.silent_heartbeats * i.telemetry_interval_s)
        if time.monotonic() >= self._next_rollup:
            self._next_rollup = time.monotonic() + self.cfg.ingest.stats_every_s
            offset = self.cfg.http.offset_min()
            rollup.run(self.engine, offset, settle_s=self.cfg.ingest.stats_settle_s)
            for days in (7, 30):  # the console's first view, and the month, ready
                period = stats.Period.last_days(days, offset)
                for names in (stats.PAGE, *stats.PARTS.values()):
                    stats.compute(self.engine, period, names)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600
            self.ingest.prune_telemetry(time.time() - TELEMETRY_KEEP_DAYS * 86400)

    def _catalog_data(self, store: str, data: dict) -> dict:
        """cmd/catalog's data: the bundle inline, or its download address when it is big and the HTTP API runs."""
        http = self.cfg.http
        url = http.base_url if http.enabled else ""
        return publish.command_data(self.engine, store, int(data["version"]), self.cfg.commands.catalog_inline_max, url)

    def _ask_resend(self, store: str, kiosk: str, from_seq: int) -> None:
        log.warning("%s/%s: messages from seq %d missing; asking the kiosk to send them again", store, kiosk, from_seq)
        self.commands.send(store, kiosk, "resend", {"from_seq": from_seq})
