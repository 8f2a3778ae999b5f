#!/usr/bin/env bash
# What naming a handful of stack frames costs, on a big test binary: the
# symbolizer `leaklab::check` and watch use, answered by binutils'
# `addr2line` (the default outside leaklab's CLI) and by leaklab's own
# `__addr2line` (the `addr2line` crate, which `cargo leaklab` and
# `leaklab watch` name in LEAKLAB_ADDR2LINE), and llvm-addr2line where
# installed, side by side: wall, CPU and peak memory of one server answering
# the same addresses, the median of RUNS runs each, taken in turn.
# Then the same for the C library: functions it does not export, which
# only its separate debug file names (/usr/lib/debug, Debian's libc6-dbg;
# skipped, and said, where it is absent).
#
#   scripts/perf/symbolize.sh [BINARY] [ADDRESSES]
#
# BINARY: default the lab's biggest test binary (built here with
# `cargo test --no-run`). ADDRESSES: how many of its functions (default 5,
# spread through its symbol table; functions of the lab's own code, which
# have debug information). CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
count=${2:-5}
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p cargo-leaklab
leaklab=$target/release/leaklab
binary=${1:-}
if [ -z "$binary" ]; then
    cargo test -q --no-run -p leaklab-lab 2>/dev/null
    binary=$(find "$target"/debug/deps -maxdepth 1 -type f -executable ! -name '*.so' -printf '%s %p\n' |
        sort -rn | head -1 | cut -d' ' -f2)
fi
# COUNT addresses of nm's lines (address type name) matching TYPE and NAME,
# spread through them.
spread() {
    nm --defined-only "$1" | awk -v t="$2" -v m="$3" '$2 ~ t && $3 ~ m { print "0x" $1 }' |
        awk -v n="$count" '{ a[NR] = $0 } END { for (i = 1; i <= n; i++) print a[int(i * NR / (n + 1))] }'
}
addresses=$(spread "$binary" '^[tT]$' leaklab)

echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "commit:  $(git rev-parse --short HEAD)"

tools=("binutils addr2line|addr2line" "leaklab __addr2line|$leaklab __addr2line")
command -v llvm-addr2line >/dev/null && tools+=("llvm-addr2line|llvm-addr2line")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Each tool as a server on FILE answering ADDRESSES, RUNS times in turn;
# the medians.
measure() {
    local binary=$1 question
    question=$(printf '%s\n0xffffffffffffffff\n' "$2")
    rm -f "$out"/*
    for i in $(seq "$RUNS"); do
        for t in "${tools[@]}"; do
            name=${t%%|*}
            cmd=${t#*|}
            /usr/bin/time -f '%e %U %S %M' -o "$out/t" $cmd -a -f -i -C -e "$binary" <<<"$question" >"$out/answer"
            cat "$out/t" >>"$out/${name// /_}"
            # The addresses whose first frame has a function's name.
            named=$(awk 'prev ~ /^0x/ && prev != "0xffffffffffffffff" && $0 != "??" { n++ } { prev = $0 } END { print n + 0 }' "$out/answer")
            echo "$named" >"$out/${name// /_}.named"
        done
    done
    printf '%-22s %9s %9s %11s %8s\n' tool "wall ms" "CPU ms" "peak MiB" named
    for t in "${tools[@]}"; do
        name=${t%%|*}
        f="$out/${name// /_}"
        wall=$(awk '{ print $1 * 1000 }' "$f" | median)
        cpu=$(awk '{ print ($2 + $3) * 1000 }' "$f" | median)
        mem=$(awk '{ printf "%.0f\n", $4 / 1024 }' "$f" | median)
        printf '%-22s %9s %9s %11s %8s\n' "$name" "$wall" "$cpu" "$mem" "$(cat "$f.named")/$count"
    done
    echo
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "binary:  $binary ($(($(stat -c %s "$binary") / 1048576)) MiB), $count addresses"
measure "$binary" "$addresses"

# The C library leaklab runs with, and its separate debug file by build-id.
libc=$(ldd "$leaklab" | awk '$1 ~ /^libc\.so/ { print $3 }')
id=$(readelf -n "$libc" 2>/dev/null | awk '/Build ID:/ { print $3 }')
debug=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
if [ -n "$id" ] && [ -f "$debug" ]; then
    # Local functions ("t"): in the debug file's symbols, not libc's own.
    echo "libc:    $libc, $count functions it does not export, named from $debug"
    measure "$libc" "$(spread "$debug" '^t$' .)"
else
    echo "libc:    $libc has no debug file under /usr/lib/debug/.build-id (install libc6-dbg): not measured"
    echo
fi
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end"
