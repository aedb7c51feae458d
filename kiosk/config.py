"""Configuration: one TOML file -> frozen dataclasses.

Every section is a dataclass; every key has a default (the simulator's) and a
documented meaning in `kiosk.example.toml`.  Loading is strict, in the Klipper
way: an unknown section or key, a value of the wrong type or outside what is
allowed stops the start with a ConfigError whose one-line message names the key
and what it accepts.  No file at all means the simulator defaults.

Why one module of ~430 lines: it is the schema of the whole file, read top to
bottom beside kiosk.example.toml; each section's keys, defaults and checks sit
together so "what may this key be?" has one answer.  It grows with sections,
not with logic: the checking code is the small part at the end.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.attendant import parse_badges
from kiosk.weighed import LayoutError, parse_layouts


class ConfigError(Exception):
    """A configuration problem, told in one line naming the key."""


def _choice(*values: str) -> dict[str, Any]:
    return {"choices": values}


_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2}|_Han[st])?$")
LOCALIZED = {"localized": True}  # a text the shopper reads: one string, or a table of one per language


class Localized(str):
    """A store text given per language (`{ zh_CN = "…", en = "…" }`): as a str it is the first one given;
    `in_language()` picks the shopper's."""

    texts: dict[str, str]

    def __new__(cls, texts: dict[str, str]) -> Localized:
        self = super().__new__(cls, next(iter(texts.values())))
        self.texts = dict(texts)
        return self

    def __repr__(self) -> str:  # every language's text: the config's digest (birth) changes with any of them
        return f"Localized({self.texts!r})"

    def in_language(self, language: str) -> str:
        if language in self.texts:
            return self.texts[language]
        base = language.split("_")[0]
        return next((t for lang, t in self.texts.items() if lang.split("_")[0] == base), str(self))


def in_language(text: str, language: str) -> str:
    """A config text in the shopper's language (itself, when it was given as one string for all)."""
    return text.in_language(language) if isinstance(text, Localized) else text


@dataclass(frozen=True)
class KioskSection:
    store_id: str = "demo-store"
    kiosk_id: str = "kiosk-01"
    order_prefix: str = "K01"
    data_dir: str = "data"
    min_free_mb: int = field(default=64, metadata={"min": 1, "max": 100000})  # less free: out of service
    disk_warn_mb: int = field(default=512, metadata={"min": 1, "max": 1000000})  # less free: head office is told
    preview_retention_days: float = field(default=7.0, metadata={"min": 0})  # simulator receipt pictures kept
    currency: str = "CNY"
    default_language: str = field(default="zh_CN", metadata=_choice("zh_CN", "zh_TW", "en", "ja", "ko"))
    idle_timeout_s: float = field(default=90.0, metadata={"min": 10})
    result_timeout_s: float = field(default=12.0, metadata={"min": 2})
    # demo: the 32 demo products (simulator, sandbox); headoffice: only head office's catalog (cmd/catalog), and
    # "not ready" until it has arrived
    catalog: str = field(default="demo", metadata=_choice("demo", "headoffice"))
    bag_barcode: str = ""  # the shopping bag the cart's "Bag" button adds; "" = no button


@dataclass(frozen=True)
class DisplaySection:
    size: str = field(
        default="800x480",
        metadata=_choice("800x480", "1024x600", "1280x720", "1280x800", "720x1280", "800x1280"),
    )
    fullscreen: bool = False
    fps: int = field(default=30, metadata={"min": 5, "max": 60})
    font: str = ""


@dataclass(frozen=True)
class ScannerSection:
    type: str = field(default="simulated", metadata=_choice("serial", "hid", "simulated", "none"))
    url: str = "/dev/ttyACM0"
    baudrate: int = field(default=9600, metadata={"min": 1200, "max": 921600})
    terminator: str = field(default="cr", metadata=_choice("cr", "lf", "crlf"))
    device: str = "/dev/input/by-id/usb-barcode-scanner-event-kbd"
    max_length: int = field(default=1024, metadata={"min": 8, "max": 4096})  # an order QR: a few hundred


