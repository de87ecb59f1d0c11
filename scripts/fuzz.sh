#!/usr/bin/env bash
# Set up (scripts/setup.sh --testing) and run the full fuzz corpus: over 1,000 damaged DICOM files
# made from real test files, each through decode(path, backend="cpu") and through the napari
# reader, in watched worker processes (timeout, memory limit, crash isolation). Prints a table per
# mutation kind and outcome, and every failed run; exits non-zero when any run failed.
# Extra arguments go to `python -m tests.fuzz` (--workers N, --seed N, --quick, --json PATH, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --testing
export PYNVIMGCODEC_VERBOSITY=1
exec .venv/bin/python -m tests.fuzz "$@"
