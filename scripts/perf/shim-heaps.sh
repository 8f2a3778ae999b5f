#!/usr/bin/env bash
# The preload shim's CPU cost on small and large live heaps, plain against
# LD_PRELOAD, alternating runs, median CPU (user + system, GNU time) of
# each and the ratio (BENCHMARKS.md section 2, the side table's order):
#   hold     scripts/perf/hot-path.c: 1,000,000 live 32-byte blocks, then freed;
#   python   PYTHONMALLOC=malloc python3 building 1,000,000 strings and a
#            300,000-entry dict (about 1.3 M live blocks);
#   blocks   scripts/perf/many-blocks.c 50000: 5 M allocations, ~4 k live;
#   churn    hot-path.c: 10,000,000 times malloc(32) + free.
# Run it at two commits to compare tables: the shim is built from this
# checkout as hot-path.sh builds it.
#
# Usage: scripts/perf/shim-heaps.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
RUSTFLAGS="-Cllvm-args=-enable-tlsdesc" cargo build -q --release -p leaklab-preload \
    --target-dir "$TARGET/perf-shim"
SHIM=$(realpath "$TARGET/perf-shim/release/libleaklab_preload.so")
${CC:-cc} -O2 -o "$OUT/hot-path" scripts/perf/hot-path.c
${CC:-cc} -O2 -o "$OUT/many-blocks" scripts/perf/many-blocks.c
PY=$(python3 -c 'import sys; print(sys.executable)')
cat >"$OUT/million.py" <<'PY'
x = [str(i) * 2 for i in range(1_000_000)]
d = {i: (i, i + 1) for i in range(300_000)}
del x, d
PY

echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
# CPU seconds (user + system) of one run.
cpu() {
    /usr/bin/time -f '%U %S' -o "$OUT/t" env "$@" >/dev/null 2>&1
    awk '{ printf "%.3f\n", $1 + $2 }' "$OUT/t"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-8s %9s %9s %7s\n' workload plain shim ratio
row() {
    local name=$1 i
    shift
    : >"$OUT/p"
    : >"$OUT/s"
    for i in $(seq "$RUNS"); do
        cpu PYTHONMALLOC=malloc "$@" >>"$OUT/p"
        cpu PYTHONMALLOC=malloc LD_PRELOAD="$SHIM" "$@" >>"$OUT/s"
    done
    local p s
    p=$(median <"$OUT/p")
    s=$(median <"$OUT/s")
    printf '%-8s %9s %9s %7s\n' "$name" "$p" "$s" "$(awk -v p="$p" -v s="$s" 'BEGIN { printf "%.2f", s / p }')"
}
row hold "$OUT/hot-path" hold 1000000
row python "$PY" "$OUT/million.py"
row blocks "$OUT/many-blocks" 50000
row churn "$OUT/hot-path" churn 10000000