@dataclass(frozen=True)
class CameraSection:
    type: str = field(default="simulated", metadata=_choice("opencv", "simulated", "none"))
    source: str = "0"
    width: int = field(default=640, metadata={"min": 160, "max": 3840})
    height: int = field(default=480, metadata={"min": 120, "max": 2160})
    read_timeout_s: float = field(default=3.0, metadata={"min": 0.1})
    fps: int = field(default=15, metadata={"min": 1, "max": 60})


@dataclass(frozen=True)
class PrinterSection:
    type: str = field(
        default="simulated",
        metadata=_choice("usb", "serial", "network", "file", "simulated", "none"),
    )
    vendor_id: int = 0x0416
    product_id: int = 0x5011
    in_ep: int = field(default=0x81, metadata={"min": 0x81, "max": 0x8F})  # USB: the endpoint status answers come from
    out_ep: int = field(default=0x03, metadata={"min": 0x01, "max": 0x0F})  # USB: the endpoint print data goes to
    interface: int = field(default=0, metadata={"min": 0, "max": 15})  # USB: the printer's interface number
    device: str = "/dev/ttyUSB0"
    baudrate: int = field(default=19200, metadata={"min": 1200, "max": 921600})
    host: str = "127.0.0.1"
    port: int = field(default=9100, metadata={"min": 1, "max": 65535})
    path: str = "/dev/usb/lp0"
    paper_width_mm: int = field(default=80, metadata={"choices": (58, 80)})
    timeout_s: float = field(default=5.0, metadata={"min": 0.1})


@dataclass(frozen=True)
class ReceiptSection:
    store_name: str = field(default="Demo Store", metadata=LOCALIZED)
    store_address: str = field(default="88 Demo Road, Shanghai", metadata=LOCALIZED)
    tax_id: str = "91310000DEMO00000X"
    footer: str = field(default="Thank you! Keep this receipt for returns within 7 days.", metadata=LOCALIZED)
    url: str = "https://receipts.example.com/r/{order_no}"
    mode: str = field(default="raster", metadata=_choice("raster", "native"))


@dataclass(frozen=True)
class AttendantSection:
    pin_hash: str = ""
    max_attempts: int = field(default=3, metadata={"min": 1, "max": 10})
    lockout_s: float = field(default=60.0, metadata={"min": 1})
    session_s: float = field(default=120.0, metadata={"min": 10})
    badges: str = ""  # staff badges, "id:sha256 id2:sha256" (python -m kiosk.attendant make-badge ID)
    removals_need_staff: bool = False  # only staff take a scanned item off (− and × call them)


@dataclass(frozen=True)
class SoundSection:
    enabled: bool = True  # tones and prompts through the speaker (SDL's mixer), beside the buzzer
    prompts: bool = True  # short spoken prompts in the shopper's language (kiosk/sounds/prompts)
    volume: float = field(default=0.8, metadata={"min": 0.0, "max": 1.0})


@dataclass(frozen=True)
class GpioSection:
    enabled: bool = True
    pin_factory: str = field(default="", metadata=_choice("", "mock", "lgpio", "rpigpio", "pigpio", "native"))
    light: str = field(default="traffic", metadata=_choice("traffic", "rgb"))
    green_pin: int = field(default=17, metadata={"min": 0, "max": 27})
    amber_pin: int = field(default=27, metadata={"min": 0, "max": 27})
    red_pin: int = field(default=22, metadata={"min": 0, "max": 27})
    blue_pin: int = field(default=24, metadata={"min": 0, "max": 27})
    buzzer_pin: int = field(default=18, metadata={"min": 0, "max": 27})
    help_button_pin: int = field(default=23, metadata={"min": 0, "max": 27})


@dataclass(frozen=True)
class MqttSection:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = field(default=1883, metadata={"min": 1, "max": 65535})
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""
    hq_public_key_file: str = ""  # head office's Ed25519 public key: commands and acks must be signed with it
    hq_url: str = ""  # head office's HTTP API (https://hq.example.com): order states before a hand-over
    command_max_age_s: float = field(default=300.0, metadata={"min": 10, "max": 86400})
    keepalive_s: int = field(default=30, metadata={"min": 5})
    telemetry_interval_s: float = field(default=60.0, metadata={"min": 1})
    retry_s: float = field(default=2.0, metadata={"min": 0.1})
    ack_timeout_s: float = field(default=300.0, metadata={"min": 1})  # sent, not acknowledged: sent again
    outbox_retention_days: float = field(default=7.0, metadata={"min": 0})  # acknowledged rows kept this long


@dataclass(frozen=True)
class PaymentSection:
    gateway: str = field(default="sandbox", metadata=_choice("sandbox", "alipay", "wechatpay"))
    request_timeout_s: float = field(default=10.0, metadata={"min": 0.1})
    poll_interval_s: float = field(default=0.0, metadata={"min": 0})  # 0: the gateway's own (3 s, WeChat 10 s)
    paying_limit_s: float = field(default=0.0, metadata={"min": 0})  # 0: the gateway's own (60 s, WeChat 45 s)
    recovery_interval_s: float = field(default=30.0, metadata={"min": 1})
    qr_expiry_s: float = field(default=120.0, metadata={"min": 10, "max": 7200})


@dataclass(frozen=True)
class AlipaySection:
    app_id: str = ""
    gateway_url: str = "https://openapi.alipay.com/gateway.do"
    app_private_key_file: str = ""
    alipay_public_key_file: str = ""


@dataclass(frozen=True)
class WechatPaySection:
    mchid: str = ""
    appid: str = ""
    api_base: str = "https://api.mch.weixin.qq.com"
    merchant_private_key_file: str = ""
    merchant_serial_no: str = ""
    platform_public_key_file: str = ""
    platform_public_key_id: str = ""  # WeChat Pay's public key id (PUB_KEY_ID_…): the Wechatpay-Serial of answers


@dataclass(frozen=True)
class SandboxSection:
    latency_ms: int = field(default=200, metadata={"min": 0, "max": 60000})
    user_paying_s: float = field(default=5.0, metadata={"min": 0})
    state_file: str = "sandbox-gateway.sqlite"
    fault: str = field(
        default="none",
        metadata=_choice("none", "decline", "user_paying", "5xx", "timeout", "drop", "success_after_timeout"),
    )


@dataclass(frozen=True)
class SimulatorSection:
    panel: bool = True
    autopilot_s: float = field(default=0.0, metadata={"min": 0})  # > 0: a simulated shopper buys every so often


@dataclass(frozen=True)
class WeighedSection:
    # scale labels (GS1 prefixes 20-29), space-separated PREFIX:PATTERN:VALUE (kiosk/weighed.py); "" for none
    layouts: str = ""


@dataclass(frozen=True)
class PairingSection:
    # head office's HTTP API to pair with (https://hq.example.com): with no identity paired yet, the kiosk shows a
    # pairing code instead of selling (kiosk/pairing.py).  "": the identity is this file's [kiosk] and [mqtt]
    hq_url: str = ""
    ca_file: str = ""  # the CA of head office's HTTPS certificate; "": the system's
    # head office's command key (Ed25519 PEM): a provisioning QR shown to the camera must be signed with it
    hq_public_key_file: str = ""


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = KioskSection()
    display: DisplaySection = DisplaySection()
    scanner: ScannerSection = ScannerSection()
    camera: CameraSection = CameraSection()
    printer: PrinterSection = PrinterSection()
    receipt: ReceiptSection = ReceiptSection()
    attendant: AttendantSection = AttendantSection()
    gpio: GpioSection = GpioSection()
    sound: SoundSection = SoundSection()
    mqtt: MqttSection = MqttSection()
    payment: PaymentSection = PaymentSection()
    alipay: AlipaySection = AlipaySection()
    wechatpay: WechatPaySection = WechatPaySection()
    sandbox: SandboxSection = SandboxSection()
    simulator: SimulatorSection = SimulatorSection()
    weighed: WeighedSection = WeighedSection()
    pairing: PairingSection = PairingSection()
    source: str = ""

    @property
    def screen_size(self) -> tuple[int, int]:
        w, h = self.display.size.split("x")
        return int(w), int(h)

    @property
    def topic_prefix(self) -> str:
        return f"kiosk/v1/{self.kiosk.store_id}/{self.kiosk.kiosk_id}/"


# pbkdf2_sha256 of "1234": only for the simulator on embedded defaults; a config file sets its own or none
DEMO_PIN_HASH = (
    "pbkdf2_sha256$100000$6b696f736b2d64656d6f$d2b1a57106c22aa48c9268f4b240824cdd42b1c6bfe3bc31f13886cd9d14c9db"
)
DEMO_BAG = "6901234000320"  # the demo catalog's shopping bag
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _section_names() -> dict[str, type]:
    return {f.name: f.type for f in dataclasses.fields(Config) if f.name != "source"}


def _coerce(key: str, value: Any, f: dataclasses.Field) -> Any:
    if f.metadata.get("localized") and isinstance(value, dict):
        return _localized(key, value)
    kind = {"bool": bool, "int": int, "float": float, "str": str}[str(f.type)]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if ok and kind is float and not math.isfinite(value):
        raise ConfigError(f"{key}: {value!r} is not a number; give a finite number")
    choices = f.metadata.get("choices")
    if not ok:
        want = "one of " + ", ".join(repr(c) for c in choices) if choices else _TYPE_NAMES[kind]
        raise ConfigError(f"{key}: expected {want}, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}: {value!r} is not allowed; use one of " + ", ".join(repr(c) for c in choices))
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if lo is not None and value < lo:
        raise ConfigError(f"{key}: {value!r} is too small; the least allowed is {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: {value!r} is too large; the most allowed is {hi}")
    return value


def _localized(key: str, table: dict[str, Any]) -> Localized:
    if not table:
        example = '{ zh_CN = "…", en = "…" }'
        raise ConfigError(f"{key}: an empty table; give a string, or one per language like {example}")
    for lang, text in table.items():
        if not _LANGUAGE_RE.match(lang):
            raise ConfigError(f"{key}.{lang}: not a language code; use one like zh_CN, zh_TW, en, ja, ko")
        if not isinstance(text, str):
            raise ConfigError(f"{key}.{lang}: expected a string, got {text!r}")
    return Localized(table)


def from_dict(data: dict[str, Any], source: str = "") -> Config:
    """Build a Config from parsed TOML, refusing unknown or bad keys by name."""
    sections: dict[str, Any] = {}
    known = _section_names()
    for name, body in data.items():
        if name not in known:
            raise ConfigError(f"[{name}]: unknown section; known sections are " + ", ".join(known))
        if not isinstance(body, dict):
            raise ConfigError(f"{name}: expected a [{name}] table")
        cls = getattr(Config, name).__class__
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in body.items():
            if key not in fields:
                raise ConfigError(f"{name}.{key}: unknown key; [{name}] takes " + ", ".join(fields))
            values[key] = _coerce(f"{name}.{key}", value, fields[key])
        sections[name] = cls(**values)
    cfg = Config(**sections, source=source)
    _check_cross_field(cfg)
    return cfg


def _check_cross_field(cfg: Config) -> None:
    for key in ("store_id", "kiosk_id"):
        if not _ID_RE.match(getattr(cfg.kiosk, key)):
            raise ConfigError(
                f"kiosk.{key}: use 1-32 lowercase letters, digits, '-' or '_' (it is part of MQTT topics)"
            )
    if not re.fullmatch(r"[A-Z0-9]{1,6}", cfg.kiosk.order_prefix):
        raise ConfigError("kiosk.order_prefix: use 1-6 uppercase letters or digits")
    if not re.fullmatch(r"[A-Z]{3}", cfg.kiosk.currency):
        raise ConfigError("kiosk.currency: use an ISO 4217 code such as 'CNY'")
    if "{order_no}" not in cfg.receipt.url:
        raise ConfigError("receipt.url: must contain {order_no}")
    try:
        cfg.receipt.url.format(order_no="K01-261124302850")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"receipt.url: cannot be filled in ({type(exc).__name__}: {exc}); only {{order_no}} may stand in braces"
        ) from None
    if cfg.attendant.pin_hash and not re.fullmatch(
        r"pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]{64}", cfg.attendant.pin_hash
    ):
        raise ConfigError("attendant.pin_hash: not a PIN hash; make one with: python -m kiosk.attendant hash-pin")
    try:
        parse_badges(cfg.attendant.badges)
    except ValueError as exc:
        raise ConfigError(f"attendant.badges: {exc}") from None
    try:
        parse_layouts(cfg.weighed.layouts)
    except LayoutError as exc:
        raise ConfigError(f"weighed.layouts: {exc}") from None
    if cfg.scanner.type == "serial" and not cfg.scanner.url:
        raise ConfigError("scanner.url: a pyserial URL or device is needed when scanner.type = 'serial'")
    if cfg.payment.gateway == "alipay":
        for key in ("app_id", "app_private_key_file", "alipay_public_key_file"):
            if not getattr(cfg.alipay, key):
                raise ConfigError(f"alipay.{key}: needed when payment.gateway = 'alipay'")
        _check_service_url("alipay.gateway_url", cfg.alipay.gateway_url)
    if cfg.payment.gateway == "wechatpay":
        for key in (
            "mchid",
            "appid",
            "merchant_private_key_file",
            "merchant_serial_no",
            "platform_public_key_file",
            "platform_public_key_id",
        ):
            if not getattr(cfg.wechatpay, key):
                raise ConfigError(f"wechatpay.{key}: needed when payment.gateway = 'wechatpay'")
        _check_service_url("wechatpay.api_base", cfg.wechatpay.api_base)
    if cfg.mqtt.hq_url:
        _check_service_url("mqtt.hq_url", cfg.mqtt.hq_url)
    if cfg.pairing.hq_url:
        _check_service_url("pairing.hq_url", cfg.pairing.hq_url)
    if cfg.mqtt.tls and not cfg.mqtt.ca_file:
        raise ConfigError("mqtt.ca_file: needed when mqtt.tls = true")
    if bool(cfg.mqtt.cert_file) != bool(cfg.mqtt.key_file):
        raise ConfigError("mqtt.cert_file: give both cert_file and key_file, or neither")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost: this machine, and nothing else."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_service_url(key: str, url: str) -> None:
    """https:// to any host; plain http:// only to this machine (tests).  No user@ part, no tricks."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:
        raise ConfigError(f"{key}: {url!r} is not a URL ({exc})") from None
    if not host or parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(f"{key}: {url!r} must name a host, with no user@ part")
    del port
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(host):
        return
    raise ConfigError(f"{key}: must be https:// (plain http only to this machine, for tests), not {url!r}")


SECRET_KEYS = (
    ("mqtt", "key_file"),
    ("mqtt", "password_file"),
    ("alipay", "app_private_key_file"),
    ("wechatpay", "merchant_private_key_file"),
)


# files the kiosk trusts: whoever can change them can impersonate the gateway, the broker or head office
TRUSTED_FILES = (
    ("mqtt", "ca_file"),
    ("mqtt", "cert_file"),
    ("mqtt", "hq_public_key_file"),
    ("pairing", "ca_file"),
    ("pairing", "hq_public_key_file"),
    ("alipay", "alipay_public_key_file"),
    ("wechatpay", "platform_public_key_file"),
)


def check_secret_files(cfg: Config) -> None:
    """Keys and passwords must exist and be readable by their owner only (like ssh's private keys);
    the public keys and certificates the kiosk trusts must exist and be writable by their owner only."""
    for (section, key), forbidden, what in [(k, 0o077, "readable") for k in SECRET_KEYS] + [
        (k, 0o022, "writable") for k in TRUSTED_FILES
    ]:
        path = getattr(getattr(cfg, section), key)
        if not path or (section == "mqtt" and enrolling(cfg) and not Path(path).exists()):
            continue  # a kiosk provisioned by QR gets its certificate and the broker's CA when head office answers
        try:
            st = Path(path).stat()
        except OSError as exc:
            raise ConfigError(f"{section}.{key}: cannot read {path} ({exc.strerror})") from None
        if not Path(path).is_file():
            raise ConfigError(f"{section}.{key}: {path} is not a file")
        mode = st.st_mode
        if mode & forbidden:
            fix = "chmod 600" if what == "readable" else "chmod go-w"
            raise ConfigError(
                f"{section}.{key}: {path} is {what} by others (mode {mode & 0o777:04o}); "
                f"make it {what} by its owner only: {fix} {path}"
            )


def real_devices(cfg: Config) -> list[str]:
    """The real devices the config names (a shop's kiosk), as `section.key = value`."""
    found = []
    if cfg.scanner.type in ("serial", "hid"):
        found.append(f"scanner.type = {cfg.scanner.type!r}")
    if cfg.camera.type == "opencv":
        found.append("camera.type = 'opencv'")
    if cfg.printer.type not in ("simulated", "none", "file"):
        found.append(f"printer.type = {cfg.printer.type!r}")
    if cfg.gpio.pin_factory not in ("", "mock"):
        found.append(f"gpio.pin_factory = {cfg.gpio.pin_factory!r}")
    return found


def demo_problem(cfg: Config) -> str:
    """Why this config is a demo dressed as a shop's kiosk ("" if it is not): real devices with the sandbox
    gateway (fake payments) or the demo catalog.  `python -m kiosk` refuses it unless started with --demo."""
    devices = real_devices(cfg)
    demo = []
    if cfg.payment.gateway == "sandbox":
        demo.append('payment.gateway = "sandbox" takes fake payments')
    if cfg.kiosk.catalog == "demo":
        demo.append('kiosk.catalog = "demo" sells the 32 demo products')
    if not devices or not demo:
        return ""
    return (
        f"{' and '.join(demo)}, with real devices ({', '.join(devices)}): configure the store's gateway and"
        ' kiosk.catalog = "headoffice", or start with --demo to show this kiosk off ("DEMO" on its screen)'
    )


def warnings(cfg: Config) -> list[str]:
    """What is allowed but unsafe for a kiosk in a store; said at `--check` and logged at every start."""
    found = []
    m = cfg.mqtt
    if m.enabled and not m.tls and not is_loopback(m.host):
        found.append(
            f"mqtt.host: {m.host} is reached without TLS: anyone on the network can read the orders and, without "
            "broker ACLs, publish to this kiosk; set mqtt.tls = true (provisioning/mosquitto/)"
        )
    if m.enabled and not m.hq_public_key_file:
        found.append("mqtt.hq_public_key_file is not set: only `ping` is obeyed, and acks are taken unsigned")
    return found


def load(path: str | None) -> Config:
    """Load a config file; None means the simulator defaults."""
    if path is None:
        # the simulator, and only the simulator, has a known attendant PIN: 1234 (see README); the demo's bag
        return replace(Config(), attendant={"pin_hash": DEMO_PIN_HASH}, kiosk={"bag_barcode": DEMO_BAG})
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    cfg = from_dict(_with_paired(data), source=str(p))
    check_secret_files(cfg)
    return cfg


PAIRED_FILE = "paired.toml"  # in kiosk.data_dir: what pairing with head office gave this kiosk (kiosk/pairing.py)


def paired_file(cfg: Config) -> Path:
    return Path(cfg.kiosk.data_dir) / PAIRED_FILE


def needs_pairing(cfg: Config) -> bool:
    """A kiosk to be paired with head office (pairing.hq_url) that has not been yet: it shows its pairing code."""
    return bool(cfg.pairing.hq_url) and not paired_file(cfg).exists()


ENROLL_FILE = "enroll.json"  # in kiosk.data_dir: a kiosk provisioned by QR, its certificate still to come


def enrolling(cfg: Config) -> bool:
    """A kiosk provisioned by QR whose certificate head office has not given yet (kiosk/pairing.py)."""
    return (Path(cfg.kiosk.data_dir) / ENROLL_FILE).exists()


def _with_paired(data: dict[str, Any]) -> dict[str, Any]:
    """The config file's values with what pairing gave this kiosk over them (identity, broker, head office)."""
    pairing, kiosk = data.get("pairing"), data.get("kiosk", {})
    if not isinstance(pairing, dict) or not pairing.get("hq_url") or not isinstance(kiosk, dict):
        return data
    path = Path(str(kiosk.get("data_dir", KioskSection.data_dir))) / PAIRED_FILE
    try:
        paired = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read what pairing gave this kiosk ({exc}); remove it to pair again"
        ) from None
    merged = dict(data)
    for section, values in paired.items():
        base = merged.get(section, {})
        merged[section] = {**(base if isinstance(base, dict) else {}), **values}
    return merged


def replace(cfg: Config, **sections: dict[str, Any]) -> Config:
    """A copy of cfg with some keys of some sections changed (used by tests and tools)."""
    changed = {name: dataclasses.replace(getattr(cfg, name), **vals) for name, vals in sections.items()}
    return dataclasses.replace(cfg, **changed)
