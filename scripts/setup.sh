#!/usr/bin/env bash
# Set up everything napari-dicom-gpu needs on a fresh Debian/Ubuntu machine, idempotently:
# system libraries for a Qt/OpenGL window (and Xvfb + Mesa for headless runs), a virtual
# environment in .venv, and the plugin installed in it (editable) with PyQt6.
# Usage: scripts/setup.sh [--testing]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--testing" ] && extras="[testing]"

need_apt=()
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
for pkg in libgl1-mesa-dri libgl1 libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
           libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
           libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1 python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing system packages: ${need_apt[*]}"
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}" PyQt6
  touch "$stamp"
fi
