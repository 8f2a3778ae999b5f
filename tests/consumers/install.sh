#!/usr/bin/env bash
# Proof that one `cargo install` gives working tools (issue 19, item 7d):
#
#   1. cargo install --path crates/cargo-leaklab --root $tmp/root --locked
#      installs cargo-leaklab and leaklab, and nothing else (no .so);
#   2. in a fresh environment (env -i: HOME=$tmp/home, no LEAKLAB_* or
#      CARGO_* variable, a PATH with no entry in this checkout),
#      `cargo leaklab test` with its default detector (the counters, which
#      need the preload shim) runs tests/consumers/install-target and
#      blames its two leaking tests, side and bytes, and not its clean one;
#   3. `leaklab watch` sees a growing Python program's malloc heap;
#   4. the shim came out of the binary into $HOME/.cache/leaklab, and
#      nothing was written into this checkout.
#
# The expected figures are read from the code, not written here: the
# leaks' sizes from install-target/src/lib.rs (C_LEAK_BYTES,
# RUST_LEAK_BYTES), the "a test lost memory" exit code from
# crates/cargo-leaklab/src/suite/report.rs (code::LEAKED, documented in
# docs/exit-codes.md).
#
# The build goes where a user's `cargo install --path` puts it: the
# checkout's target directory (target/, or $CARGO_TARGET_DIR if set), so a
# run after the workspace's own release build, or a second run, rebuilds
# little. LEAKLAB_INSTALL_FRESH=1 builds in an empty target directory under
# $tmp instead (minutes: every dependency in release). KEEP=1 keeps $tmp.
#
# Needs cargo (and rustup's toolchains, if cargo is rustup's), cargo-nextest,
# valgrind (the counters name a leak's side with memcheck) and python3 in
# /usr/bin or /bin. Exits 0 if every check passes, else 1 with one line
# saying which failed (and the output it was read from).
set -euo pipefail

started=$SECONDS
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

fail() {
    echo "install.sh: FAIL: $*" >&2
    exit 1
}
step() { printf '\n== %s (at %ss)\n' "$1" "$((SECONDS - started))"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leaklab-install.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "install.sh: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi

# ---- what the fresh environment needs, found on the caller's PATH
cargo_bin=$(command -v cargo) || fail "cargo is not on PATH"
nextest_bin=$(command -v cargo-nextest) ||
    fail "cargo-nextest is not installed (cargo install cargo-nextest --locked)"
command -v valgrind >/dev/null || fail "valgrind is not installed (the counters name sides with memcheck)"
[ -x /usr/bin/python3 ] || [ -x /bin/python3 ] || fail "no python3 in /usr/bin or /bin (leaklab watch's subject)"
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}

# ---- the expected figures, from the code
crate_src=$here/install-target/src/lib.rs
const_of() { sed -n "s/^ *pub const $1: $2 = \([0-9][0-9]*\);.*/\1/p" "$3"; }
c_bytes=$(const_of C_LEAK_BYTES usize "$crate_src")
rust_bytes=$(const_of RUST_LEAK_BYTES usize "$crate_src")
leaked_code=$(const_of LEAKED i32 "$repo/crates/cargo-leaklab/src/suite/report.rs")
[ -n "$c_bytes" ] && [ -n "$rust_bytes" ] || fail "no C_LEAK_BYTES or RUST_LEAK_BYTES line in $crate_src"
[ -n "$leaked_code" ] || fail "no 'pub const LEAKED: i32 = N;' in crates/cargo-leaklab/src/suite/report.rs"
echo "expected: C leak $c_bytes B, Rust leak $rust_bytes B, exit code $leaked_code"

checkout_before=$(git -C "$repo" status --porcelain --untracked-files=all 2>/dev/null || true)

# ---- 1. the install
step "cargo install --path crates/cargo-leaklab --root \$tmp/root --locked"
if [ "${LEAKLAB_INSTALL_FRESH:-0}" = 1 ]; then
    export CARGO_TARGET_DIR=$tmp/target
fi
echo "target directory: ${CARGO_TARGET_DIR:-$repo/target}"
t0=$SECONDS
(cd "$repo" && cargo install --quiet --path crates/cargo-leaklab --root "$tmp/root" --locked) ||
    fail "cargo install --path crates/cargo-leaklab failed (its output above)"
install_secs=$((SECONDS - t0))
installed=$(cd "$tmp/root/bin" && ls -A | tr '\n' ' ')
[ "$installed" = "cargo-leaklab leaklab " ] ||
    fail "\$tmp/root/bin holds '$installed', expected the two binaries and nothing else"
echo "installed in ${install_secs}s: $installed"

