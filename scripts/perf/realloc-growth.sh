#!/usr/bin/env bash
# realloc growth, with and without the preload shim: one buffer grown from
# 4 KiB to N MiB in 4 KiB steps (scripts/perf/realloc-growth.c), run
#   plain       as is: glibc's malloc;
#   shim        with libleaklab_preload.so in LD_PRELOAD (every call counted);
#   shim-scrub  the same, with a watcher page asking for counts at exit only:
#               the shim then zeroes freed memory for its scan at exit, as
#               under `cargo leaklab test` (the counters detector).
# Each run goes through this script (the page is made fresh for each), so
# every way pays the same shell start-up.
#
# Usage:
#   scripts/perf/realloc-growth.sh build              release shim + program
#   scripts/perf/realloc-growth.sh run WAY MIB [ROUNDS]   one run
#   scripts/perf/realloc-growth.sh [MIB ...]          plain vs shim-scrub, hyperfine
# LEAKLAB_PRELOAD names another shim (e.g. one built from an older commit).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/perf-realloc
PROGRAM=$OUT/realloc-growth
SHIM=${LEAKLAB_PRELOAD:-$TARGET/release/libleaklab_preload.so}

build() {
    (cd "$ROOT" && cargo build -q --release -p leaklab-preload)
    mkdir -p "$OUT"
    cc -O2 -o "$PROGRAM" "$ROOT/scripts/perf/realloc-growth.c"
}

# The page `leaklab watch` / `cargo leaklab test` share with the shim
# (crates/leaklab/src/watch_page.rs): the magic, then publish_ns = 0.
page() {
    { printf '1balkael'; head -c 4088 /dev/zero; } >"$1"
}

run() {
    local way=$1 mib=$2 rounds=${3:-1}
    case $way in
        plain) "$PROGRAM" "$mib" "$rounds" ;;
        shim) LD_PRELOAD=$SHIM "$PROGRAM" "$mib" "$rounds" ;;
        shim-scrub)
            local p
            p=$(mktemp)
            page "$p"
            LD_PRELOAD=$SHIM LEAKLAB_WATCH_HEAP=$p "$PROGRAM" "$mib" "$rounds"
            rm -f "$p"
            ;;
        *) echo "unknown way: $way" >&2; exit 2 ;;
    esac
}

case ${1:-} in
    build) build ;;
    run) shift; run "$@" ;;
    *)
        build
        [ $# -gt 0 ] || set -- 4 32
        for mib in "$@"; do
            hyperfine -N --warmup 1 \
                "$0 run plain $mib" "$0 run shim $mib" "$0 run shim-scrub $mib"
        done
        ;;
esac
