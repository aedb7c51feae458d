#!/usr/bin/env bash
# Install the Debian / Raspberry Pi OS packages the kiosk needs, if they are missing.
# Used by `make run` and `make test` (--dev: the tests' extra packages); runs apt-get as root, or through sudo.
set -euo pipefail

pkgs=(libzbar0 libusb-1.0-0 mosquitto fonts-wqy-microhei fontconfig)
# --dev: what the tests and benchmarks need besides (head office's storage tests run on a real PostgreSQL too;
# the UI's frame figure is also taken under Xvfb, and screen tests click with xdotool; systemd-analyze checks
# the unit's hardening; the web console's tests drive Debian's Chromium with Selenium)
[ "${1:-}" = "--dev" ] && pkgs=(postgresql xvfb xdotool systemd chromium chromium-driver)
python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs+=(python3-venv)
if grep -qs "Raspberry Pi" /proc/device-tree/model; then
  pkgs+=(python3-pygame python3-lgpio)   # system SDL with the KMS/DRM driver; lgpio pins
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-system-deps: not a Debian system; install these yourself: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-system-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
