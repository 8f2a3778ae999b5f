#!/usr/bin/env bash
# Every test binary of `cargo test` (the library's unit tests, the binary's,
# every tests/*.rs) under valgrind memcheck, with no --skip: a test that
# must leak does it in a child process it measures (tests/in_child), which
# valgrind does not follow, and a test whose checks read the C counters
# (which read zero here: valgrind's malloc replaces the interposer) runs
# natively in such a child (in_child::with_c_counters), which must report
# that it ran. Reports pass/fail and the time of each binary,
# exits 1 if any failed (2 if the build or the tools are missing).
#
#   scripts/memcheck-tests.sh            # all of them
#   scripts/memcheck-tests.sh safe_binding sqlite_safe   # just these
#
# On a shared machine: nice -n 10 scripts/memcheck-tests.sh
set -uo pipefail
cd "$(dirname "$0")/.."

# Binaries that cannot run under memcheck by their nature, with the reason.
declare -A SKIP=(
    [compile_fail]="trybuild compiles every tests/ui case with rustc: minutes of rustc under memcheck, and the memory checked would be rustc's, not the lab's"
)

for tool in valgrind jq cargo awk; do
    command -v "$tool" >/dev/null || { echo "memcheck-tests: $tool is not installed" >&2; exit 2; }
done

echo "== building the test binaries (cargo test --no-run)"
if ! json=$(cargo test --no-run --message-format=json); then
    echo "memcheck-tests: cargo test --no-run failed; run it to see why" >&2
    exit 2
fi
# name<TAB>executable, for every test-profile artifact with an executable.
mapfile -t binaries < <(jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
    | "\(.target.name)-\(.target.kind[0])\t\(.executable)"' <<<"$json" | sort -u)

want=("$@")
failed=()
results=()
started=$SECONDS
for entry in "${binaries[@]}"; do
    id=${entry%%$'\t'*}       # e.g. safe_binding-test, leaklab-lib
    exe=${entry#*$'\t'}
    name=${id%-*}
    kind=${id##*-}
    label=$name
    [ "$kind" != test ] && label="$name ($kind unit tests)"
    if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then
        continue
    fi
    if [ "$kind" = test ] && [ -n "${SKIP[$name]:-}" ]; then
        echo "!! SKIPPED $label: ${SKIP[$name]}"
        results+=("SKIP  -      $label")
        continue
    fi
    echo "== $label: $exe"
    t0=$(date +%s.%N)
    valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
        --suppressions=valgrind/rust-runtime.supp \
        --suppressions=valgrind/rust-test-harness.supp \
        "$exe" --test-threads=1
    rc=$?
    t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        results+=("pass  ${t}s  $label")
    else
        results+=("FAIL  ${t}s  $label (exit $rc)")
        failed+=("$label")
    fi
done

echo
echo "== memcheck, per test binary"
printf '%s\n' "${results[@]}"
echo "total $((SECONDS - started))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "memcheck-tests: ${#failed[@]} failed: ${failed[*]}" >&2
    exit 1
fi
echo "memcheck-tests: all passed"
