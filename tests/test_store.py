"""The store: durable settings, one transaction per change with its outbox message, idempotency."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payments import PaymentState
from kiosk.store import Identity, Store, StoreError
from tests.conftest import REPO, kiosk_cli, write_config
from tests.factories import begin_payment

ID = Identity("demo-store", "kiosk-01", "K01", "CNY")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def begin(store, n_items=2):
    return begin_payment(store, DEMO_PRODUCTS[:n_items])


def test_durability_settings(store):
    db = store.conn()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seed_is_idempotent(store):
    assert store.seed_catalog(DEMO_PRODUCTS) == 0
    assert len(store.catalog()) == len(DEMO_PRODUCTS)


def test_paid_creates_order_and_messages_together(store):
    otn = begin(store)
    assert store.payment(otn)["state"] == "SUBMITTING"
    order = store.complete_payment(otn, trade_id="T1")
    assert order.order_no.startswith("K01-") and order.total == 200 + 350
    assert [ln.name for ln in order.lines] == ["Mineral water 550ml", "Cola 330ml"]
    rows = store.pending_outbox()
    assert [r["topic"] for r in rows] == ["payments", "payments", "orders"]
    seqs = [json.loads(r["payload"])["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    msg = json.loads(rows[-1]["payload"])
    assert msg["id"] == f"demo-store:kiosk-01:{store.installation}:orders:{order.order_no}"
    assert msg["data"]["payment"]["masked_code"] == "2812********3451"
    assert msg["data"]["total"] == 550 and msg["data"]["currency"] == "CNY"


def test_completing_twice_changes_nothing(store):
    otn = begin(store)
    first = store.complete_payment(otn, trade_id="T1")
    again = store.complete_payment(otn, trade_id="T1")
    assert first.order_no == again.order_no
    assert store.conn().execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    assert len(store.pending_outbox()) == 3


def test_final_states_do_not_move(store):
    otn = begin(store)
    assert store.set_payment_state(otn, PaymentState.FAILED, reason="NOTENOUGH")
    assert not store.set_payment_state(otn, PaymentState.CANCELLED)
    with pytest.raises(ValueError):
        store.complete_payment(otn, trade_id="T")
    assert store.payment(otn)["state"] == "FAILED"


def test_a_failed_transaction_leaves_no_trace(store, monkeypatch):
    otn = begin(store)
    before = len(store.pending_outbox())

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("kiosk.messages.order_data", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.complete_payment(otn, trade_id="T")
    assert store.payment(otn)["state"] == "SUBMITTING"
    assert store.conn().execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert len(store.pending_outbox()) == before


def test_seq_and_order_numbers_survive_reopen(store, tmp_path):
    first = store.complete_payment(begin(store), trade_id="T")
    last = json.loads(store.pending_outbox()[-1]["payload"])["seq"]
    store.close()
    again = Store(tmp_path / "kiosk.sqlite", ID)
    order = again.complete_payment(begin(again), trade_id="T")
    assert int(order.order_no.rsplit("-", 1)[1]) > int(first.order_no.rsplit("-", 1)[1])  # the day, its number
    assert json.loads(again.pending_outbox()[-1]["payload"])["seq"] > last


def test_order_numbers_rise_and_are_never_below_the_time_of_day(store):
    """In tenths of a second: a kiosk re-imaged even a second after its last sale cannot give a number again."""
    from datetime import datetime

    now = datetime.now()
    tenth = (now.hour * 3600 + now.minute * 60 + now.second) * 10
    numbers = [int(store.complete_payment(begin(store), trade_id=f"T{i}").order_no[-6:]) for i in range(5)]
    assert numbers == sorted(set(numbers)) and numbers[0] >= tenth  # rising, from the time of day
    assert store.complete_payment(begin(store), trade_id="T9").order_no.startswith(f"K01-{now:%y%m%d}")
    assert len(store.order(store.last_order_no()).order_no) == len("K01-261125311770")


def test_outbox_sent_and_acked(store):
    store.add_event("help_pressed", screen="cart")
    row = store.pending_outbox()[0]
    store.mark_sent([row["seq"]])
    assert store.outbox_depth() == 0
    assert store.mark_acked([row["id"]]) == 1
    assert store.conn().execute("SELECT count(*) FROM outbox").fetchone()[0] == 1  # kept until pruned


# --- a database that is not the one this kiosk had -----------------------------------------------


def _with_order(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    order = s.complete_payment(begin(s), trade_id="T1")
    s.close()
    return order


@pytest.mark.parametrize("damage", ["empty", "deleted", "garbage-header", "truncated", "directory", "other-kiosk"])
def test_a_lost_replaced_or_damaged_database_is_refused_and_check_fails_the_same_way(tmp_path, damage):
    _with_order(tmp_path)
    db = tmp_path / "kiosk.sqlite"
    s = Store(db, ID)
    s.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    for side in ("-wal", "-shm"):
        (tmp_path / f"kiosk.sqlite{side}").unlink(missing_ok=True)
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "deleted":
        db.unlink()
    elif damage == "garbage-header":
        data = bytearray(db.read_bytes())
        data[:16] = b"garbage garbage!"
        db.write_bytes(bytes(data))
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[: 4096 * 3 + 100])
    elif damage == "directory":
        db.unlink()
        db.mkdir()
    elif damage == "other-kiosk":
        db.unlink()
        Store(tmp_path / "elsewhere" / "kiosk.sqlite", ID).close()
        (tmp_path / "elsewhere" / "kiosk.sqlite").rename(db)
    with pytest.raises(StoreError) as err:
        Store(db, ID)
    assert str(db) in str(err.value) and "\n" not in str(err.value)
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path)}})
    for args in (("--check",), ()):
        run = kiosk_cli("--config", str(cfg), *args)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.startswith("cannot start: ") and len(run.stderr.strip().splitlines()) == 1


def test_a_new_installation_is_chosen_by_a_person_and_gets_new_ids(tmp_path):
    first = _with_order(tmp_path)
    before = Store(tmp_path / "kiosk.sqlite", ID).installation
    (tmp_path / "kiosk.sqlite").write_bytes(b"")
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path)}})
    run = kiosk_cli("--config", str(cfg), "--new-installation")
    assert run.returncode == 0 and "moved aside" in run.stdout
    again = Store(tmp_path / "kiosk.sqlite", ID)
    assert again.installation != before
    assert (tmp_path / "installation-id").read_text().strip() == again.installation
    again.seed_catalog(DEMO_PRODUCTS)
    second = again.complete_payment(begin(again), trade_id="T2")
    ids = {json.loads(r["payload"])["id"] for r in again.pending_outbox() if r["topic"] == "orders"}
    # the new installation never gives the old one's order numbers again, and its message ids are its own
    assert second.order_no != first.order_no and ids == {again.msg_id("orders", second.order_no)}
    assert before not in next(iter(ids))


def test_a_readonly_data_directory_is_one_clear_line():
    tmp_path = Path(tempfile.mkdtemp())  # pytest's own folders are readable by root alone
    tmp_path.chmod(0o755)
    data = tmp_path / "ro"
    data.mkdir()
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(data)}})
    data.chmod(0o555)
    try:
        run = (
            subprocess.run(  # as an ordinary user: root writes anywhere
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    sys.executable,
                    "-m",
                    "kiosk",
                    "--config",
                    str(cfg),
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=60,
            )
            if os.geteuid() == 0
            else kiosk_cli("--config", str(cfg))
        )
    finally:
        data.chmod(0o755)
        shutil.rmtree(tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("cannot start: ") and len(run.stderr.strip().splitlines()) == 1


def test_wallet_codes_tried_are_remembered_across_a_restart(tmp_path):
    from kiosk.codes import CodeMemory, code_digest

    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    code = "281234567890123451"
    begin_payment(s, DEMO_PRODUCTS[:1], code_digest=code_digest(s.code_key, code))
    s.close()
    again = Store(tmp_path / "kiosk.sqlite", ID)
    memory = CodeMemory(again.code_key, again.recent_code_digests())
    assert memory.seen(code) and not memory.seen("281234567890123452")
    raw = (tmp_path / "kiosk.sqlite").read_bytes() + (tmp_path / "kiosk.sqlite-wal").read_bytes()
    assert code.encode() not in raw  # only the digest is kept


def test_pin_lockout_is_kept(store):
    store.save_lockout(0, 1_900_000_000.0)
    assert store.lockout() == (0, 1_900_000_000.0)


def test_a_corrupt_wal_is_not_taken_for_a_new_database(tmp_path):
    """Killed before any checkpoint, everything is in the WAL; a WAL whose header is damaged is ignored by SQLite,
    which would open an empty database. The installation file beside it says otherwise: refused."""
    code = (
        "import os, sys; from pathlib import Path; from kiosk.store import Store, Identity;"
        "from kiosk.catalog import DEMO_PRODUCTS;"
        "s = Store(Path(sys.argv[1]) / 'kiosk.sqlite', Identity('s', 'k', 'K01', 'CNY'));"
        "s.seed_catalog(DEMO_PRODUCTS); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, check=False, timeout=60)
    wal = tmp_path / "kiosk.sqlite-wal"
    data = bytearray(wal.read_bytes())
    assert len(data) > 4096  # the kiosk's writes are in the WAL
    data[40:48] = b"\xff" * 8  # a damaged header checksum: SQLite ignores the whole WAL
    wal.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="new, empty database, but this kiosk is installation"):
        Store(tmp_path / "kiosk.sqlite", ID)


def test_every_commit_with_a_message_for_head_office_wakes_the_link_once_after_it(store):
    woken = []

    def listener():  # runs after COMMIT: the message is on disk and visible to the link's own connection
        other = sqlite3.connect(store.path)
        woken.append(other.execute("SELECT count(*) FROM outbox").fetchone()[0])
        other.close()

    store.on_outbox(listener)
    otn = begin(store)  # the payment and its `payments` message
    assert woken == [1]
    store.complete_payment(otn, trade_id="T1")  # order + payment messages, one transaction: one wake
    assert woken == [1, 3]
    store.mark_sent([r["seq"] for r in store.pending_outbox()])  # no message written: nobody woken
    store.save_lockout(0, 0.0)
    assert woken == [1, 3]
    with pytest.raises(sqlite3.IntegrityError):  # a transaction that rolls back wakes nobody
        with store.tx() as db:
            store._enqueue(db, "events", "dup", {"kind": "x"})
            store._enqueue(db, "events", "dup", {"kind": "x"})
    assert woken == [1, 3]
    store.on_outbox(lambda: 1 / 0)  # a listener's failure neither undoes nor hides the commit
    store.add_event("help_pressed")
    assert woken == [1, 3, 4]


def test_head_office_may_acknowledge_before_the_broker_s_puback_is_seen(store):
    """A fast head office stores and acks a message before the kiosk's MQTT thread has handled the PUBACK:
    the row is done (never sent again, not counted as waiting) and still records when it left."""
    store.add_event("help_pressed")
    [row] = store.pending_outbox()
    assert store.mark_acked([row["id"]]) == 1
    assert store.pending_outbox() == [] and store.outbox_depth() == 0
    store.mark_sent([row["seq"]])
    sent_at, acked_at = store.conn().execute("SELECT sent_at, acked_at FROM outbox").fetchone()
    assert sent_at and acked_at and store.unacked_count() == 0


def ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def test_the_checkout_reads_products_on_demand_never_the_whole_catalog(tmp_path):
    """Issue 14: a store of 10^5 products held every one in memory (173 MB, a second to start).  Now the checkout
    asks the store for the barcode it scanned (an indexed read), through a bounded cache."""
    import tracemalloc

    from kiosk.catalog import Product
    from kiosk.checkout import Checkout

    store = Store(tmp_path / "kiosk.sqlite", ID)
    products = [
        Product(f"S{i:06d}", ean13(f"69{i:010d}"), f"商品{i}", f"Item {i}", 100 + i % 900) for i in range(20_000)
    ]
    assert store.seed_catalog(products) == 20_000
    tracemalloc.start()
    lookup = store.catalog()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < 50_000  # nothing of the 20,000 products is loaded up front
    co = Checkout(lookup, now=0)
    co.scan(products[12_345].barcode, 1)
    co.scan(products[19_999].barcode, 2)
    assert [ln.product.sku for ln in co.cart.lines] == ["S012345", "S019999"]
    co.scan(ean13("690000099999"), 3)  # not in the catalog
    assert co.notice.key == "unknown_barcode"
    small = type(lookup)(store, cache_size=100)
    for p in products[:500]:
        assert small[p.barcode] == p
    assert len(small._cache) == 100 and len(small) == 20_000 and products[7].barcode in small
    assert store.seed_catalog(products[:10]) == 0  # already there: nothing added, the version unchanged
