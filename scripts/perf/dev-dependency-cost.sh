#!/usr/bin/env bash
# What leaklab costs a user's crate as a dev-dependency (BENCHMARKS.md §7):
# a clean `cargo test --no-run` of a consumer crate with it and of a copy
# without it, alternately (with, without, with, without, ...), each from
# an empty target directory and timed as a whole process by /usr/bin/time;
# and the packages it adds to Cargo.lock.
#
#   light     tests/consumers/light: a binding over libc, libc its only
#             dependency
#   rusqlite  tests/consumers/rusqlite: rusqlite 0.37 with SQLite bundled
#
# The copy without leaklab has the same library and Cargo.lock (less
# leaklab's packages) and, in place of tests/leaks.rs, plain tests calling
# the same functions. Both copies are made in a temporary directory; the
# crates are fetched first (cargo fetch), so no run downloads anything.
#
# Usage: scripts/perf/dev-dependency-cost.sh [-n RUNS] [-k DIR] [light] [rusqlite]
#   -n RUNS  timed pairs (default 5), after one untimed pair
#   -k DIR   only make the copies, in DIR/<crate>/{with,without}, and keep
#            them (to time them with another tool)
# Default crate: light.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNS=5
KEEP=
while getopts n:k: opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    k) KEEP=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(light)
unset CARGO_TARGET_DIR
export CARGO_TERM_COLOR=never

if [ -n "$KEEP" ]; then
    OUT=$KEEP
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi

plain_tests() {
    case $1 in
    light)
        cat <<'RS'
#[test]
fn greetings() {
    assert_eq!(light::leaky::greeting(), "hello");
    assert_eq!(light::fixed::greeting(), "hello");
}

#[test]
fn checksums() {
    assert_eq!(light::leaky::checksum(100), 4950);
    assert_eq!(light::fixed::checksum(100), 4950);
}
RS
        ;;
    rusqlite)
        cat <<'RS'
use rusqlite::Connection;

#[test]
fn expanded_sql() {
    let conn = Connection::open_in_memory().unwrap();
    assert_eq!(with_rusqlite::leaky::expanded_sql(&conn, "SELECT 1"), "SELECT 1");
    assert_eq!(with_rusqlite::fixed::expanded_sql(&conn, "SELECT 1"), "SELECT 1");
}

#[test]
fn query() {
    let conn = Connection::open_in_memory().unwrap();
    let n: i64 = conn.query_row("SELECT 40 + ?1", [2], |row| row.get(0)).unwrap();
    assert_eq!(n, 42);
}
RS
        ;;
    *)
        echo "no plain tests for $1" >&2
        exit 2
        ;;
    esac
}

# prepare CRATE: DIR/CRATE/with (leaklab by absolute path) and
# DIR/CRATE/without (no leaklab), each with its Cargo.lock resolved.
prepare() {
    local crate=$1 src=$ROOT/tests/consumers/$1 dir=$OUT/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    for side in with without; do
        mkdir -p "$dir/$side"
        cp -r "$src/Cargo.toml" "$src/Cargo.lock" "$src/src" "$src/tests" "$dir/$side/"
    done
    sed -i "s|path = \"../../../crates/leaklab\"|path = \"$ROOT/crates/leaklab\"|" "$dir/with/Cargo.toml"
    sed -i '/^leaklab = /d' "$dir/without/Cargo.toml"
    rm -r "$dir/without/tests"
    mkdir "$dir/without/tests"
    plain_tests "$crate" >"$dir/without/tests/plain.rs"
    # Resolve (the copy without leaklab drops its packages, keeping every
    # other version) and fetch, outside the timed runs.
    for side in with without; do
        (cd "$dir/$side" && cargo tree -q -e normal,build,dev >/dev/null && cargo fetch -q)
    done
}

# build CRATE SIDE: one clean `cargo test --no-run`; prints "wall user sys".
build() {
    local dir=$OUT/$1/$2
    rm -rf "$dir/target"
    (cd "$dir" && /usr/bin/time -f '%e %U %S' -o "$OUT/time" cargo test --no-run -q --locked >/dev/null 2>&1)
    cat "$OUT/time"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for crate in "${crates[@]}"; do
    prepare "$crate"
    with_pkgs=$(grep -c '^name = ' "$OUT/$crate/with/Cargo.lock")
    without_pkgs=$(grep -c '^name = ' "$OUT/$crate/without/Cargo.lock")
    echo "== $crate: Cargo.lock $with_pkgs packages with leaklab, $without_pkgs without: $((with_pkgs - without_pkgs)) added"
    added=$(comm -23 <(grep '^name = ' "$OUT/$crate/with/Cargo.lock" | sort) \
        <(grep '^name = ' "$OUT/$crate/without/Cargo.lock" | sort) | sed 's/name = "\(.*\)"/\1/' | paste -sd' ')
    echo "   added: $added"
    if [ -n "$KEEP" ]; then
        echo "   copies: $OUT/$crate/with, $OUT/$crate/without"
        continue
    fi
    build "$crate" with >/dev/null
    build "$crate" without >/dev/null
    : >"$OUT/pairs"
    for i in $(seq "$RUNS"); do
        read -r w wu ws < <(build "$crate" with)
        read -r o ou os < <(build "$crate" without)
        echo "   run $i: with $w s (user $wu, sys $ws), without $o s (user $ou, sys $os)"
        echo "$w $o" >>"$OUT/pairs"
    done
    mw=$(cut -d' ' -f1 "$OUT/pairs" | median)
    mo=$(cut -d' ' -f2 "$OUT/pairs" | median)
    mr=$(awk '{ printf "%.3f\n", $1 / $2 }' "$OUT/pairs" | median)
    echo "   median wall: with $mw s, without $mo s; median ratio with/without (pair by pair) $mr"
done
