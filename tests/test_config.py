"""Config: defaults, strict keys, one-line errors, the shipped example documents every key."""

import dataclasses
import tomllib

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
        ({"kiosk": {"order_prefix": "STORE1"}, "printer": {"paper_width_mm": 58}}, "kiosk.order_prefix: at most 4"),
        ({"receipt": {"mode": "pdf"}}, "receipt.mode: 'pdf' is not allowed; use one of 'raster', 'native'"),
        ({"attendant": {"pin_hash": "1234"}}, "attendant.pin_hash: not a PIN hash"),
    ],
)
def test_bad_keys_are_named(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    assert str(err.value).startswith(message), str(err.value)


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
