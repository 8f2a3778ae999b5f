#!/usr/bin/env bash
# The C allocator interposer's hot path, plain against interposed, counted
# by callgrind per iteration, on:
#   unfreed-result, libxml2-document   the lab's child (`leaklab-lab __child
#                                      SCENARIO safe c N`), built with
#                                      --features uncounted (plain) and by
#                                      default (interposer and counting
#                                      global allocator);
#   churn                              scripts/perf/hot-path.c: N times
#                                      malloc(32) + free, without and with the
#                                      preload shim (LD_PRELOAD);
#   hold                               the same program holding N 32-byte
#                                      blocks live at once, then freeing them.
# Per iteration = (Ir(N2) - Ir(N1)) / (N2 - N1): start-up and one-off costs
# cancel. Then the shim's memory per live block (resident size of `hold`
# at N = 1,000,000, shim minus plain, over N) and, unless --quick, wall
# time side by side (median of alternating runs).
#
# Usage: scripts/perf/hot-path.sh [--quick]
#   --quick   smaller N, no wall time (the CI check, check-instructions.sh)
# HOT_PATH_FIGURES=FILE also writes "name value" lines (ratios, bytes per
# block) to FILE.
set -euo pipefail
cd "$(dirname "$0")/../.."
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
if [ $QUICK = 1 ]; then
    LAB_N1=1000 LAB_N2=3000 C_N1=100000 C_N2=300000
else
    LAB_N1=5000 LAB_N2=20000 C_N1=200000 C_N2=1000000
fi
HOLD_N=1000000
TARGET=${CARGO_TARGET_DIR:-target}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
FIGURES=${HOT_PATH_FIGURES:-/dev/null}
: >"$FIGURES"

# Plain first, copied aside: the counted build puts its binary at the same
# path (cargo keeps both builds, each feature set under its own hash, so
# neither rebuilds the other).
cargo build -q --release -p leaklab-lab --bin leaklab-lab --features uncounted
cp "$TARGET/release/leaklab-lab" "$OUT/leaklab-lab-uncounted"
cargo build -q --release -p leaklab-lab --bin leaklab-lab
# The shim as cargo-leaklab embeds it (crates/cargo-leaklab/build.rs: TLS
# descriptors), in a directory of its own: other flags than the lab's.
RUSTFLAGS="-Cllvm-args=-enable-tlsdesc" cargo build -q --release -p leaklab-preload \
    --target-dir "$TARGET/perf-shim"
PLAIN=$OUT/leaklab-lab-uncounted
COUNTED=$TARGET/release/leaklab-lab
SHIM=$(realpath "$TARGET/perf-shim/release/libleaklab_preload.so")
${CC:-cc} -O2 -o "$OUT/hot-path" scripts/perf/hot-path.c
: >"$OUT/record.jsonl"

load() { cut -d' ' -f1-3 /proc/loadavg; }
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- crates scripts src 2>/dev/null || commit="$commit+changes"
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores," \
    "load $(load) at start"
echo "commit:  $commit"
echo

# Ir of one whole run, under callgrind (env: the variables to add).
ir() {
    local env=$1
    shift
    env $env valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_iteration() { awk -v a="$1" -v b="$2" -v n1="$3" -v n2="$4" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }'; }

printf '%-18s %7s %7s %11s %11s %7s %13s %13s\n' workload N1 N2 "plain Ir/it" "interp Ir/it" ratio \
    "plain Ir(N2)" "interp Ir(N2)"
row() {
    local name=$1 n1=$2 n2=$3 plain_cmd=$4 plain_env=$5 counted_cmd=$6 counted_env=$7
    local p1 p2 c1 c2 p c r
    p1=$(ir "$plain_env" ${plain_cmd//@N/$n1})
    p2=$(ir "$plain_env" ${plain_cmd//@N/$n2})
    c1=$(ir "$counted_env" ${counted_cmd//@N/$n1})
    c2=$(ir "$counted_env" ${counted_cmd//@N/$n2})
    p=$(per_iteration "$p1" "$p2" "$n1" "$n2")
    c=$(per_iteration "$c1" "$c2" "$n1" "$n2")
    r=$(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.3f", c / p }')
    printf '%-18s %7s %7s %11s %11s %7s %13s %13s\n' "$name" "$n1" "$n2" "$p" "$c" "$r" "$p2" "$c2"
    echo "$name $r" >>"$FIGURES"
}
child() { echo "$1 __child $2 safe c @N 0 $OUT/record.jsonl"; }
row unfreed-result "$LAB_N1" "$LAB_N2" "$(child "$PLAIN" unfreed-result)" "" \
    "$(child "$COUNTED" unfreed-result)" ""
row libxml2-document "$LAB_N1" "$LAB_N2" "$(child "$PLAIN" libxml2-document)" "" \
    "$(child "$COUNTED" libxml2-document)" ""
row shim-churn "$C_N1" "$C_N2" "$OUT/hot-path churn @N" "" "$OUT/hot-path churn @N" "LD_PRELOAD=$SHIM"
row shim-hold "$C_N1" "$C_N2" "$OUT/hot-path hold @N" "" "$OUT/hot-path hold @N" "LD_PRELOAD=$SHIM"

# Resident size holding HOLD_N blocks.
rss() { env $1 "$OUT/hot-path" hold "$HOLD_N" | sed -n 's/^rss_kb //p'; }
plain_kb=$(rss "")
shim_kb=$(rss "LD_PRELOAD=$SHIM")
per_block=$(awk -v p="$plain_kb" -v s="$shim_kb" -v n="$HOLD_N" 'BEGIN { printf "%.1f", (s - p) * 1024 / n }')
echo
echo "memory, $HOLD_N live 32-byte blocks: plain ${plain_kb} kB, shim ${shim_kb} kB resident:" \
    "$per_block B per live block over plain"
echo "shim-bytes-per-block $per_block" >>"$FIGURES"

if [ $QUICK = 0 ]; then
    RUNS=7
    # Milliseconds of one run.
    ms() {
        local env=$1 t0 t1
        shift
        t0=$(date +%s%N)
        env $env "$@" >/dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
    }
    median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    echo
    echo "wall time, median of $RUNS alternating runs (ms):"
    printf '%-26s %9s %9s %7s\n' workload plain interp ratio
    wall() {
        local name=$1 plain_cmd=$2 counted_cmd=$3 counted_env=$4 i
        : >"$OUT/p"
        : >"$OUT/c"
        for i in $(seq $RUNS); do
            ms "" $plain_cmd >>"$OUT/p"
            ms "$counted_env" $counted_cmd >>"$OUT/c"
        done
        local p c
        p=$(median <"$OUT/p")
        c=$(median <"$OUT/c")
        printf '%-26s %9s %9s %7s\n' "$name" "$p" "$c" "$(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.2f", c / p }')"
    }
    wall "unfreed-result 100000" "$(child "$PLAIN" unfreed-result | sed 's/@N/100000/')" \
        "$(child "$COUNTED" unfreed-result | sed 's/@N/100000/')" ""
    wall "libxml2-document 100000" "$(child "$PLAIN" libxml2-document | sed 's/@N/100000/')" \
        "$(child "$COUNTED" libxml2-document | sed 's/@N/100000/')" ""
    wall "shim-churn 10000000" "$OUT/hot-path churn 10000000" "$OUT/hot-path churn 10000000" "LD_PRELOAD=$SHIM"
    wall "shim-hold 1000000" "$OUT/hot-path hold 1000000" "$OUT/hot-path hold 1000000" "LD_PRELOAD=$SHIM"
fi
echo
echo "load $(load) at end"