# ---- the fresh environment
path=$tmp/root/bin
for dir in "$(dirname "$cargo_bin")" "$(dirname "$nextest_bin")" /usr/bin /bin; do
    case "$dir" in "$repo" | "$repo"/*) fail "$dir, on the fresh PATH, is in the checkout" ;; esac
    case ":$path:" in *":$dir:"*) ;; *) path=$path:$dir ;; esac
done
mkdir -p "$tmp/home"
fresh=(env -i "HOME=$tmp/home" "PATH=$path")
# rustup's cargo finds its toolchains under RUSTUP_HOME (else $HOME/.rustup,
# which the fresh HOME has not): the toolchains, not a leaklab setting.
if [ -d "$rustup_home" ]; then fresh+=("RUSTUP_HOME=$rustup_home"); fi
echo "fresh environment: ${fresh[*]:1}"

# The user's crate, copied out, so its build writes nothing into the checkout.
mkdir "$tmp/work"
cp "$here/install-target/Cargo.toml" "$tmp/work/"
cp -r "$here/install-target/src" "$tmp/work/"

# ---- 2. cargo leaklab test, default detector
step "cargo leaklab test (default detector) on install-target"
set +e
(cd "$tmp/work" && "${fresh[@]}" cargo leaklab test) >"$tmp/test.out" 2>"$tmp/test.err"
code=$?
set -e
cat "$tmp/test.out"
show_test() {
    echo "---- stderr of cargo leaklab test (last 30 lines):" >&2
    tail -n 30 "$tmp/test.err" >&2
}
[ "$code" = "$leaked_code" ] || { show_test; fail "cargo leaklab test exited $code, expected $leaked_code (a test lost memory)"; }

# The table's cell of test $1 in the column whose header starts with $2.
cell() {
    awk -F'|' -v test="$1" -v col="$2" '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        !n { for (i = 2; i < NF; i++) if (index(trim($i), col) == 1) n = i; next }
        trim($2) == test { print trim($n); found = 1; exit }
        END { if (!n || !found) exit 1 }
    ' "$tmp/test.out"
}
expect() { # test, column, expected (a prefix if it ends with '*')
    local got
    got=$(cell "$1" "$2") || { show_test; fail "no row for $1 or no column '$2' in the table"; }
    case "$3" in
        *'*') [ "${got#"${3%'*'}"}" != "$got" ] || fail "$1, $2: '$got', expected '$3'" ;;
        *) [ "$got" = "$3" ] || fail "$1, $2: '$got', expected '$3'" ;;
    esac
    echo "ok: $1, $2: $got"
}
# C's malloc: C lost, memcheck's figure; the counters' own scan (the shim
# at work) found the same block lost. Likewise the boxed Vec on Rust's side.
expect tests::leaks_a_malloc "result" "passed"
expect tests::leaks_a_malloc "C lost" "1 blk / $c_bytes B"
expect tests::leaks_a_malloc "Rust lost" "-"
expect tests::leaks_a_malloc "scan at exit" "1 blk / $c_bytes B /*"
expect tests::leaks_a_boxed_vec "result" "passed"
expect tests::leaks_a_boxed_vec "C lost" "-"
expect tests::leaks_a_boxed_vec "Rust lost" "1 blk / $rust_bytes B"
expect tests::leaks_a_boxed_vec "scan at exit" "1 blk / $rust_bytes B /*"
expect tests::clean "result" "passed"
expect tests::clean "C lost" "-"
expect tests::clean "Rust lost" "-"
expect tests::clean "scan at exit" "- / -"
grep -q "^3 tests under counters: 2 lost memory (C 1 blk / $c_bytes B, Rust 1 blk / $rust_bytes B)" "$tmp/test.out" ||
    fail "the summary line is not '3 tests under counters: 2 lost memory (C 1 blk / $c_bytes B, Rust 1 blk / $rust_bytes B)...'"
echo "ok: the summary line"

# ---- 3. leaklab watch, no variable set
step "leaklab watch --duration 2s -- python3 (a list that keeps 10 KB strings)"
grows='
import time
kept = []
while True:
    kept.append(" " * 10240 + str(len(kept)))
    time.sleep(0.005)
'
set +e
(cd "$tmp/work" && "${fresh[@]}" leaklab watch --duration 2s -- python3 -c "$grows") >"$tmp/watch.out" 2>"$tmp/watch.err"
code=$?
set -e
cat "$tmp/watch.out"
show_watch() {
    echo "---- stderr of leaklab watch:" >&2
    cat "$tmp/watch.err" >&2
}
# cli/watch.rs prints "  heap  <bytes> in <n> live blocks at the end: <fit> (the
# process's malloc heap; ...)" when the shim published the heap, and
# "  heap not seen: <why>" when not.
grep -Eq '^  heap  .+ in [0-9]+ live blocks at the end: \+' "$tmp/watch.out" ||
    { show_watch; fail "no heap line: leaklab watch did not see the malloc heap"; }
echo "ok: the heap line"
grep -q '^verdict: grows' "$tmp/watch.out" || { show_watch; fail "the verdict is not 'grows'"; }
[ "$code" = 1 ] || { show_watch; fail "leaklab watch exited $code, expected 1 (grows)"; }
echo "ok: verdict grows, exit 1"

# ---- 4. where the shim went, and where nothing went
step "the shim in the cache, nothing in the checkout"
cache=$tmp/home/.cache/leaklab
shims=$(cd "$cache" 2>/dev/null && find . -type f | sort | tr '\n' ' ') || true
case "$shims" in
    ./[0-9a-f]*/libleaklab_preload.so" ") ;;
    *) fail "expected one <hash>/libleaklab_preload.so under \$HOME/.cache/leaklab, found '$shims'" ;;
esac
hash=${shims#./}
hash=${hash%%/*}
[ ${#hash} = 32 ] || fail "the cache directory '$hash' is not a 128-bit hash in hex"
mode=$(stat -c %a "$cache/$hash/libleaklab_preload.so")
[ "$mode" = 755 ] || fail "the shim's mode is $mode, expected 755"
echo "ok: \$HOME/.cache/leaklab/$hash/libleaklab_preload.so, mode $mode"
checkout_after=$(git -C "$repo" status --porcelain --untracked-files=all 2>/dev/null || true)
[ "$checkout_before" = "$checkout_after" ] || {
    diff <(echo "$checkout_before") <(echo "$checkout_after") >&2 || true
    fail "the run changed the checkout (git status above)"
}
echo "ok: git status of the checkout unchanged"

echo
echo "install.sh: OK in $((SECONDS - started))s (of which the install ${install_secs}s)"
