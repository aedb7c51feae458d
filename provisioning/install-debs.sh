#!/usr/bin/env bash
# Install the kiosk's Debian packages: from SRC/debs/*.deb when the release bundle carries them (offline: dpkg
# installs the set at once, no network, no apt lists), else with apt-get from provisioning/pi-packages.txt.
#   provisioning/install-debs.sh SRC [--root DIR]     (--root: into another root's dpkg database, for tests)
set -euo pipefail
src=$1
shift
root=/
[ "${1:-}" = "--root" ] && root=$2
shopt -s nullglob
debs=("$src"/debs/*.deb)
shopt -u nullglob
if [ ${#debs[@]} -gt 0 ]; then
  force=()
  [ "$(id -u)" -eq 0 ] || force=(--force-not-root)
  echo "installing ${#debs[@]} packages from the release bundle (offline)"
  DEBIAN_FRONTEND=noninteractive dpkg --root="$root" "${force[@]}" --install "${debs[@]}"
  exit 0
fi
[ "$root" = / ] || { echo "install-debs: --root needs the bundle's debs/" >&2; exit 2; }
mapfile -t pkgs < <(grep -v '^#' "$src/provisioning/pi-packages.txt" | sed '/^$/d')
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
