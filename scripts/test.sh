#!/usr/bin/env bash
# Set up (scripts/setup.sh --testing) and run the whole test suite in a real napari window under
# Xvfb + Mesa. GPU tests skip cleanly without a GPU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --testing
export PYNVIMGCODEC_VERBOSITY=1 LIBGL_ALWAYS_SOFTWARE=1
.venv/bin/ruff check src tests benchmarks
set +e
xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
# pytest exits 5 when no test was collected: that is not a failure of the code under test.
if [ "$status" -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi
exit "$status"
