#!/usr/bin/env bash
# Instructions per operation, counted by callgrind: the safe binding against
# the raw sys baseline, the pure backend against the C one.
#
# Each op is one #[inline(never)] `measured_<op>` function (benches/common);
# callgrind collects only inside it (--toggle-collect) and the op runs at
# two N, so per-op = (Ir(N2) - Ir(N1)) / (N2 - N1): setup is never
# collected, and one-off costs inside the op (first-call symbol binding,
# heap growth) cancel in the difference.
#
# Usage: scripts/perf/callgrind.sh [N1 N2]     (default 1000 3000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${1:-1000}
N2=${2:-3000}

BIN=$(cargo bench --bench callgrind_ops --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*callgrind_ops-[0-9a-f]*\)).*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "callgrind_ops binary not found" >&2; exit 1; }

# Ir collected inside measured_<op> over n runs of op.
collected() {
    local op=$1 n=$2 fn="measured_${1//-/_}"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --collect-atstart=no --toggle-collect="*::$fn" "$BIN" "$op" "$n" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

declare -A IR
printf '%-14s %12s %12s %10s\n' op "Ir(N=$N1)" "Ir(N=$N2)" Ir/op
for op in $("$BIN" list); do
    a=$(collected "$op" "$N1")
    b=$(collected "$op" "$N2")
    IR[$op]=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
    printf '%-14s %12s %12s %10s\n' "$op" "$a" "$b" "${IR[$op]}"
done

ratio() { awk -v x="${IR[$1]}" -v y="${IR[$2]}" 'BEGIN { printf "%.3f", x / y }'; }
echo
printf '%-34s %8s\n' comparison ratio
for pair in connect-safe:connect-raw query-safe:query-raw fetch-safe:fetch-raw fetch-row-safe:fetch-row-raw \
    free-safe:free-raw connect-pure:connect-safe execute-pure:execute-c; do
    printf '%-34s %8s\n' "${pair%%:*} / ${pair##*:}" "$(ratio "${pair%%:*}" "${pair##*:}")"
done
