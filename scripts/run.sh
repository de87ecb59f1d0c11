#!/usr/bin/env bash
# Set up (scripts/setup.sh) and open napari with the plugin's dock widget on a DICOM path, or on
# the embedded ultrasound sample when no path is given.  Usage: scripts/run.sh [PATH ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: running napari under Xvfb (set DISPLAY to see the window)."
  exec xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/napari-dicom-gpu view "$@"
fi
exec .venv/bin/napari-dicom-gpu view "$@"
