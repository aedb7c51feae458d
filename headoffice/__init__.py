"""Head office: receives every kiosk's messages once, tracks every order, watches the fleet, sends commands.

`python -m headoffice --config hq.toml` runs the service: `service` holds one
persistent MQTT session (optionally on a shared subscription, so several
workers split the load) and acknowledges a batch only after `ingest` has
stored it in one transaction (by store, kiosk and message id: exactly once);
`db` is the schema (SQLAlchemy Core; SQLite by default, PostgreSQL for a
chain; Alembic migrations in `migrations/`, applied by `migrate`); `protocol`
checks every message against the shared schema; `commands` signs, sends and
follows commands; `alerts` opens and closes alerts from the messages
themselves; `queries` answers questions about the fleet and its orders;
`demo` is `make demo`.  It shares only the message schema
(protocol/mqtt-v1.1.schema.json) with the kiosk.
"""

__version__ = "0.1.0"
