#!/usr/bin/env bash
# The benchmark of issue 9 in one command: bench_load.py, cpu_parallel.py, then report.py.
#
#   scripts/bench.sh [--out DIR] [--quick] [--no-cpu-parallel] [bench_load.py options...]
#
# --out DIR          results (JSON, markdown, logs) go to DIR (default benchmarks/results); on the
#                    GPU machine use $OUT, then copy the files into benchmarks/results here.
# --quick            small sizes (--sizes 50,100 --series-files 40 --native-files 200): proves it
#                    works on a machine without a GPU in about 4 minutes.
# --no-cpu-parallel  skip benchmarks/cpu_parallel.py.
# Anything else goes to bench_load.py (e.g. --parts scaling,memory).
# PYTHON picks the interpreter (default python3). When DIR is benchmarks/results, report.py also
# rewrites the table in benchmarks/README.md (and in README.md where it has the markers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
out="$root/benchmarks/results"
cpu_parallel=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --quick) extra+=(--sizes 50,100 --series-files 40 --native-files 200 --thread-repeat 5 --import-repeat 2); shift ;;
    --no-cpu-parallel) cpu_parallel=0; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
mkdir -p "$out"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" PYNVIMGCODEC_VERBOSITY=${PYNVIMGCODEC_VERBOSITY:-1}
start=$(date +%s)
"$py" "$root/benchmarks/bench_load.py" --out "$out" "${extra[@]}" 2>&1 | tee "$out/bench_load.log"
if [ "$cpu_parallel" = 1 ]; then
  cores=$(nproc 2>/dev/null || echo 2)
  workers=2; frames=24
  [ "$cores" -ge 8 ] && workers=8 && frames=32   # the GPU machine: how far do threads/processes go?
  "$py" "$root/benchmarks/cpu_parallel.py" --out "$out" --workers "$workers" --frames "$frames" \
    > "$out/cpu_parallel.log" 2>&1 \
    || echo "cpu_parallel.py failed: see $out/cpu_parallel.log"
  tail -n 40 "$out/cpu_parallel.log" | sed -n '/^# CPU codecs/,$p'
fi
write=()
[ "$(cd "$out" && pwd)" = "$root/benchmarks/results" ] && write=(--write)
"$py" "$root/benchmarks/report.py" --results "$out" --output "$out/bench-table.md" "${write[@]}" > /dev/null
echo "bench.sh: $(( $(date +%s) - start )) s; table in $out/bench-table.md"
# The short table last (the summary of the newest load results).
awk '/^## Summary/{p=1} /^## Scaling/{p=0} p' "$(ls -t "$out"/*-load.md | head -1)"
