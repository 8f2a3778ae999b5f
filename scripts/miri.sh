#!/usr/bin/env bash
# Runs the lab under Miri, where every C call lands in the Rust model of the
# connector (src/sys/model):
#   1. the clean suites (tests/miri/, and the safe twins in
#      tests/miri_leaks.rs): they must pass, with Miri's leak check on;
#      tests/miri/ runs twice, under Stacked Borrows (Miri's default) and
#      Tree Borrows, as the two aliasing models flag different mistakes;
#   2. each leak case of tests/miri_leaks.rs, alone in its own Miri process
#      (Miri reports leaks only at exit, failing the whole run): that
#      process must fail with exactly the expected number of "memory
#      leaked" errors, allocated where the case says, after the test body
#      itself passed.
# Prints "miri: N passed, M failed" and exits non-zero on any unexpected
# result. Needs the nightly toolchain with miri and rust-src
# (rustup component add --toolchain nightly miri rust-src).
# Extra Miri flags: MIRIFLAGS, as usual.
set -u
cd "$(dirname "$0")/.."

toolchain=${MIRI_TOOLCHAIN:-nightly}
if ! cargo +"$toolchain" miri --version >/dev/null 2>&1; then
    echo "miri.sh: cargo +$toolchain miri is not installed;" \
        "run: rustup component add --toolchain $toolchain miri rust-src" >&2
    echo "miri: 0 passed, 1 failed"
    exit 2
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0

# Shows why a step failed: the end of its output.
show() {
    echo "---- $1" >&2
    tail -n 40 "$logs/out" >&2
    tail -n 60 "$logs/err" >&2
}

# A clean suite: every test passes and Miri finds no UB and no leak.
# `clean_suite TARGET [EXTRA_MIRIFLAGS]`.
clean_suite() {
    local target=$1 flags=${2:-}
    local label="--test $target${flags:+ ($flags)}"
    if MIRIFLAGS="${MIRIFLAGS:-} $flags" cargo +"$toolchain" miri test --test "$target" \
        >"$logs/out" 2>"$logs/err"; then
        local count
        count=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$logs/out" | tail -n 1)
        passed=$((passed + ${count:-0}))
        echo "ok    clean suite $label: ${count:-0} tests"
        [ "${count:-0}" -gt 0 ] || { failed=$((failed + 1)); echo "FAIL  $label ran no test"; }
    else
        failed=$((failed + 1))
        echo "FAIL  clean suite $label"
        show "$label"
    fi
}

# A leak case: `expect_leak TEST COUNT PATTERN...`. A PATTERN must appear in
# Miri's stderr; a PATTERN starting with '!' must not.
expect_leak() {
    local test=$1 count=$2 why=()
    shift 2
    cargo +"$toolchain" miri test --test miri_leaks -- --ignored --exact "$test" \
        >"$logs/out" 2>"$logs/err"
    local status=$?
    local leaks
    leaks=$(grep -c '^error: memory leaked: ' "$logs/err")
    [ "$status" -ne 0 ] || why+=("Miri exited 0")
    grep -q '^test result: ok\. 1 passed' "$logs/out" || why+=("the test body did not pass alone")
    [ "$leaks" -eq "$count" ] || why+=("$leaks leaks reported, expected $count")
    local pattern
    for pattern in "$@"; do
        if [[ $pattern == !* ]]; then
            ! grep -qF -- "${pattern#!}" "$logs/err" || why+=("unexpected: ${pattern#!}")
        else
            grep -qF -- "$pattern" "$logs/err" || why+=("missing: $pattern")
        fi
    done
    if [ ${#why[@]} -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok    leak caught: $test ($count blocks)"
    else
        failed=$((failed + 1))
        echo "FAIL  leak case $test: ${why[*]}"
        show "$test"
    fi
}

start=$SECONDS
clean_suite miri
clean_suite miri -Zmiri-tree-borrows
clean_suite miri_leaks

rust_heap='heap::rust::Counting'
model_heap='heap::modelled::lab_malloc'
# Two Rc<Person> boxes and the two names, on the Rust heap.
expect_leak rc_cycle_leaky 4 "$rust_heap" 'scenarios::rc_cycle::leaky' "!$model_heap"
# The CString's buffer: the query and its NUL (43 + 1 bytes).
expect_leak cstring_into_raw_leaky 1 "$rust_heap" 'size: 44,' \
    'LeakyConnection::query_count' "!$model_heap"
# A whole LC_RES of 3 rows: the result, its fields, the row array, 3 rows.
expect_leak unfreed_result_leaky 6 "$model_heap" 'LeakyConnection::query_rows' \
    'size: 64,' "!$rust_heap"
# The handle lc_real_connect refused and nobody closed (sizeof(LC) + header).
expect_leak failed_connect_leaky 1 "$model_heap" 'handle::lc_init' \
    'LeakyConnection::connect' "!$rust_heap"
# Inside the "C library": one 32-byte DOUBLE buffer per row, though every
# owner on the Rust side is freed.
expect_leak c_extension_bug_leaky 5 "$model_heap" 'result::build_row' \
    'size: 48,' "!$rust_heap"

echo "miri.sh: $((SECONDS - start)) s"
echo "miri: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
