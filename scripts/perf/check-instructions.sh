#!/usr/bin/env bash
# CI check of the interposer's cost: runs scripts/perf/hot-path.sh --quick
# and fails if an interposed/plain instruction ratio, or the shim's bytes
# per live block, exceeds the figure recorded below by more than its
# tolerance. Instruction counts (callgrind) do not depend on the machine's
# load, so the tolerance only covers toolchain and glibc drift.
#
# Recorded: BENCHMARKS.md section 2 (hot-path.sh --quick at the commit it
# names). When a change makes the hot path cheaper, lower the figures here
# to what the script now prints, so that the gain is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

# name  recorded  tolerance (absolute, same unit)
LIMITS="
unfreed-result        1.351 0.03
libxml2-document      1.567 0.03
shim-churn            3.823 0.10
shim-hold             3.800 0.10
shim-bytes-per-block  17.2  2.0
"

FIGURES=$(mktemp)
trap 'rm -f "$FIGURES"' EXIT
HOT_PATH_FIGURES=$FIGURES scripts/perf/hot-path.sh --quick

fail=0
echo
printf '%-22s %9s %9s %9s  %s\n' figure measured recorded limit verdict
while read -r name recorded tolerance; do
    [ -n "$name" ] || continue
    measured=$(awk -v n="$name" '$1 == n { print $2 }' "$FIGURES")
    [ -n "$measured" ] || { echo "$name: not measured" >&2; fail=1; continue; }
    limit=$(awk -v r="$recorded" -v t="$tolerance" 'BEGIN { print r + t }')
    if awk -v m="$measured" -v l="$limit" 'BEGIN { exit !(m > l) }'; then
        verdict="FAIL: above the recorded figure by more than $tolerance"
        fail=1
    else
        verdict=ok
    fi
    printf '%-22s %9s %9s %9s  %s\n' "$name" "$measured" "$recorded" "$limit" "$verdict"
done <<<"$LIMITS"
exit $fail
