#!/usr/bin/env bash
# Turn a fresh Raspberry Pi OS Lite (Bookworm) into a kiosk.  Run as root from a checkout:
#   sudo KIOSK_HQ_URL=https://hq.example.com provisioning/setup-pi.sh
#        (KIOSK_TIMEZONE=Asia/Shanghai by default; with KIOSK_HQ_URL the kiosk pairs with head office at its first
#         start: its screen shows a code to give head office, and no ids or broker need editing)
# Idempotent: run it again after `git pull` to update.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }

id kiosk >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/kiosk --shell /usr/sbin/nologin kiosk
for g in video render input dialout gpio lp plugdev; do getent group "$g" >/dev/null && usermod -aG "$g" kiosk; done

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  git make python3-venv python3-pygame python3-lgpio libzbar0 fonts-wqy-microhei fontconfig

mkdir -p /opt/kiosk
rsync -a --delete --exclude .venv --exclude data --exclude .git "$src"/ /opt/kiosk/ 2>/dev/null \
  || cp -a "$src"/. /opt/kiosk/
# what head office sees as this kiosk's firmware (birth): the release and the commit installed
(git -C "$src" describe --always --dirty --abbrev=10 2>/dev/null | sed 's/^/0.1.0+/' || echo 0.1.0) > /opt/kiosk/VERSION
make -C /opt/kiosk deps

# Config and secrets: the config is readable by the kiosk; keys and passwords only by the kiosk user.
install -d -m 0750 -o root -g kiosk /etc/kiosk
[ -f /etc/kiosk/kiosk.toml ] || install -m 0640 -o root -g kiosk /opt/kiosk/kiosk.example.toml /etc/kiosk/kiosk.toml
# Secrets already in /etc/kiosk are checked (each must load) and given the owner and mode the kiosk demands:
# private keys and the MQTT password 0600 kiosk, certificates and public keys 0644 root.  Later ones:
#   sudo /opt/kiosk/.venv/bin/python -m provisioning.secrets install FILE...
shopt -s nullglob
secrets=(/etc/kiosk/*.key /etc/kiosk/*.pem /etc/kiosk/*.pub /etc/kiosk/*.crt /etc/kiosk/mqtt-password)
shopt -u nullglob
[ ${#secrets[@]} -eq 0 ] || /opt/kiosk/.venv/bin/python -m provisioning.secrets install --dir /etc/kiosk "${secrets[@]}"
install -d -m 0750 -o kiosk -g kiosk /var/lib/kiosk
sed -i 's|^data_dir = .*|data_dir = "/var/lib/kiosk"             # set by setup-pi.sh|' /etc/kiosk/kiosk.toml
if [ -n "${KIOSK_HQ_URL:-}" ]; then
  sed -i "s|^hq_url = \"\" .*|hq_url = \"${KIOSK_HQ_URL}\"   # set by setup-pi.sh: pair with head office|" /etc/kiosk/kiosk.toml
fi

# Time: the store's time zone (business days, the Z report) and network time before the kiosk starts selling
timedatectl set-timezone "${KIOSK_TIMEZONE:-Asia/Shanghai}" || true
systemctl enable --now systemd-timesyncd.service systemd-time-wait-sync.service 2>/dev/null || true

install -m 0644 /opt/kiosk/provisioning/99-kiosk-printer.rules /etc/udev/rules.d/
udevadm control --reload-rules && udevadm trigger || true
install -m 0644 /opt/kiosk/systemd/kiosk.service /etc/systemd/system/kiosk.service
systemctl daemon-reload
systemctl enable kiosk.service
if [ -n "${KIOSK_HQ_URL:-}" ]; then
  echo "Run the self-test, then: systemctl start kiosk; its screen shows a pairing code for head office:"
  echo "  python -m headoffice pair CODE --store STORE --kiosk KIOSK   (sudo cat /var/lib/kiosk/pairing-code)"
else
  echo "Edit /etc/kiosk/kiosk.toml, run the self-test, then: systemctl start kiosk"
fi
echo "  sudo -u kiosk /opt/kiosk/.venv/bin/python -m provisioning.selftest --config /etc/kiosk/kiosk.toml"
