"""Head office's tables (SQLAlchemy Core) and the engine: SQLite by default, PostgreSQL for a chain.

Every kiosk message is stored once in `messages`, keyed by (store, kiosk, id),
in the same transaction as the tables derived from it (orders and their
lines and timeline, payments, refunds, receipts' fates, events, the kiosk's
state, alerts).  A second message with a known id and other content goes to
`conflicts`; a message that breaks the protocol goes to `quarantine`.  Every
query the service runs has an index (tests/test_headoffice_db.py checks the
plans).  The schema is created and upgraded by Alembic (`migrations/`).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

ID = String(200)
NAME = String(64)

messages = Table(
    "messages",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("installation", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the payload as received
    Column("payload", Text, nullable=False),
    Column("received_at", Float, nullable=False),  # unix time, head office's clock
    Index("messages_seq", "store", "kiosk", "installation", "seq"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("id", ID, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("conflicts_msg", "store", "kiosk", "id", "digest", unique=True),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("payload", Text, nullable=False),  # as received (undecodable bytes replaced)
    Column("reason", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("state", String(16), nullable=False),  # online, offline, lost, locked, unknown
    Column("state_since", Float, nullable=False),
    Column("state_ts", String(32), nullable=False, default=""),  # the kiosk's ts of that state: older never wins
    Column("installation", String(32), nullable=False, default=""),
    Column("firmware", String(32), nullable=False, default=""),
    Column("catalog_version", String(32), nullable=False, default=""),
    Column("config_digest", String(64), nullable=False, default=""),
    Column("gateway", String(32), nullable=False, default=""),
    Column("sandbox", Boolean, nullable=False, default=False),
    Column("session", Integer, nullable=False, default=0),
    Column("settings", JSON, nullable=True),
    Column("last_seen", Float, nullable=False),
    Column("telemetry", JSON, nullable=True),  # the last heartbeat's data
    Column("telemetry_at", Float, nullable=True),
    Column("outbox_depth", Integer, nullable=False, default=0),
    Column("seq_done", BigInteger, nullable=False, default=0),  # every seq up to this is stored (this installation)
    Column("seq_max", BigInteger, nullable=False, default=0),
    Column("gap_since", Float, nullable=True),  # a gap above seq_done was first seen then
    Column("resend_asked", Float, nullable=True),
)

orders = Table(
    "orders",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("order_no", String(64), primary_key=True),
    Column("msg_id", ID, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("paid_at", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("out_trade_no", String(64), nullable=False),
    Column("trade_id", String(64), nullable=True),
    Column("masked_code", String(64), nullable=False),
    Column("language", String(16), nullable=False),
    Column("catalog_version", String(32), nullable=False),
    Column("receipt", String(16), nullable=False, default="unknown"),  # printed, not_printed, reprinted
    Column("refunded", BigInteger, nullable=False, default=0),
    Column("stored_at", Float, nullable=False),
    Column("acked_at", Float, nullable=True),
    Index("orders_trade", "trade_id"),
    Index("orders_no", "order_no"),
    Index("orders_out_trade_no", "store", "kiosk", "out_trade_no"),
    Index("orders_kiosk_time", "store", "kiosk", "paid_at"),
    Index("orders_paid", "paid_at"),
    Index("orders_stored", "stored_at"),  # the statistics' roll-up reads what was stored since its last run
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("order_no", String(64), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("barcode", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("qty", Integer, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("tax_class", String(32), nullable=False),
    Column("grams", Integer, nullable=True),  # a weighed item's weight: stock of goods sold by kg is in grams
)

timeline = Table(
    "order_timeline",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("at", String(32), nullable=False),  # when it happened (the kiosk's ts, or head office's time)
    Column("what", String(32), nullable=False),  # created, paid, stored, acknowledged, receipt_*, refund_*
    Column("detail", JSON, nullable=True),
    Index("timeline_order", "store", "kiosk", "order_no", "n"),
)

payments = Table(
    "payments",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("out_trade_no", String(64), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("trade_id", String(64), nullable=True),
    Column("order_no", String(64), nullable=True),
    Column("seq", BigInteger, nullable=False),  # the kiosk's seq of the latest state: older ones never win
    Column("updated_at", String(32), nullable=False),
    Column("reason", String(64), nullable=True),  # why it failed or was cancelled (the console's failure reasons)
    Index("payments_time", "updated_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("out_request_no", String(64), primary_key=True),
    Column("order_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(16), nullable=False),
    Column("command_id", ID, nullable=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("refunds_order", "store", "kiosk", "order_no"),
)

events = Table(
    "events",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("msg_id", ID, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Index("events_kiosk", "store", "kiosk", "n"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("kind", String(64), nullable=False),  # kiosk_lost, paper_out, printer_lost, seq_gap, conflict...
    Column("key", String(200), nullable=False, default=""),  # what it is about (an order, a message id)
    Column("open", Boolean, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("closed_at", Float, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Column("closed_by", NAME, nullable=True),  # the console user who closed it (None: the kiosk's own message)
    Column("note", Text, nullable=True),  # what they said (a reconciliation difference explained)
    Index("alerts_open", "store", "kiosk", "kind", "key", "open"),
)

# Each heartbeat, for the kiosk page's telemetry over time (the kiosks row keeps the newest); pruned after
# TELEMETRY_KEEP_DAYS by the service.
telemetry_history = Table(
    "telemetry_history",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("at", Float, nullable=False),
    Column("data", JSON, nullable=False),
    Index("telemetry_kiosk_time", "store", "kiosk", "at"),
)

# Who did what in the console: every action, with its target and the command it sent.
audit_log = Table(
    "audit_log",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("user", NAME, nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("command_id", String(64), nullable=True),
    Index("audit_time", "at"),
)

commands = Table(
    "commands",
    metadata,
    Column("id", ID, primary_key=True),
    Column("store", NAME, nullable=False),
    Column("kiosk", NAME, nullable=False),
    Column("name", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # sent, answered, no_answer
    Column("sent_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("ok", Boolean, nullable=True),
    Column("result", JSON, nullable=True),
    Column("answered_at", Float, nullable=True),
    Index("commands_waiting", "state", "sent_at"),
    Index("commands_kiosk", "store", "kiosk", "sent_at"),
    Index("commands_name", "name", "store", "kiosk"),
)


# The chain's catalog (headoffice/catalog.py): products by sku, their barcodes, and the stores' own prices
catalog_products = Table(
    "catalog_products",
    metadata,
    Column("sku", NAME, primary_key=True),
    Column("names", JSON, nullable=False),  # language -> name
    Column("category", String(200), nullable=False, default=""),
    Column("tax_class", String(32), nullable=False),
    Column("price", BigInteger, nullable=False),  # minor units, tax inclusive
    Column("unit", String(8), nullable=False, default="piece"),  # piece or kg
    Column("age_restricted", Boolean, nullable=False, default=False),
    Column("image", Text, nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", Float, nullable=False),
)

catalog_barcodes = Table(
    "catalog_barcodes",
    metadata,
    Column("gtin", String(14), primary_key=True),  # as GTIN-14: UPC-A and its EAN-13 form are one barcode
    Column("barcode", String(14), nullable=False),  # as the file gave it
    Column("sku", NAME, nullable=False),
    Column("position", Integer, nullable=False),  # the product's first barcode is 0
    Index("catalog_barcodes_sku", "sku"),
)

catalog_store_prices = Table(
    "catalog_store_prices",
    metadata,
    Column("sku", NAME, primary_key=True),
    Column("store", NAME, primary_key=True),
    Column("price", BigInteger, nullable=False),
)


# Published catalogs (headoffice/publish.py): a version for the chain, one signed bundle per store
catalog_versions = Table(
    "catalog_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("published_at", Float, nullable=False),
    Column("products", Integer, nullable=False),
)

catalog_bundles = Table(
    "catalog_bundles",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("label", String(32), nullable=False),  # what the kiosk reports as its catalog_version
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("signature", String(128), nullable=False),
    Column("bundle", LargeBinary, nullable=False),  # gzip of the catalog's JSON, the prices resolved for the store
)

# Product pictures (headoffice/pictures.py): each made once, kept by its hash; each `image` source's current one
catalog_pictures = Table(
    "catalog_pictures",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

catalog_picture_sources = Table(
    "catalog_picture_sources",
    metadata,
    Column("source", String(2000), primary_key=True),  # the catalog's `image`: a file name or an address
    Column("stamp", String(64), nullable=False),  # a file's size and time when read ("address": read once)
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
)


# Stock per store (headoffice/stock.py): counted, lowered by orders, raised by goods returned to the shelf
stock = Table(
    "stock",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("sku", NAME, primary_key=True),
    Column("qty", BigInteger, nullable=False),  # may go below 0: the shelf is the truth, the count was off
    Column("low", BigInteger, nullable=True),  # at or below this: a low-stock alert
    Column("updated_at", Float, nullable=False),
)

stock_returns = Table(
    "stock_returns",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("order_no", String(64), primary_key=True),
    Column("at", Float, nullable=False),
)


# Orders made elsewhere (headoffice/online_orders.py): a web shop's or booking system's, paid or collected at a kiosk
api_clients = Table(
    "api_clients",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("token_hash", String(64), nullable=False),  # sha256 of the bearer token (the token is shown once)
    Column("created_at", Float, nullable=False),
    Index("api_clients_token", "token_hash", unique=True),
)

online_orders = Table(
    "online_orders",
    metadata,
    Column("order_no", String(64), primary_key=True),
    Column("client", NAME, nullable=False),
    Column("reference", String(128), nullable=False),  # the client's own id: the same one again is the same order
    Column("store", NAME, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # created, paid, collected
    Column("trade_id", String(64), nullable=True),  # the gateway's, when it was paid before it came here
    Column("gateway", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("paid_at", Float, nullable=True),
    Column("collected_at", Float, nullable=True),
    Column("collected_by", String(130), nullable=True),  # store/kiosk
    Index("online_orders_reference", "client", "reference", unique=True),
)


# The web console's people (headoffice/users.py) and head office's own settings (the session key, shared by
# every worker)
users = Table(
    "users",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("role", String(16), nullable=False),  # viewer, operator, admin
    Column("password_hash", String(200), nullable=False),  # scrypt$N$r$p$salt$hash, never the password
    Column("failures", Integer, nullable=False, default=0),  # wrong passwords in a row
    Column("locked_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
)

hq_settings = Table(
    "hq_settings",
    metadata,
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=False),
)


# Kiosks asking to be paired (headoffice/pairing.py): a kiosk's code (hashed), its key's CSR and, once a
# technician approved the code, the identity and certificate head office gave it (collected once).
pairings = Table(
    "pairings",
    metadata,
    Column("id", String(64), primary_key=True),  # the request's id, the kiosk's to ask with
    Column("code_hash", String(64), nullable=False),  # sha256 of the code on the kiosk's screen
    Column("poll_hash", String(64), nullable=False),  # sha256 of the kiosk's secret for collecting the answer
    Column("serial", String(64), nullable=False),
    Column("firmware", String(64), nullable=False, default=""),
    Column("csr", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("state", String(16), nullable=False),  # pending, approved, collected
    Column("store", NAME, nullable=True),
    Column("kiosk", NAME, nullable=True),
    Column("order_prefix", String(8), nullable=True),
    Column("approved_by", String(64), nullable=True),
    Column("approved_at", Float, nullable=True),
    Column("answer", Text, nullable=True),  # the JSON the kiosk collects: identity, certificate, broker, keys
    Column("collected_at", Float, nullable=True),
    Index("pairings_code", "code_hash"),
    Index("pairings_kiosk", "store", "kiosk", unique=True),  # NULLs (pending) do not collide
    Index("pairings_prefix", "order_prefix", unique=True),
)


# The statistics' roll-ups (headoffice/rollup.py): what the console's figures are summed from, by local day (in
# the console's time zone) and, for the store's hours, local hour.  Rebuilt when the time zone changes.
stats_store_hours = Table(
    "stats_store_hours",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("day", String(10), primary_key=True),  # local YYYY-MM-DD
    Column("hour", Integer, primary_key=True),  # local 0-23
    Column("weekday", Integer, nullable=False),  # 0 = Sunday
    Column("orders", BigInteger, nullable=False),
    Column("sales", BigInteger, nullable=False),
    Column("items", BigInteger, nullable=False),
)

stats_kiosk_days = Table(
    "stats_kiosk_days",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("kiosk", NAME, primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("orders", BigInteger, nullable=False),
    Column("sales", BigInteger, nullable=False),
)

stats_products = Table(
    "stats_products",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("sales", BigInteger, nullable=False),
    Column("orders", BigInteger, nullable=False),
    Index("stats_products_day", "day"),
)

# A long period's pairs read first the rows of pairs bought together at least this often in a day / in a week (their
# partial indexes hold only those); headoffice/stats.py bounds what the rest can add.
DAY_OFTEN, WEEK_OFTEN = 3, 2


def _often(table: str, block: str, at_least: int) -> Index:
    """A partial index of the pairs bought together at least `at_least` times in a `block` (day or week)."""
    where = text(f"orders >= {at_least}")
    return Index(
        f"{table}_often", "store", block, "sku_a", "sku_b", "orders", postgresql_where=where, sqlite_where=where
    )


stats_pairs = Table(
    "stats_pairs",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("sku_a", String(64), primary_key=True),
    Column("sku_b", String(64), primary_key=True),
    Column("name_a", Text, nullable=False),
    Column("name_b", Text, nullable=False),
    Column("orders", BigInteger, nullable=False),
    _often("stats_pairs", "day", DAY_OFTEN),
)  # read by store (or the chain's "*") and days: its primary key's order

# The whole chain's pairs by local week (its Monday): a long period reads its whole weeks here, its other days in
# stats_pairs.  Only the chain's: one store's days are few enough to sum.
stats_pair_weeks = Table(
    "stats_pair_weeks",
    metadata,
    Column("store", NAME, primary_key=True),
    Column("week", String(10), primary_key=True),  # local YYYY-MM-DD of its Monday
    Column("sku_a", String(64), primary_key=True),
    Column("sku_b", String(64), primary_key=True),
    Column("orders", BigInteger, nullable=False),
    _often("stats_pair_weeks", "week", WEEK_OFTEN),
)


def hq_secret(engine: Engine, name: str) -> str:
    """A random secret of head office's (the session key, the catalog download key): made once, kept in
    hq_settings, so every worker and every restart shares it."""
    with engine.begin() as conn:
        found = conn.execute(select(hq_settings.c.value).where(hq_settings.c.key == name)).scalar()
        if found:
            return found
        try:
            conn.execute(insert(hq_settings).values(key=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:  # another worker made it first
            pass
    with engine.connect() as conn:
        return conn.execute(select(hq_settings.c.value).where(hq_settings.c.key == name)).scalar_one()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, synchronous=FULL and a busy timeout, and its folder is made."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine
