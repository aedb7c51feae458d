"""Config: defaults, strict keys, one-line errors, the shipped example documents every key."""

import dataclasses
import tomllib
from pathlib import Path

import pygame
import pytest

from kiosk.config import Config, ConfigError, from_dict, load
from tests.conftest import REPO, kiosk_cli


def test_no_file_means_simulator_defaults():
    cfg = load(None)
    assert cfg.scanner.type == "simulated" and cfg.camera.type == "simulated" and cfg.printer.type == "simulated"
    assert cfg.payment.gateway == "sandbox" and cfg.screen_size == (800, 480)
    assert cfg.topic_prefix == "kiosk/v1/demo-store/kiosk-01/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scanner": {"baud": 9600}}, "scanner.baud: unknown key"),
        ({"scaner": {}}, "[scaner]: unknown section"),
        ({"scanner": {"baudrate": "fast"}}, "scanner.baudrate: expected a whole number"),
        ({"printer": {"paper_width_mm": 70}}, "printer.paper_width_mm: 70 is not allowed; use one of 58, 80"),
        ({"display": {"size": "640x480"}}, "display.size: '640x480' is not allowed"),
        ({"mqtt": {"port": 70000}}, "mqtt.port: 70000 is too large"),
        ({"gpio": {"enabled": "yes"}}, "gpio.enabled: expected true or false"),
        ({"kiosk": {"store_id": "My Store"}}, "kiosk.store_id: use 1-32 lowercase"),
        ({"mqtt": {"tls": True}}, "mqtt.ca_file: needed when mqtt.tls = true"),
        ({"receipt": {"url": "https://x/r"}}, "receipt.url: must contain {order_no}"),
        ({"receipt": {"mode": "pdf"}}, "receipt.mode: 'pdf' is not allowed; use one of 'raster', 'native'"),
        ({"attendant": {"pin_hash": "1234"}}, "attendant.pin_hash: not a PIN hash"),
        ({"receipt": {"store_name": {"chinese": "店"}}}, "receipt.store_name.chinese: not a language code"),
        ({"receipt": {"footer": {"en": 3}}}, "receipt.footer.en: expected a string, got 3"),
        ({"receipt": {"store_name": {}}}, "receipt.store_name: an empty table"),
        ({"receipt": {"tax_id": {"en": "x"}}}, "receipt.tax_id: expected a string"),
    ],
)
def test_bad_keys_are_named(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    assert str(err.value).startswith(message), str(err.value)


def test_store_texts_may_be_given_per_language():
    from kiosk.config import in_language

    r = from_dict({"receipt": {"store_name": {"zh_CN": "示范便利店", "en": "Demo Store"}, "footer": "Thanks"}}).receipt
    assert in_language(r.store_name, "en") == "Demo Store" and in_language(r.store_name, "zh_TW") == "示范便利店"
    assert in_language(r.store_name, "ko") == "示范便利店" == str(r.store_name)  # the first, where none matches
    assert in_language(r.footer, "en") == "Thanks"
    one, other = (from_dict({"receipt": {"store_name": {"zh_CN": "示范便利店", "en": en}}}) for en in ("A", "B"))
    assert repr(one) != repr(other)  # the config's digest (in birth) sees a change in any language


def test_cli_reports_a_bad_key_in_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[printer]\ntype = "laser"\n')
    run = kiosk_cli("--config", str(bad))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "config error: printer.type: 'laser' is not allowed; use one of 'usb', 'serial', 'network', 'file', "
        "'simulated', 'none'"
    ]
    assert "Traceback" not in run.stderr


def test_cli_reports_invalid_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[printer\n")
    run = kiosk_cli("--config", str(bad), "--check")
    assert run.returncode == 2 and "not valid TOML" in run.stderr and "Traceback" not in run.stderr


def test_example_config_documents_every_key_and_loads():
    example = REPO / "kiosk.example.toml"
    data = tomllib.loads(example.read_text())
    for f in dataclasses.fields(Config):
        if f.name == "source":
            continue
        section = getattr(Config, f.name)
        for key in dataclasses.fields(section):
            assert key.name in data.get(f.name, {}), f"{f.name}.{key.name} missing from kiosk.example.toml"
    cfg = from_dict(data)  # keys and values; the secret files it names exist only on a provisioned kiosk
    assert cfg.scanner.type == "serial" and cfg.mqtt.tls


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", ["attendant.lockout_s", "payment.recovery_interval_s", "camera.read_timeout_s"])
def test_nan_and_infinity_are_refused_for_every_float(tmp_path, key, value):
    section, name = key.split(".")
    path = tmp_path / "k.toml"
    path.write_text(f"[{section}]\n{name} = {value}\n")
    with pytest.raises(ConfigError, match=f"{key}: .* is not a number"):
        load(str(path))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost.attacker.example/gateway.do",
        "http://127.0.0.1@attacker.example/gateway.do",
        "http://127.0.0.1.attacker.example/",
        "https://user@openapi.alipay.com/gateway.do",
        "ftp://127.0.0.1/",
        "http://10.0.0.5/gateway.do",
    ],
)
def test_gateway_urls_are_https_or_this_machine_only(url):
    with pytest.raises(ConfigError, match="alipay.gateway_url"):
        from_dict(
            {
                "payment": {"gateway": "alipay"},
                "alipay": {
                    "app_id": "1",
                    "app_private_key_file": "a",
                    "alipay_public_key_file": "b",
                    "gateway_url": url,
                },
            }
        )


@pytest.mark.parametrize("url", ["https://openapi.alipay.com/gateway.do", "http://127.0.0.1:8080/g", "http://[::1]:9/"])
def test_gateway_urls_that_are_fine(url):
    from_dict(
        {
            "payment": {"gateway": "alipay"},
            "alipay": {"app_id": "1", "app_private_key_file": "a", "alipay_public_key_file": "b", "gateway_url": url},
        }
    )


@pytest.mark.parametrize(
    "url", ["https://r.example/{order_no}/{lang}", "https://r.example/{order_no}/{", "https://r/{0}{order_no}"]
)
def test_a_receipt_url_that_cannot_be_filled_in_is_refused(url):
    with pytest.raises(ConfigError, match="receipt.url: cannot be filled in"):
        from_dict({"receipt": {"url": url}})


@pytest.mark.parametrize("key", ["mqtt.ca_file", "alipay.alipay_public_key_file", "mqtt.hq_public_key_file"])
def test_trusted_files_writable_by_others_are_refused(tmp_path, key):
    section, name = key.split(".")
    trusted = tmp_path / "trusted.pem"
    trusted.write_text("-----BEGIN PUBLIC KEY-----\n")
    trusted.chmod(0o666)
    path = tmp_path / "k.toml"
    path.write_text(f'[{section}]\n{name} = "{trusted}"\n')
    with pytest.raises(ConfigError, match=f"{key}: .* is writable by others .*chmod go-w"):
        load(str(path))
    trusted.chmod(0o644)
    load(str(path))


@pytest.mark.parametrize("font", ["garbage", "no-cjk", "missing"])
def test_check_refuses_a_missing_or_garbage_font(tmp_path, font):
    path = {
        "garbage": tmp_path / "f.ttf",
        "no-cjk": Path(pygame.__file__).parent / "freesansbold.ttf",  # Latin only
        "missing": tmp_path / "none.ttf",
    }[font]
    if font == "garbage":
        path.write_bytes(b"\0\1\0\0 not really a font" * 20)
    assert Path(path).exists() or font == "missing"
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[display]\nfont = "{path}"\n[kiosk]\ndata_dir = "{tmp_path / "data"}"\n')
    for args in (("--check",), ()):
        run = kiosk_cli("--config", str(cfg), *args)
        assert run.returncode == 2, run.stderr
        assert "display.font:" in run.stderr and str(path) in run.stderr and "Traceback" not in run.stderr
