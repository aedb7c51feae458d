"""Head office's configuration: one TOML file -> frozen dataclasses; an unknown key or a bad value is refused by name.

No file: the embedded defaults (SQLite in ./hq-data, the broker on 127.0.0.1:1883).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A config file head office cannot run with; the message names the key."""


@dataclass(frozen=True)
class DatabaseSection:
    url: str = "sqlite:///hq-data/headoffice.sqlite"  # or postgresql+psycopg://user@host/db


@dataclass(frozen=True)
class MqttSection:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "headoffice"  # with `shared`, each worker needs its own
    shared: str = ""  # a shared-subscription group ("hq"): several workers split the messages
    username: str = ""
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""
    session_expiry_s: int = 7 * 86400  # what the broker keeps for head office while it is away
    receive_maximum: int = 1000  # messages the broker may have in flight to head office (acknowledged on commit)
    keepalive_s: int = 30


@dataclass(frozen=True)
class IngestSection:
    batch_max: int = 500  # messages stored in one transaction at most
    batch_wait_ms: int = 20  # how long a batch waits to fill
    gap_wait_s: float = 10.0  # a seq gap older than this gets a `resend` command
    silent_heartbeats: int = 3  # a kiosk silent this many telemetry periods is raised as silent
    telemetry_interval_s: float = 60.0  # the kiosks' heartbeat period
    stats_every_s: float = 30.0  # how often the statistics' roll-up adds the new orders (headoffice/rollup.py)
    stats_settle_s: float = 10.0  # orders stored this recently wait for the next roll-up


@dataclass(frozen=True)
class CommandsSection:
    private_key_file: str = ""  # head office's Ed25519 key: commands and acks are signed with it
    answer_timeout_s: float = 600.0  # no cmd-result within this: "no answer"
    catalog_check_s: float = 10.0  # how often kiosks not on their store's newest catalog are looked for
    catalog_inline_max: int = 2**20  # bundles up to this many bytes ride in cmd/catalog; bigger: a download URL
    releases_dir: str = "hq-data/releases"  # firmware bundles sent with cmd/update, served to the kiosks from here


@dataclass(frozen=True)
class CatalogSection:
    pictures_dir: str = "hq-data/pictures"  # the catalog's `image` file names are read from here (at publish)


@dataclass(frozen=True)
class HttpSection:
    enabled: bool = True  # head office's HTTP API (headoffice/web.py): online orders, health
    host: str = "127.0.0.1"
    port: int = 8080
    order_qr_days: float = 30.0  # how long an online order's signed QR stays good
    secure_cookies: bool = False  # true behind TLS (a reverse proxy): the session cookie goes over HTTPS only
    public_url: str = ""  # how kiosks reach this HTTP API (https://hq.example.com); "": http://host:port
    time_zone: str = ""  # the console's days and hours ("Asia/Shanghai"); "": this machine's

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def offset_min(self) -> int:
        return utc_offset_min(self.time_zone)


def utc_offset_min(time_zone: str) -> int:
    """A time zone ("" = this machine's) as minutes east of UTC, now: how the statistics group local days."""
    zone = ZoneInfo(time_zone) if time_zone else None
    offset = datetime.now(zone).astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


@dataclass(frozen=True)
class PairingSection:
    """Pairing new kiosks (headoffice/pairing.py); without a CA no kiosk is paired."""

    ca_cert_file: str = ""  # the kiosk CA's certificate (python -m headoffice ca DIR); the broker trusts it
    ca_key_file: str = ""  # its private key (0600): signs each kiosk's MQTT client certificate
    broker_host: str = ""  # the broker as kiosks reach it; "": mqtt.host
    broker_port: int = 8883
    broker_ca_file: str = ""  # the CA of the broker's own certificate, for the kiosks; "": ca_cert_file
    cert_days: int = 825  # a kiosk certificate's life (telemetry says how much is left)
    code_ttl_s: float = 900.0  # how long a kiosk's pairing code stays good
    # one STORE.toml per store: the kiosk config sections head office gives that store's kiosks at pairing
    # (payment, alipay, wechatpay, receipt, kiosk.catalog...): the gateway and its key files by name, never keys
    store_config_dir: str = ""


@dataclass(frozen=True)
class Config:
    database: DatabaseSection = DatabaseSection()
    mqtt: MqttSection = MqttSection()
    ingest: IngestSection = IngestSection()
    commands: CommandsSection = CommandsSection()
    catalog: CatalogSection = CatalogSection()
    http: HttpSection = HttpSection()
    pairing: PairingSection = PairingSection()
    source: str = ""

    @property
    def topic_filters(self) -> list[str]:
        """What head office reads: every kiosk's own topics (not the `cmd/#` and `ack` it sends them)."""
        topics = ("status", "birth", "orders", "receipts", "payments", "refunds", "events", "telemetry", "cmd-result")
        base = [f"kiosk/v1/+/+/{t}" for t in topics]
        return [f"$share/{self.mqtt.shared}/{b}" for b in base] if self.mqtt.shared else base

    @property
    def topic_filter(self) -> str:
        """The filters, for a log line."""
        return ("$share/" + self.mqtt.shared + "/" if self.mqtt.shared else "") + "kiosk/v1/+/+/{kiosk topics}"


def from_dict(raw: dict[str, Any], source: str = "") -> Config:
    raw = dict(raw)
    sections = {name: _section(cls, raw.pop(name, {}), name) for name, cls in SECTIONS.items()}
    if raw:
        raise ConfigError(f"unknown section [{sorted(raw)[0]}]")
    return Config(**sections, source=source)


def _section(cls: type, values: Any, name: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key")
        want = type(known[key].default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or isinstance(value, bool) and want is not bool:
            raise ConfigError(f"{name}.{key}: must be {want.__name__}, not {value!r}")
        out[key] = value
    if name == "http" and out.get("time_zone"):
        try:
            ZoneInfo(out["time_zone"])
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(
                f"http.time_zone: {out['time_zone']!r} is not a time zone such as 'Asia/Shanghai'"
            ) from None
    return cls(**out)


SECTIONS = {
    "database": DatabaseSection,
    "mqtt": MqttSection,
    "ingest": IngestSection,
    "commands": CommandsSection,
    "catalog": CatalogSection,
    "http": HttpSection,
    "pairing": PairingSection,
}


def load(path: str | None) -> Config:
    if not path:
        return Config()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML ({exc})") from None
    return from_dict(raw, path)


def replace(cfg: Config, **sections: dict[str, Any]) -> Config:
    """A copy with some keys changed: replace(cfg, mqtt={"port": 1884})."""
    changed = {name: dataclasses.replace(getattr(cfg, name), **vals) for name, vals in sections.items()}
    return dataclasses.replace(cfg, **changed)
