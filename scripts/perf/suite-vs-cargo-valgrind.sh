#!/usr/bin/env bash
# `cargo leaklab test --detector valgrind` against `cargo valgrind test`
# (cargo-valgrind, installed here from crates.io if missing) on the same
# crates, one after the other in one run: what each prints, which tests
# each blames, and the wall time of each, with the ratio.
#
#   demo          a crate written here: a test leaking a CString into C's
#                 hands (Rust's 13 B), one leaking a malloc (C's 64 B), one
#                 clean (the crate tests/suite.rs checks);
#   bzip2         examples/bzip2-binding;
#   lab           the lab's own suite (all but trybuild's binary): slow.
#
# Usage: scripts/perf/suite-vs-cargo-valgrind.sh [demo] [bzip2] [lab]   (default: demo bzip2)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CV_VERSION=2.4.1
TOOLS=$ROOT/target/bench-tools
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if ! [ -x "$TOOLS/bin/cargo-valgrind" ]; then
    echo "== installing cargo-valgrind $CV_VERSION from crates.io into $TOOLS"
    cargo install -q cargo-valgrind --version "$CV_VERSION" --locked --root "$TOOLS" || exit 2
fi
cargo build -q --bin cargo-leaklab || exit 2   # the preload shim is inside it
export PATH=$TOOLS/bin:$ROOT/target/debug:$PATH

demo_crate() {
    local dir=$OUT/leaky-demo
    mkdir -p "$dir/src"
    printf '[package]\nname = "leaky-demo"\nversion = "0.1.0"\nedition = "2024"\n\n[workspace]\n' >"$dir/Cargo.toml"
    cat >"$dir/src/lib.rs" <<'RS'
use std::ffi::CString;
use std::os::raw::c_char;

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
}

/// Hands a C string over and never takes it back (CString::from_raw).
pub fn leak_name(name: &str) -> *mut c_char {
    CString::new(name).unwrap().into_raw()
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaks_a_cstring() {
        let _ = super::leak_name("twelve bytes");
    }

    #[test]
    fn leaks_a_malloc() {
        // SAFETY: a plain allocation, never freed: the leak under test.
        let p = unsafe { super::malloc(64) };
        std::hint::black_box(p);
    }

    #[test]
    fn clean() {
        let v = vec![1u8; 100];
        assert_eq!(v.len(), 100);
    }
}
RS
    echo "$dir"
}

# name, directory, arguments for cargo valgrind test, then `--`, then
# extra arguments for cargo leaklab test
side_by_side() {
    local name=$1 dir=$2
    shift 2
    local cv_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do cv_args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    (cd "$dir" && cargo test -q --no-run >/dev/null 2>&1)   # both start from a built crate
    echo
    echo "================ $name: cargo valgrind test"
    local t0 t1 t2
    t0=$(date +%s.%N)
    mkdir -p "$ROOT/target/bench-logs"
    local log=$ROOT/target/bench-logs/cargo-valgrind-$name.log
    (cd "$dir" && cargo valgrind test "${cv_args[@]}" 2>&1) >"$log"
    # Its verdict lines: the binaries it ran, what it found, how each ended
    # (the whole output is kept in $log).
    grep -E 'Running|Error leaked|Summary|test result|exit status|panicked' "$log"
    t1=$(date +%s.%N)
    echo
    echo "================ $name: cargo leaklab test --detector valgrind"
    (cd "$dir" && cargo-leaklab leaklab test --detector valgrind "$@" 2>/dev/null)
    echo "(exit $?)"
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$name" 'BEGIN {
        cv = b - a; ll = c - b
        printf "\n%s wall time: cargo valgrind %.1f s, cargo leaklab %.1f s, ratio leaklab/cargo-valgrind %.2f\n", n, cv, ll, ll / cv }'
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(demo bzip2)
for w in "${want[@]}"; do
    case $w in
        demo) side_by_side demo "$(demo_crate)" ;;
        bzip2) side_by_side bzip2-binding "$ROOT/examples/bzip2-binding" ;;
        lab)
            # The same tests for both: every test target but trybuild's
            # (it runs rustc), and every target run to the end.
            tests=()
            for f in tests/*.rs; do
                t=$(basename "$f" .rs)
                [ "$t" = compile_fail ] || tests+=(--test "$t")
            done
            side_by_side lab "$ROOT" --no-fail-fast --workspace --lib --bins "${tests[@]}" --test leaks \
                -- -E 'not binary(compile_fail)' ;;
        *) echo "unknown crate '$w' (demo, bzip2, lab)" >&2; exit 2 ;;
    esac
done
