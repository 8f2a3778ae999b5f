#!/usr/bin/env bash
# A real suite nobody here wrote, rusqlite 0.40.2's (bundled SQLite and the
# features its tests cover, 240 tests), under memcheck four ways, one after
# the other in one run, from one build:
#
#   nextest      plain `cargo nextest run` (no memcheck): the reference
#   per-test     `cargo leaklab test --detector valgrind --memcheck-per-test`
#   per-binary   `cargo leaklab test --detector valgrind` (one memcheck per
#                test binary, or per share of a big one)
#   cargo-valgrind  `cargo valgrind test --tests` (installed from crates.io
#                into target/bench-tools if missing)
#
# Doctests are left out of all four (nextest does not run them; leaklab
# --no-doctests; cargo valgrind test --tests). Prints each wall time and its
# ratio to plain nextest and to cargo-valgrind.
#
# Usage: scripts/perf/rusqlite-memcheck.sh [per-test] [per-binary] [cargo-valgrind]
#        (default: all three after nextest)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CV_VERSION=2.4.1
VERSION=0.40.2
FEATURES=bundled,array,backup,blob,collation,column_decltype,extra_check,functions,hooks,i128_blob,limits,serialize,series,trace,vtab,window,preupdate_hook,session,unlock_notify
TOOLS=$ROOT/target/bench-tools
WORK=${RUSQLITE_WORK:-$ROOT/target/bench-rusqlite}   # where rusqlite is copied and built
LOGS=$ROOT/target/bench-logs
mkdir -p "$WORK" "$LOGS"

if ! command -v cargo-valgrind >/dev/null && ! [ -x "$TOOLS/bin/cargo-valgrind" ]; then
    echo "== installing cargo-valgrind $CV_VERSION from crates.io into $TOOLS"
    cargo install -q cargo-valgrind --version "$CV_VERSION" --locked --root "$TOOLS" || exit 2
fi
cargo build -q -p cargo-leaklab || exit 2
LEAKLAB_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
export PATH=$TOOLS/bin:$LEAKLAB_BIN:$PATH

# rusqlite's source, by cargo from crates.io: a scratch crate depending on
# it, fetched, and the package copied out of cargo's registry cache.
SRC=$WORK/rusqlite-$VERSION
if ! [ -f "$SRC/Cargo.toml" ]; then
    mkdir -p "$WORK/fetch/src"
    printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[workspace]\n\n[dependencies]\nrusqlite = "=%s"\n' \
        "$VERSION" >"$WORK/fetch/Cargo.toml"
    : >"$WORK/fetch/src/lib.rs"
    (cd "$WORK/fetch" && cargo fetch -q) || exit 2
    found=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rusqlite-$VERSION | head -1)
    [ -n "$found" ] || { echo "rusqlite $VERSION not in cargo's registry" >&2; exit 2; }
    cp -r "$found" "$SRC"
fi
export CARGO_TARGET_DIR=$WORK/target
cd "$SRC" || exit 2
echo "== building rusqlite $VERSION's tests (--features $FEATURES)"
cargo test -q --features "$FEATURES" --no-run >/dev/null 2>&1 || exit 2
cargo nextest run --features "$FEATURES" >/dev/null 2>&1   # warm caches

declare -A WALL
timed() {
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$LOGS/rusqlite-$name.out" 2>"$LOGS/rusqlite-$name.err"
    local code=$?
    t1=$(date +%s.%N)
    WALL[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%-15s %8s s  (exit %d)  %s\n' "$name" "${WALL[$name]}" "$code" \
        "$(grep -hE '^[0-9]+ tests under|Summary|test result' "$LOGS/rusqlite-$name.out" "$LOGS/rusqlite-$name.err" | tail -1)"
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(per-test per-binary cargo-valgrind)
echo "== wall times (logs in $LOGS/rusqlite-*.{out,err})"
timed nextest cargo nextest run --features "$FEATURES"
for w in "${want[@]}"; do
    case $w in
        per-test) timed per-test cargo-leaklab leaklab test --detector valgrind --memcheck-per-test \
            --no-doctests --features "$FEATURES" ;;
        per-binary) timed per-binary cargo-leaklab leaklab test --detector valgrind \
            --no-doctests --features "$FEATURES" ;;
        cargo-valgrind) timed cargo-valgrind cargo valgrind test --tests --features "$FEATURES" ;;
        *) echo "unknown run '$w' (per-test, per-binary, cargo-valgrind)" >&2; exit 2 ;;
    esac
done
echo "== ratios"
for w in "${want[@]}"; do
    awk -v n="$w" -v t="${WALL[$w]}" -v base="${WALL[nextest]}" -v cv="${WALL[cargo-valgrind]:-}" 'BEGIN {
        line = sprintf("%-15s %.1fx plain nextest", n, t / base)
        if (cv != "") line = line sprintf(", %.2fx cargo-valgrind", t / cv)
        print line }'
done
