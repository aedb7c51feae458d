#!/usr/bin/env bash
# Turn a fresh Raspberry Pi OS Lite (Bookworm) into a kiosk.  Run as root from a checkout or an unpacked release:
#   sudo provisioning/setup-pi.sh --hq https://hq.example.com [--timezone Asia/Shanghai]
# With --hq the kiosk pairs with head office at its first start (its screen shows a code to give head office) and
# no file needs editing.  Debian's packages first (offline from a bundle built with --debs), then python -m provisioning.install (see its docstring: the
# release in /opt/kiosk/releases/<version> with /opt/kiosk/current pointing at it, /etc/kiosk, the unit, the
# printer's udev rule, journald and the hardware watchdog, the user, the time zone and network time).
# Idempotent: run it again from a newer checkout to update.  KIOSK_HQ_URL and KIOSK_TIMEZONE work as before.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }

"$src/provisioning/install-debs.sh" "$src"   # the bundle's debs/ offline, else apt-get (pi-packages.txt)

args=("$@")
[ -n "${KIOSK_HQ_URL:-}" ] && args+=(--hq "$KIOSK_HQ_URL")
[ -n "${KIOSK_TIMEZONE:-}" ] && args+=(--timezone "$KIOSK_TIMEZONE")
(cd "$src" && python3 -m provisioning.install "${args[@]}")

# Secrets already in /etc/kiosk are checked (each must load) and given the owner and mode the kiosk demands:
# private keys and the MQTT password 0600 kiosk, certificates and public keys 0644 root.  Later ones:
#   sudo /opt/kiosk/current/.venv/bin/python -m provisioning.secrets install FILE...
shopt -s nullglob
secrets=(/etc/kiosk/*.key /etc/kiosk/*.pem /etc/kiosk/*.pub /etc/kiosk/*.crt /etc/kiosk/mqtt-password)
shopt -u nullglob
[ ${#secrets[@]} -eq 0 ] || /opt/kiosk/current/.venv/bin/python -m provisioning.secrets install --dir /etc/kiosk "${secrets[@]}"
echo "Self-test: sudo -u kiosk /opt/kiosk/current/.venv/bin/python -m provisioning.selftest --config /etc/kiosk/kiosk.toml"
