#!/usr/bin/env bash
# Download the Debian packages a kiosk needs (provisioning/pi-packages.txt) and every one they depend on that a
# fresh Raspberry Pi OS Lite lacks, into DIR, for an offline release bundle:
#   sudo provisioning/fetch-debs.sh DIR          (on a freshly flashed Pi of the kiosks' OS release, with network)
#   python -m provisioning.release build OUT --key hq.key --wheels --debs DIR
# apt-get's own resolver chooses the files (--download-only into an empty cache), so the set is what that Pi
# would have installed; run it again for each new OS release.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
mapfile -t pkgs < <(grep -v '^#' "$(dirname "$0")/pi-packages.txt" | sed '/^$/d')
apt-get update -qq
mkdir -p "$out/partial"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends \
  -o Dir::Cache::archives="$out" "${pkgs[@]}"
rm -rf "$out/partial" "$out/lock"
ls "$out"/*.deb | wc -l | xargs echo "packages in $out:"
