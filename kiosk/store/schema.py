"""The kiosk database's schema: the first version, and each migration since (PRAGMA user_version)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
  sku TEXT PRIMARY KEY,
  barcode TEXT NOT NULL UNIQUE,
  name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL,
  price INTEGER NOT NULL CHECK (price >= 0),
  tax_class TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS payments (
  out_trade_no TEXT PRIMARY KEY,
  gateway TEXT NOT NULL,
  channel TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  state TEXT NOT NULL,
  code_masked TEXT NOT NULL,
  trade_id TEXT,
  reason TEXT,
  cart_json TEXT NOT NULL,
  language TEXT NOT NULL,
  order_no TEXT,
  recovered INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_open ON payments(state);
CREATE TABLE IF NOT EXISTS orders (
  order_no TEXT PRIMARY KEY,
  out_trade_no TEXT NOT NULL UNIQUE REFERENCES payments(out_trade_no),
  created_at TEXT NOT NULL,
  paid_at TEXT NOT NULL,
  currency TEXT NOT NULL,
  subtotal INTEGER NOT NULL,
  discount INTEGER NOT NULL,
  tax INTEGER NOT NULL,
  total INTEGER NOT NULL,
  language TEXT NOT NULL,
  receipt_printed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS order_lines (
  order_no TEXT NOT NULL REFERENCES orders(order_no),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  barcode TEXT NOT NULL,
  name TEXT NOT NULL,
  qty INTEGER NOT NULL,
  unit_price INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  tax_class TEXT NOT NULL,
  PRIMARY KEY (order_no, line_no)
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  qos INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  acked_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent_at, seq);
CREATE TABLE IF NOT EXISTS refunds (
  out_request_no TEXT PRIMARY KEY,
  order_no TEXT NOT NULL REFERENCES orders(order_no),
  out_trade_no TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  state TEXT NOT NULL,               -- SUBMITTING, UNKNOWN, REFUNDED, FAILED
  reason TEXT,
  requested_by TEXT NOT NULL,        -- "hq" or "attendant"
  command_id TEXT UNIQUE,            -- HQ's command id: a re-delivered command makes no second refund
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_open ON refunds(state);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Each step moves the schema up one version (PRAGMA user_version); a step runs once, in a transaction.
MIGRATIONS = (
    SCHEMA,
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
ALTER TABLE payments ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;  -- numbers its `payments` messages
ALTER TABLE payments ADD COLUMN code_digest BLOB;                     -- HMAC of the wallet code, never the code
CREATE INDEX IF NOT EXISTS payments_code ON payments(code_digest);
ALTER TABLE orders ADD COLUMN receipt_status TEXT NOT NULL DEFAULT 'queued';  -- queued/printed/not_printed
CREATE TABLE IF NOT EXISTS commands (  -- every command id head office used, answered once
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  state TEXT NOT NULL,               -- running, answered
  result TEXT,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attendant (  -- the PIN lockout, kept across restarts
  id INTEGER PRIMARY KEY CHECK (id = 1),
  failures INTEGER NOT NULL,
  locked_until REAL NOT NULL          -- wall-clock seconds
);
""",
    # every query the kiosk runs reads an index (tests/test_store_queries.py): costs stay flat as history grows
    """
CREATE INDEX IF NOT EXISTS orders_paid ON orders(paid_at);                      -- a day's orders, the last order
CREATE INDEX IF NOT EXISTS orders_queued ON orders(receipt_status) WHERE receipt_status = 'queued';
CREATE INDEX IF NOT EXISTS payments_created ON payments(created_at);            -- a day's payments, recent codes
DROP INDEX IF EXISTS payments_open;
CREATE INDEX IF NOT EXISTS payments_open ON payments(state, created_at);        -- open payments, oldest first
CREATE INDEX IF NOT EXISTS refunds_updated ON refunds(updated_at);              -- a day's refunds
CREATE INDEX IF NOT EXISTS refunds_order ON refunds(order_no);
CREATE INDEX IF NOT EXISTS refunds_trade ON refunds(out_trade_no);
DROP INDEX IF EXISTS refunds_open;
CREATE INDEX IF NOT EXISTS refunds_open ON refunds(state, created_at);
CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox(sent_at) WHERE acked_at IS NULL;  -- sent, not acknowledged
CREATE INDEX IF NOT EXISTS outbox_acked ON outbox(acked_at) WHERE acked_at IS NOT NULL;  -- pruning
""",
    # the cart is stored once: a final payment's cart lives on in its order's lines (or is no longer needed)
    """
UPDATE payments SET cart_json = '' WHERE state IN ('PAID', 'FAILED', 'CANCELLED', 'REFUNDED', 'PARTIALLY_REFUNDED');
""",
    # a year of orders in well under 100 MB: each receipt's message counter moves from a counters row of its own
    # into its order; order lines live in their primary key's tree (no rowid table beside an index of the same);
    # the open-payment and open-refund indexes hold only the open ones
    """
ALTER TABLE orders ADD COLUMN receipt_reports INTEGER NOT NULL DEFAULT 0;  -- receipts messages sent for it
UPDATE orders SET receipt_reports = COALESCE(
  (SELECT value FROM counters WHERE name = 'receipt:' || orders.order_no), 0);
DELETE FROM counters WHERE name LIKE 'receipt:%';
CREATE TABLE order_lines_by_order (
  order_no TEXT NOT NULL REFERENCES orders(order_no),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  barcode TEXT NOT NULL,
  name TEXT NOT NULL,
  qty INTEGER NOT NULL,
  unit_price INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  tax_class TEXT NOT NULL,
  PRIMARY KEY (order_no, line_no)
) WITHOUT ROWID;
INSERT INTO order_lines_by_order SELECT * FROM order_lines;
DROP TABLE order_lines;
ALTER TABLE order_lines_by_order RENAME TO order_lines;
DROP INDEX IF EXISTS payments_open;
CREATE INDEX payments_open ON payments(state, created_at)
  WHERE state IN ('SUBMITTING', 'USER_PAYING', 'UNKNOWN', 'CANCELLING');
DROP INDEX IF EXISTS refunds_open;
CREATE INDEX refunds_open ON refunds(state, created_at) WHERE state IN ('SUBMITTING', 'UNKNOWN');
DROP INDEX IF EXISTS payments_code;
CREATE INDEX payments_code ON payments(created_at) WHERE code_digest IS NOT NULL;  -- the last day's codes
""",
    # head office's catalogs (issue 10): products and all their barcodes in generations; the kiosk sells from
    # one (meta catalog_gen) while the next is loaded beside it, and switches between shoppers in one small
    # transaction.  A barcode is kept as GTIN-14 (UPC-A and its EAN-13 form are one), other codes as they are.
    """
CREATE TABLE products_by_gen (
  gen INTEGER NOT NULL,
  sku TEXT NOT NULL,
  barcode TEXT NOT NULL,                    -- its first barcode: order lines and receipts show it
  name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL,
  price INTEGER NOT NULL CHECK (price >= 0),
  tax_class TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  unit TEXT NOT NULL DEFAULT 'piece',       -- piece or kg
  age_restricted INTEGER NOT NULL DEFAULT 0,
  category TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (gen, sku)
) WITHOUT ROWID;
INSERT INTO products_by_gen(gen, sku, barcode, name_zh, name_en, price, tax_class, active)
  SELECT 0, sku, barcode, name_zh, name_en, price, tax_class, active FROM products;
DROP TABLE products;
ALTER TABLE products_by_gen RENAME TO products;
CREATE TABLE product_barcodes (
  gen INTEGER NOT NULL,
  code TEXT NOT NULL,
  sku TEXT NOT NULL,
  PRIMARY KEY (gen, code)
) WITHOUT ROWID;
INSERT INTO product_barcodes SELECT 0,
  CASE WHEN barcode GLOB '*[^0-9]*' OR length(barcode) NOT IN (8, 12, 13, 14) THEN barcode
       ELSE substr('00000000000000' || barcode, -14, 14) END, sku FROM products;
INSERT OR IGNORE INTO meta VALUES ('catalog_gen', '0');
""",
    # orders made elsewhere that this kiosk handed over (kiosk.services.online_orders): a second scan says when
    """
CREATE TABLE IF NOT EXISTS online_collected (
  order_no TEXT PRIMARY KEY,            -- head office's W-… number
  collected_at TEXT NOT NULL,
  kiosk_order_no TEXT                   -- this kiosk's order, when it was paid here
);
""",
    # what a weighed item's label weighed: head office counts the stock of goods sold by kg in grams
    """
ALTER TABLE order_lines ADD COLUMN grams INTEGER;
""",
    # the look-up screen (issue 13): words a product is found by besides its names (pinyin initials, pinyin),
    # and its categories read without a scan of the catalog
    """
ALTER TABLE products ADD COLUMN search TEXT NOT NULL DEFAULT '';
CREATE INDEX products_category ON products(gen, category, name_en) WHERE active = 1;
""",
    # product pictures (issue 13): the SHA-256 of each product's picture, its file kept by kiosk.services.pictures;
    # and head office's names of it for the shoppers' other languages (JSON: {"ja": "…"}; '' for none)
    """
ALTER TABLE products ADD COLUMN picture TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN names TEXT NOT NULL DEFAULT '';
""",
)
