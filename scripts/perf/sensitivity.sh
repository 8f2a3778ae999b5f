#!/usr/bin/env bash
# How small a leak the growth detector flags within 100,000 iterations, and
# whether it ever flags the safe variant: `leaklab run sized-leak
# --detector growth` at several LEAKLAB_LEAK_BYTES, each variant REPEAT times.
# For each size: how many leaky runs were flagged (verdict), how many RSS
# alone would have flagged, how many safe runs were flagged (false
# positives), and the mean fitted slopes.
#
# Usage: scripts/perf/sensitivity.sh [iterations] [repeat] [sizes...]
#        (defaults: 100000 20 1 2 4 8 16 32 64)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
REPEAT=${2:-20}
shift 2 2>/dev/null || shift $#
SIZES=("${@:-1 2 4 8 16 32 64}")
read -r -a SIZES <<<"${SIZES[*]}"

cargo build -q --release --bin leaklab-lab
LEAKLAB=${CARGO_TARGET_DIR:-target}/release/leaklab-lab

# One run: "verdict rss_flag counters_slope rss_slope".
run() {
    LEAKLAB_LEAK_BYTES=$1 "$LEAKLAB" run sized-leak --detector growth --variant "$2" \
        --iterations "$N" --json |
        jq -r '(if type == "array" then .[] else . end) | .detail |
            "\(.verdict) \(.rss_flag) \(.counters.slope) \(.rss.slope)"'
}

echo "sized-leak, growth detector, $N iterations, $REPEAT runs per variant and size"
printf '%6s | %13s %13s %14s %14s | %13s %13s %14s\n' bytes "leaky flagged" "RSS alone" \
    "counters B/it" "RSS B/it" "safe flagged" "RSS alone" "RSS B/it"
for size in "${SIZES[@]}"; do
    leaky=$(for _ in $(seq "$REPEAT"); do run "$size" leaky; done)
    safe=$(for _ in $(seq "$REPEAT"); do run "$size" safe; done)
    summary() {
        awk '{ f += ($1 == "leak"); r += ($2 == "true"); c += $3; s += $4 }
             END { printf "%d/%d %d/%d %.1f %.1f", f, NR, r, NR, c / NR, s / NR }'
    }
    read -r lf lr lc ls <<<"$(summary <<<"$leaky")"
    read -r sf sr _ ss <<<"$(summary <<<"$safe")"
    printf '%6s | %13s %13s %14s %14s | %13s %13s %14s\n' "$size" "$lf" "$lr" "$lc" "$ls" \
        "$sf" "$sr" "$ss"
done
