"""Head office's storage, on SQLite and on a real PostgreSQL: every message once, conflicts kept, bad ones
quarantined, orders tracked, seq gaps found, alerts opened and closed, every query on an index.

The messages are the kiosk's own: a real kiosk Store writes them to its outbox, exactly as they would go out.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from headoffice import queries
from headoffice.db import conflicts, kiosks, messages, orders, quarantine
from headoffice.ingest import Ingest, Received
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.store import Identity, Store
from tests.factories import begin_payment


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def kiosk_store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", Identity("s1", "k1", "K01", "CNY"))
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def outbox(store: Store) -> list[Received]:
    """What the kiosk would publish, in seq order, on the topics it would use."""
    return [Received(f"kiosk/v1/s1/k1/{r['topic']}", r["payload"].encode()) for r in store.pending_outbox(limit=10000)]


def sell(store: Store, n: int = 1) -> list:
    done = []
    for i in range(n):
        otn = begin_payment(store, DEMO_PRODUCTS[: 1 + i % 3])
        done.append(store.complete_payment(otn, trade_id=f"2026112422001{i:06d}"))
    return done


def count(engine, table) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def test_orders_are_stored_once_with_their_payment_and_timeline(hq_engine, kiosk_store):
    ingest = Ingest(hq_engine)
    [order] = sell(kiosk_store)
    kiosk_store.mark_receipt(order.order_no, True)
    batch = outbox(kiosk_store)
    out = ingest.store_batch(batch)
    assert out.stored == len(batch) == 4 and out.duplicates == 0  # payment x2, order, receipt
    assert sorted(out.acks[("s1", "k1")]) == sorted(json.loads(r.payload)["id"] for r in batch)
    again = ingest.store_batch(batch)  # the kiosk sent them again (a kill before PUBACK was marked)
    assert again.stored == 0 and again.duplicates == 4 and len(again.acks[("s1", "k1")]) == 4
    assert count(hq_engine, messages) == 4 and count(hq_engine, orders) == 1
    ingest.mark_acknowledged(out.order_ids)
    [found] = queries.order(hq_engine, order.order_no)
    assert found["total"] == order.total and found["receipt"] == "printed" and found["channel"] == "alipay"
    assert [ln["sku"] for ln in found["lines"]] == [ln.sku for ln in order.lines]
    whats = [t["what"] for t in found["timeline"]]
    assert whats[:3] == ["created", "paid", "stored"] and set(whats[3:]) == {"receipt_printed", "acknowledged"}
    assert found["timeline"][1]["detail"]["masked_code"] == "2812********3451"
    assert queries.order(hq_engine, trade_id=order.payment.trade_id)[0]["order_no"] == order.order_no


def test_the_same_id_with_other_content_is_a_conflict_kept_and_alerted(hq_engine, kiosk_store):
    ingest = Ingest(hq_engine)
    sell(kiosk_store)
    batch = outbox(kiosk_store)
    ingest.store_batch(batch)
    order_msg = next(r for r in batch if r.topic.endswith("/orders"))
    forged = json.loads(order_msg.payload)
    forged["data"]["total"] += 100
    out = ingest.store_batch([Received(order_msg.topic, json.dumps(forged).encode())])
    assert out.conflicts == 1 and out.stored == 0
    with hq_engine.connect() as c:
        total = c.execute(select(orders.c.total)).scalar_one()
        kept = c.execute(select(conflicts.c.payload)).scalar_one()
    assert total == json.loads(order_msg.payload)["data"]["total"]  # never overwritten
    assert json.loads(kept)["data"]["total"] == total + 100  # never dropped
    assert [a["kind"] for a in queries.alerts(hq_engine)] == ["conflict"]


@pytest.mark.parametrize(
    "topic, payload, reason",
    [
        ("kiosk/v1/s1/k1/orders", b"\xff\xfe", "not JSON"),
        ("kiosk/v1/s1/k1/orders", b'{"v": 1}', "must contain"),
        ("kiosk/v1/s1/k1/launch", b"{}", "not a kiosk topic"),
        ("kiosk/v1/s1/k2/orders", None, "on s1/k2's topic"),  # k1's order on k2's topic
        ("kiosk/v1/s1/k1/payments", None, "type 'orders' sent on the 'payments' topic"),
    ],
)
def test_messages_that_break_the_protocol_are_quarantined_with_the_reason(
    hq_engine, kiosk_store, topic, payload, reason
):
    ingest = Ingest(hq_engine)
    sell(kiosk_store)
    order_msg = next(r for r in outbox(kiosk_store) if r.topic.endswith("/orders"))
    out = ingest.store_batch([Received(topic, payload if payload is not None else order_msg.payload)])
    assert out.quarantined == 1 and out.stored == 0 and not out.acks
    with hq_engine.connect() as c:
        [(why,)] = c.execute(select(quarantine.c.reason)).all()
    assert reason in why
    assert count(hq_engine, messages) == 0


def test_a_payment_state_older_than_the_stored_one_never_wins(hq_engine, kiosk_store):
    ingest = Ingest(hq_engine)
    sell(kiosk_store)
    batch = outbox(kiosk_store)
    submitting, paid = [r for r in batch if r.topic.endswith("/payments")]
    ingest.store_batch([submitting])
    ingest.store_batch([paid])
    with hq_engine.connect() as c:
        assert c.execute(text("SELECT state, seq FROM payments")).one() == ("PAID", 2)
    ingest.store_batch([Received(submitting.topic, submitting.payload.replace(b'"seq":1', b'"seq":1 '))])
    with hq_engine.connect() as c:  # an older state arriving late (a resend, here with other bytes: a conflict)
        assert c.execute(text("SELECT state FROM payments")).scalar_one() == "PAID"


def test_refunds_reach_the_order(hq_engine, kiosk_store):
    ingest = Ingest(hq_engine)
    [order] = sell(kiosk_store)
    refund = kiosk_store.begin_refund(order.order_no, 100, requested_by="hq", command_id="c1")
    kiosk_store.set_refund_state(refund["out_request_no"], "REFUNDED")
    ingest.store_batch(outbox(kiosk_store))
    ingest.store_batch(outbox(kiosk_store))  # everything again: refunded once
    [found] = queries.order(hq_engine, order.order_no)
    assert found["refunded"] == 100
    assert [t["what"] for t in found["timeline"] if t["what"].startswith("refund")] == [
        "refund_submitting",
        "refund_refunded",
    ]


def test_a_seq_gap_is_found_asked_for_and_closed(hq_engine, kiosk_store):
    clock = Clock()
    ingest = Ingest(hq_engine, gap_wait_s=10, clock=clock)
    sell(kiosk_store, 3)
    batch = outbox(kiosk_store)  # seq 1..9
    lost = batch[3:5]
    out = ingest.store_batch(batch[:3] + batch[5:])
    assert out.resend == []  # a gap may be messages still on their way: wait first
    clock.t += 11
    assert ingest.check_gaps() == [("s1", "k1", 4)]
    assert [a["kind"] for a in queries.alerts(hq_engine)] == ["seq_gap"]
    clock.t += 1
    assert ingest.check_gaps() == []  # asked already: not again at once
    out = ingest.store_batch(lost)  # the kiosk sent them again
    with hq_engine.connect() as c:
        row = c.execute(select(kiosks.c.seq_done, kiosks.c.seq_max, kiosks.c.gap_since)).one()
    assert row.seq_done == row.seq_max == 9 and row.gap_since is None
    assert queries.alerts(hq_engine) == []


def test_kiosk_state_birth_telemetry_and_alerts_from_its_own_messages(hq_engine, kiosk_store):
    from kiosk import messages as kmsg

    clock = Clock()
    ingest = Ingest(hq_engine, clock=clock)
    n = iter(range(1000))

    def direct(type_, data, ts="2026-11-25T08:00:00.000Z"):
        msg_id = f"s1:k1:{kiosk_store.installation}:{type_}:direct-{next(n)}"
        body = kmsg.envelope(msg_id=msg_id, seq=0, ts=ts, store="s1", kiosk="k1", type_=type_, data=data)
        return Received(f"kiosk/v1/s1/k1/{type_}", body.encode())

    birth = {
        "firmware": "1.0",
        "installation": kiosk_store.installation,
        "config_digest": "abc",
        "catalog_version": kiosk_store.catalog_version(),
        "devices": {"scanner": "serial"},
        "gateway": {"kind": "alipay", "sandbox": False},
        "session": 3,
        "last_seq": 0,
    }
    ingest.store_batch([direct("status", {"state": "online"}), direct("birth", birth)])
    ingest.store_batch([direct("telemetry", {"uptime_s": 5, "outbox_depth": 7, "devices": {}})])
    [k] = queries.fleet(hq_engine)
    assert (k["state"], k["firmware"], k["session"], k["outbox_depth"]) == ("online", "1.0", 3, 7)
    assert k["catalog_version"] == kiosk_store.catalog_version()
    kiosk_store.add_event("printer_paper_out", message="paper out")
    kiosk_store.add_event("help_pressed", screen="cart")
    kiosk_store.add_event("disk_low", free_mb=300, warn_mb=512)
    kiosk_store.add_event("age_check_requested", skus=["P018"])
    ingest.store_batch(outbox(kiosk_store))
    assert sorted(a["kind"] for a in queries.alerts(hq_engine)) == ["age_check", "disk_low", "help", "paper_out"]
    kiosk_store.add_event("age_check_approved", by="li-na", skus=["P018"])
    ingest.store_batch(outbox(kiosk_store))
    assert sorted(a["kind"] for a in queries.alerts(hq_engine)) == ["disk_low", "help", "paper_out"]
    kiosk_store.add_event("age_check_requested", skus=["P018"])  # the next shopper's beer, taken off again
    ingest.store_batch(outbox(kiosk_store))
    assert "age_check" in [a["kind"] for a in queries.alerts(hq_engine)]
    kiosk_store.add_event("age_check_withdrawn")
    ingest.store_batch(outbox(kiosk_store))
    assert sorted(a["kind"] for a in queries.alerts(hq_engine)) == ["disk_low", "help", "paper_out"]
    ingest.store_batch([direct("status", {"state": "lost"}, ts="2026-11-25T08:05:00.000Z")])
    ingest.store_batch([direct("status", {"state": "online"}, ts="2026-11-25T08:01:00.000Z")])  # older: ignored
    assert queries.fleet(hq_engine)[0]["state"] == "lost"
    assert "kiosk_lost" in [a["kind"] for a in queries.alerts(hq_engine)]
    kiosk_store.add_event("printer_back")
    kiosk_store.add_event("attendant_signed_in")
    kiosk_store.add_event("disk_ok", free_mb=900, warn_mb=512)
    ingest.store_batch(outbox(kiosk_store))
    ingest.store_batch([direct("status", {"state": "online"}, ts="2026-11-25T08:06:00.000Z")])
    assert queries.alerts(hq_engine) == []
    clock.t += 181  # three heartbeats of silence
    assert ingest.check_silent(180) == 1
    assert [a["kind"] for a in queries.alerts(hq_engine)] == ["kiosk_silent"]


def test_every_query_head_office_runs_uses_an_index(hq_engine):
    dialect = hq_engine.dialect.name
    checks = [
        "SELECT digest FROM messages WHERE store='s1' AND kiosk='k1' AND id='x'",
        "SELECT digest FROM messages WHERE store IN ('s1', 's2') AND kiosk IN ('k1', 'k2') AND id IN ('x', 'y')",
        "SELECT seq FROM messages WHERE store='s1' AND kiosk='k1' AND installation='i' AND seq > 5 ORDER BY seq",
        "SELECT * FROM orders WHERE trade_id='t'",
        "SELECT * FROM orders WHERE store='s1' AND kiosk='k1' AND paid_at >= 'a' AND paid_at < 'b'",
        "SELECT * FROM orders WHERE order_no='K01-1'",
        "SELECT * FROM order_timeline WHERE store='s1' AND kiosk='k1' AND order_no='o' ORDER BY n",
        "SELECT n FROM alerts WHERE store='s1' AND kiosk='k1' AND kind='x' AND key='' AND open",
        "SELECT * FROM commands WHERE state='sent' AND sent_at < 5",
        "SELECT seq FROM payments WHERE store='s1' AND kiosk='k1' AND out_trade_no='o'",
        "SELECT * FROM refunds WHERE store='s1' AND kiosk='k1' AND order_no='o'",
    ]
    with hq_engine.connect() as c:
        if dialect == "postgresql":
            c.execute(text("SET enable_seqscan = off"))
        for sql in checks:
            if dialect == "sqlite":
                plan = " ".join(str(r[-1]) for r in c.execute(text("EXPLAIN QUERY PLAN " + sql)))
                assert "USING" in plan and "SCAN" not in plan.replace("USING INDEX", ""), f"{sql}: {plan}"
            else:
                plan = " ".join(r[0] for r in c.execute(text("EXPLAIN " + sql)))
                assert "Index" in plan and "Seq Scan" not in plan, f"{sql}: {plan}"


def test_head_offices_fast_check_agrees_with_the_reference_validator(kiosk_store):
    """fastjsonschema (what head office runs: the schema compiled once per message type) and jsonschema (the
    reference, as the kiosk's tests use it) give the same verdict on the kiosk's own messages and on broken
    copies of them."""
    import copy

    import fastjsonschema

    from headoffice.protocol import _compiled, validator_for
    from tests.loopback import PROTOCOL

    [order] = sell(kiosk_store)
    kiosk_store.mark_receipt(order.order_no, False, "printer_paper_out")
    kiosk_store.add_event("help_pressed", screen="cart")
    kiosk_store.add_command_result("c1", "ping", {"ok": True})
    kiosk_store.add_command_result("c2", "refund", {"ok": False, "error": "no order"})
    bodies = [json.loads(r.payload) for r in outbox(kiosk_store)]
    broken = []
    for body in bodies:
        for path, value in [
            (("data",), []),
            (("seq",), -1),
            (("store",), "S 1"),
            (("type",), "launch"),
            (("type",), 5),
            (("type",), ["orders"]),
            (("v",), 2),
            (("extra",), 1),
            (("data", "order_no"), None),
            (("data", "total"), "7.50"),
            (("data", "kind"), "Help Pressed"),
            (("data", "ok"), "yes"),
        ]:
            b = copy.deepcopy(body)
            target = b
            for key in path[:-1]:
                target = target[key]
            nullable = body["type"] == "payments" and path == ("data", "order_no")  # null: no order (yet)
            if (path[-1] in target or len(path) == 1) and not nullable:
                target[path[-1]] = value
                broken.append(b)
        b = copy.deepcopy(body)
        del b["data"]
        broken.append(b)
    assert len(bodies) >= 6 and len(broken) > 40

    def fast_ok(b) -> bool:
        verdicts = []
        for fast in (validator_for(b), _compiled()):  # the per-type shortcut and the whole schema agree
            try:
                fast(b)
                verdicts.append(True)
            except fastjsonschema.JsonSchemaException:
                verdicts.append(False)
        assert verdicts[0] == verdicts[1], b
        return verdicts[0]

    for b in bodies:
        assert PROTOCOL.is_valid(b) and fast_ok(b), b
    verdicts = [(PROTOCOL.is_valid(b), fast_ok(b)) for b in broken]
    differ = [b for b, (ref, mine) in zip(broken, verdicts, strict=True) if ref != mine]
    assert differ == []
    assert [b for b, (ref, _) in zip(broken, verdicts, strict=True) if ref] == []  # every broken copy is refused


def test_workers_starting_together_migrate_the_database_once(hq_engine):
    """Two head-office workers starting at once on one new database: one makes the schema, the other waits."""
    import threading

    from headoffice.db import make_engine
    from headoffice.migrate import upgrade

    url = hq_engine.url.render_as_string(hide_password=False)
    if hq_engine.dialect.name == "sqlite":
        url = url.replace("hq.sqlite", "fresh.sqlite")
    else:
        from sqlalchemy import text as sql

        with hq_engine.connect() as c:  # start again from nothing
            c.execute(sql("DROP SCHEMA public CASCADE"))
            c.execute(sql("CREATE SCHEMA public"))
            c.commit()
    errors = []

    def start():
        engine = make_engine(url)
        try:
            upgrade(engine)
        except Exception as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    workers = [threading.Thread(target=start) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    engine = make_engine(url)
    assert count(engine, messages) == 0
    engine.dispose()


def test_reconciliation_reaches_each_order_s_timeline(hq_engine, kiosk_store, tmp_path):
    from kiosk.reconcile import Report, finish

    ingest = Ingest(hq_engine)
    good, bad = sell(kiosk_store, 2)
    report = Report("2026-11-24", "sandbox", matched=[good.out_trade_no])
    report.differences.append(
        {"kind": "trade", "out_trade_no": bad.out_trade_no, "out_request_no": "", "difference": "amount_mismatch"}
    )
    finish(report, kiosk_store, tmp_path)
    ingest.store_batch(outbox(kiosk_store))
    steps = {o.order_no: queries.order(hq_engine, o.order_no)[0]["timeline"][-1] for o in (good, bad)}
    assert steps[good.order_no]["what"] == "reconciled" and steps[good.order_no]["detail"]["result"] == "matched"
    assert steps[bad.order_no]["detail"]["result"] == "difference"
    assert [a["kind"] for a in queries.alerts(hq_engine)] == ["recon_difference"]


def test_unanswered_commands_are_sent_again_when_idempotent_and_given_up_otherwise(hq_engine, broker):
    import paho.mqtt.client as mqtt

    from headoffice.commands import Commands
    from tests.loopback import Subscriber, wait_until

    clock = Clock()
    watcher = Subscriber(broker.port, "kiosk/v1/s1/k1/cmd/#")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hq-commands-test")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        commands = Commands(hq_engine, client, None, answer_timeout_s=60, clock=clock)
        ping = commands.send("s1", "k1", "ping")
        refund = commands.send("s1", "k1", "refund", {"order_no": "K01-1"})
        with pytest.raises(ValueError, match="unknown command 'dance'"):
            commands.send("s1", "k1", "dance")
        assert wait_until(lambda: len(watcher.raw("ping")) == 1 and len(watcher.raw("refund")) == 1, 10)
        clock.t += 61
        assert commands.expire() == 2
        assert wait_until(lambda: len(watcher.raw("ping")) == 2, 10)
        assert json.loads(watcher.raw("ping")[1])["id"] == ping  # the same id: the kiosk answers it once
        assert commands.result(ping)["state"] == "sent" and commands.result(ping)["attempts"] == 2
        assert commands.result(refund)["state"] == "no_answer"  # never sent twice by head office
        assert len(watcher.raw("refund")) == 1
    finally:
        client.loop_stop()
        client.disconnect()
        watcher.close()


def test_a_batchs_alert_changes_end_as_one_by_one_would(hq_engine):
    """Head office writes a batch's alert changes together (one query, two statements); the rows are what opening
    and closing them one at a time gives: an open alert is not opened twice, one opened and closed in the same
    batch is kept closed, closing what is not open does nothing."""
    from sqlalchemy import select

    from headoffice import alerts as rules
    from headoffice.db import alerts

    with hq_engine.begin() as c:
        rules.open(c, "s1", "k1", "help", "", 1.0, "cart")
        rules.open(c, "s1", "k1", "paper_out", "", 1.0)
    batch = rules.Pending()
    batch.open("s1", "k1", "help", "", 2.0, "again")  # open already: nothing
    batch.close("s1", "k1", "help", "", 3.0)  # closes the stored one
    batch.open("s1", "k1", "help", "", 4.0, "payment")  # a new one
    batch.open("s1", "k2", "device_lost", "camera", 5.0)
    batch.close("s1", "k2", "device_lost", "camera", 6.0)  # opened and closed within the batch
    batch.close("s1", "k3", "help", "", 7.0)  # nothing open: nothing
    with hq_engine.begin() as c:
        batch.write(c)
        rows = [
            (r.kiosk, r.kind, r.key, r.open, r.opened_at, r.closed_at, r.detail)
            for r in c.execute(select(alerts).order_by(alerts.c.n))
        ]
    assert rows == [
        ("k1", "help", "", False, 1.0, 3.0, "cart"),
        ("k1", "paper_out", "", True, 1.0, None, ""),
        ("k1", "help", "", True, 4.0, None, "payment"),
        ("k2", "device_lost", "camera", False, 5.0, 6.0, ""),
    ]
    assert batch.ops == []


def test_the_migrations_make_the_schema_the_code_declares(hq_engine):
    """headoffice/db.py and the Alembic migrations say the same: a table or index added to one only fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from headoffice.db import metadata

    with hq_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
