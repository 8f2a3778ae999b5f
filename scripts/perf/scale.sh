#!/usr/bin/env bash
# Memory against iterations, 1,000 to 1,000,000: each variant of a few
# scenarios through the growth detector (`leaklab run --detector growth`,
# 50 samples of RSS and the counters per run). Per run: peak RSS (the
# largest sampled), the fitted RSS and counters slopes, and for leaky runs
# both slopes against the declared leak per iteration (`leaklab list`).
# Safe variants should keep a flat peak; leaky ones grow by the declared
# bytes (the counters count requested bytes; RSS also pays each block's
# allocator overhead: malloc's chunk header
# and 16-byte rounding).
#
# Usage: scripts/perf/scale.sh [scenarios...]
#        (default: unfreed-result cstring-into-raw sized-leak)
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIOS=("${@:-unfreed-result cstring-into-raw sized-leak}")
read -r -a SCENARIOS <<<"${SCENARIOS[*]}"
COUNTS=(1000 10000 100000 1000000)

cargo build -q --release --bin leaklab-lab
LEAKLAB=${CARGO_TARGET_DIR:-target}/release/leaklab-lab

declared() {
    "$LEAKLAB" list --json | jq -r --arg id "$1" '.[] | select(.id == $id) |
        .expected_per_iteration.leaky | (.c.bytes // 0) + (.rust.bytes // 0)'
}

printf '%-17s %-6s %9s %11s %11s %11s %9s %9s\n' scenario variant iters \
    "peak RSS" "RSS B/it" "ctr B/it" "RSS/decl" "ctr/decl"
for scenario in "${SCENARIOS[@]}"; do
    decl=$(declared "$scenario")
    for variant in safe leaky; do
        for n in "${COUNTS[@]}"; do
            "$LEAKLAB" run "$scenario" --detector growth --variant "$variant" \
                --iterations "$n" --mem-cap 8G --time-limit 600 --json |
                jq -r '(if type == "array" then .[] else . end) | .detail |
                    "\([.samples[].rss_bytes] | max) \(.rss.slope) \(.counters.slope)"' |
                awk -v s="$scenario" -v v="$variant" -v n="$n" -v d="$decl" '{
                    r = (v == "leaky" && d > 0) ? sprintf("%.3f", $2 / d) : "-";
                    c = (v == "leaky" && d > 0) ? sprintf("%.3f", $3 / d) : "-";
                    printf "%-17s %-6s %9d %9.1fMi %11.1f %11.1f %9s %9s\n",
                        s, v, n, $1 / 1048576, $2, $3, r, c }'
        done
    done
done
echo "declared B/iter: $(for s in "${SCENARIOS[@]}"; do printf '%s=%s ' "$s" "$(declared "$s")"; done)"
