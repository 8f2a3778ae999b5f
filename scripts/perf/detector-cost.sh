#!/usr/bin/env bash
# What each detector costs on one workload, side by side: the same child
# (`leaklab __child`, what every detector runs) doing the same iterations
#   plain     built with --features uncounted: no counting global allocator
#             and no C allocator interposer, no samples;
#   counters  the default build, no samples (the counters detector's child:
#             the interposer counts every C allocation, the global
#             allocator every Rust one);
#   growth    the default build, sampling heaps + RSS 50 times (the growth
#             detector's child: sample_every = N / 50);
#   valgrind  the default build under memcheck with the valgrind detector's
#             options (XML, full leak check, the lab's suppressions);
#   heaptrack the plain build under heaptrack (Debian package heaptrack,
#             installed here if missing), which records every allocation with
#             its stack. Plain, because the default build exports malloc
#             itself and heaptrack's LD_PRELOAD malloc would see nothing.
# Release builds. hyperfine if installed, else a `date +%s%N` loop.
#
# Usage: scripts/perf/detector-cost.sh [scenario] [iterations] [runs] [valgrind-runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO=${1:-unfreed-result}
N=${2:-500000}
RUNS=${3:-10}
VG_RUNS=${4:-3}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

command -v heaptrack >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq heaptrack >/dev/null
}
cargo build -q --release --bin leaklab-lab
cargo build -q --release --bin leaklab-lab --features uncounted --target-dir "$TARGET/perf-uncounted"
COUNTED=$TARGET/release/leaklab-lab
PLAIN=$TARGET/perf-uncounted/release/leaklab-lab

# The child writes into a record file its parent made (it never creates one).
: >"$OUT/record.jsonl"
child() { echo "$1 __child $SCENARIO safe c $N $2 $OUT/record.jsonl"; }
VALGRIND="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all \
--errors-for-leak-kinds=definite,indirect --xml=yes --xml-file=$OUT/memcheck.xml \
--suppressions=crates/cargo-leaklab/valgrind/rust-runtime.supp --num-callers=40 --soname-synonyms=somalloc=NONE"
HEAPTRACK="heaptrack -o $OUT/heaptrack"

NAMES=(plain counters growth valgrind heaptrack)
CMDS=("$(child "$PLAIN" 0)" "$(child "$COUNTED" 0)" "$(child "$COUNTED" $((N / 50)))"
    "$VALGRIND $(child "$COUNTED" 0)" "$HEAPTRACK $(child "$PLAIN" 0)")

# Mean and standard deviation (seconds) of command $2, run $3 times after
# $4 warm-up runs, into $OUT/$1.
measure() {
    local name=$1 cmd=$2 runs=$3 warmup=$4
    if command -v hyperfine >/dev/null; then
        hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
            --export-json "$OUT/$name.json" "$cmd" >/dev/null
        jq -r '.results[0] | "\(.mean) \(.stddev)"' "$OUT/$name.json" >"$OUT/$name"
    else
        for _ in $(seq "$warmup"); do $cmd >/dev/null; done
        for _ in $(seq "$runs"); do
            local t0=$(date +%s%N)
            $cmd >/dev/null
            echo $(($(date +%s%N) - t0))
        done | awk '{ s += $1 / 1e9; q += ($1 / 1e9) ^ 2 } END {
            m = s / NR; printf "%.6f %.6f\n", m, sqrt(q / NR - m * m) }' >"$OUT/$name"
    fi
}

for i in 0 1 2; do
    measure "${NAMES[$i]}" "${CMDS[$i]}" "$RUNS" 1
done
measure valgrind "${CMDS[3]}" "$VG_RUNS" 0
measure heaptrack "${CMDS[4]}" "$VG_RUNS" 0

echo "$SCENARIO, safe variant, $N iterations, release; runs: $RUNS (valgrind, heaptrack: $VG_RUNS)"
printf '%-10s %12s %10s %10s\n' detector "mean (s)" "sd (s)" "x plain"
read -r base _ <"$OUT/plain"
for name in "${NAMES[@]}"; do
    read -r mean sd <"$OUT/$name"
    awk -v n="$name" -v m="$mean" -v s="$sd" -v b="$base" \
        'BEGIN { printf "%-10s %12.3f %10.3f %10.2f\n", n, m, s, m / b }'
done
