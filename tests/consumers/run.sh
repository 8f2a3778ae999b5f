#!/usr/bin/env bash
# The consumer crates: leaklab used as users use it, each crate a
# workspace of its own with a path dev-dependency on crates/leaklab and a
# committed Cargo.lock (built --locked). For each: `cargo test`, in its own
# target directory (target/consumers/<name>, so the lab's build is never
# invalidated), `cargo fmt --check` and `cargo clippy -- -D warnings`,
# then one line: name, verdict, tests passed, seconds.
#
#   light     a binding over libc's strdup/malloc, built with no C compiler
#             and no pkg-config (CC=/bin/false PKG_CONFIG=/bin/false); its
#             `cargo tree -e normal,build,dev` must hold none of
#             libsqlite3-sys, clap, cc, pkg-config, bindgen; the packages
#             leaklab adds to its Cargo.lock are counted and printed
#   rusqlite  beside rusqlite 0.37 (libsqlite3-sys 0.35, not the lab's 0.40)
#   jemalloc  Counting<tikv_jemallocator::Jemalloc> as the global allocator
#   mimalloc  Counting<mimalloc::MiMalloc> as the global allocator
#
# No consumer's tree may hold a lab crate (leaklab-lab, cargo-leaklab,
# leaklab-preload). Usage: tests/consumers/run.sh [NAME ...] (default: all).
# Exit status: 0 when every crate passed, 1 otherwise.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TERM_COLOR=never
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(light rusqlite jemalloc mimalloc)

# Crates that must not be in light's tree: the lab's C build and CLI.
forbidden_light='^(libsqlite3-sys|clap|cc|pkg-config|bindgen) '
# Crates that must not be in any consumer's tree: the lab and the CLI.
forbidden_all='^(leaklab-lab|cargo-leaklab|leaklab-preload) '

passed=0
failed=0
started=$SECONDS

# tree NAME: the crate's dependency tree, one package per line.
tree() {
    cargo tree --locked -e normal,build,dev --prefix none --format '{p}' 2>&1 | sort -u
}

# check NAME: runs the crate's checks in its directory; prints why it
# failed on stderr, and the tests passed on stdout.
check() {
    local name=$1
    local log=$CARGO_TARGET_DIR.log
    local deps
    deps=$(tree) || { echo "cargo tree failed: $deps" >&2; return 1; }
    if grep -E "$forbidden_all" <<<"$deps" >&2; then
        echo "a lab crate is in $name's dependency tree (above)" >&2
        return 1
    fi
    case $name in
    light)
        if grep -E "$forbidden_light" <<<"$deps" >&2; then
            echo "light's dependency tree holds a C build or a CLI crate (above)" >&2
            return 1
        fi
        # Built with no C compiler and no pkg-config for anyone to call.
        CC=/bin/false CXX=/bin/false PKG_CONFIG=/bin/false cargo test --locked >"$log" 2>&1 ||
            { tail -40 "$log" >&2; return 1; }
        ;;
    rusqlite)
        if ! grep -qE '^libsqlite3-sys v0\.35\.' <<<"$deps" ||
            grep -qE '^libsqlite3-sys v0\.40\.' <<<"$deps"; then
            echo "expected libsqlite3-sys 0.35 (and not the lab's 0.40) in:" >&2
            grep -E '^(libsqlite3-sys|rusqlite) ' <<<"$deps" >&2
            return 1
        fi
        cargo test --locked >"$log" 2>&1 || { tail -40 "$log" >&2; return 1; }
        ;;
    *)
        cargo test --locked >"$log" 2>&1 || { tail -40 "$log" >&2; return 1; }
        ;;
    esac
    # The rules of the lab's own code: rustfmt clean, clippy -D warnings.
    cargo fmt --check >&2 || { echo "$name is not rustfmt clean (above)" >&2; return 1; }
    cargo clippy --locked --all-targets -q -- -D warnings >&2 ||
        { echo "clippy found warnings in $name (above)" >&2; return 1; }
    # libtest's summaries: "test result: ok. N passed; ..."
    local n
    n=$(awk '/^test result: ok\./ { n += $4 } END { print n + 0 }' "$log")
    if [ "${n:-0}" -eq 0 ]; then
        echo "no test ran in $name (log: $log)" >&2
        return 1
    fi
    echo "$n"
}

for name in "${names[@]}"; do
    dir="$here/$name"
    if [ ! -f "$dir/Cargo.toml" ]; then
        echo "$name: FAILED (no crate at $dir)"
        failed=$((failed + 1))
        continue
    fi
    export CARGO_TARGET_DIR="$root/target/consumers/$name"
    mkdir -p "$CARGO_TARGET_DIR"
    t0=$SECONDS
    extra=""
    if tests=$(cd "$dir" && check "$name" 2>"$CARGO_TARGET_DIR.why"); then
        if [ "$name" = light ]; then
            # Packages in its Cargo.lock beyond itself; beyond its own
            # dependency (libc, which leaklab uses too): leaklab's.
            beyond=$(($(grep -c '^name = ' "$dir/Cargo.lock") - 1))
            extra=", built with CC=/bin/false PKG_CONFIG=/bin/false, tree clean;"
            extra+=" Cargo.lock: $beyond packages beyond light, $((beyond - 1)) of them added by leaklab"
        fi
        echo "$name: ok ($tests tests passed, $((SECONDS - t0)) s$extra)"
        passed=$((passed + 1))
    else
        echo "$name: FAILED ($((SECONDS - t0)) s; log: $CARGO_TARGET_DIR.log)"
        sed 's/^/    /' "$CARGO_TARGET_DIR.why"
        failed=$((failed + 1))
    fi
done

echo "consumer crates done in $((SECONDS - started)) s"
echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
