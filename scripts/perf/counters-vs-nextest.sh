#!/usr/bin/env bash
# `cargo leaklab test` (counters, the default) against plain `cargo nextest
# run` on a crate where a third of the tests leak: what the counters cost
# when a third of the tests need their sides and top site.
#
# The crate (written into a temporary directory): 30 tests, each doing the
# same work (a few hundred small Rust and C allocations, freed); tests 0, 3,
# 6, ... 27 also lose one block: a C `malloc(48 + i)` for the even ones
# (i = 0, 6, 12, 18, 24: 48, 54, 60, 66, 72 B), a forgotten Rust
# `vec![1u8; 100 + i]` for the odd ones (i = 3, 9, 15, 21, 27: 103, 109,
# 115, 121, 127 B). The script checks that leaklab's records say exactly
# that (each leaking test's side and bytes, nothing for the 20 others) before it
# times anything.
#
# Then PAIRS alternating pairs (nextest, leaklab) on the built crate, the
# wall time of each and the ratio, median of the pairs.
#
# Usage: scripts/perf/counters-vs-nextest.sh [PAIRS]   (default 3)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PAIRS=${1:-3}
DIR=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

# Release, as `cargo install` builds it.
cargo build -q --release --bin cargo-leaklab || exit 2
export PATH=$ROOT/target/release:$PATH
command -v cargo-nextest >/dev/null || { echo "cargo-nextest is missing: cargo install cargo-nextest --locked" >&2; exit 2; }

mkdir -p "$DIR/src"
printf '[package]\nname = "third-leak"\nversion = "0.1.0"\nedition = "2024"\n\n[workspace]\n' >"$DIR/Cargo.toml"
{
    cat <<'RS'
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// The work every test does: Rust and C allocations, all freed.
pub fn work(seed: usize) -> usize {
    let mut total = 0;
    for k in 0..300 {
        let v: Vec<u8> = vec![(seed + k) as u8; 16 + k % 64];
        total += v.iter().map(|&b| b as usize).sum::<usize>();
        // SAFETY: a plain allocation, freed at once.
        unsafe {
            let p = malloc(32 + k % 96);
            assert!(!p.is_null());
            free(p);
        }
    }
    total
}

#[cfg(test)]
mod tests {
RS
    for i in $(seq 0 29); do
        echo "    #[test]"
        echo "    fn t$(printf %02d "$i")() {"
        echo "        assert!(super::work($i) > 0);"
        if [ $((i % 3)) -eq 0 ]; then
            if [ $((i % 2)) -eq 0 ]; then
                echo "        // SAFETY: a plain allocation, never freed: the leak under test."
                echo "        std::hint::black_box(unsafe { super::malloc($((48 + i))) });"
            else
                echo "        std::mem::forget(std::hint::black_box(vec![1u8; $((100 + i))]));"
            fi
        fi
        echo "    }"
    done
    echo "}"
} >"$DIR/src/lib.rs"

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
(cd "$DIR" && cargo nextest run --no-run >/dev/null 2>&1) || { echo "the crate did not build" >&2; exit 2; }

echo "== the truth check: leaklab's verdicts against the code's"
(cd "$DIR" && cargo-leaklab leaklab test --no-doctests --json >"$DIR/report.json" 2>"$DIR/stderr.txt")
python3 - "$DIR/report.json" <<'PY' || exit 1
import json, sys
rows = json.load(open(sys.argv[1]))["tests"]
want = {}
for i in range(0, 30, 3):
    want[f"tests::t{i:02d}"] = ("c", 48 + i) if i % 2 == 0 else ("rust", 100 + i)
bad = 0
for r in rows:
    name = r["test"]
    lost = {side: r[side]["lost"] for side in ("c", "rust")}
    found = [(side, v["bytes"]) for side, v in lost.items() if v["blocks"]]
    got = found[0] if len(found) == 1 and lost[found[0][0]]["blocks"] == 1 else (found or None)
    exp = want.get(name)
    if got != exp or r["ending"] != "passed":
        bad += 1
        print(f"  {name}: expected {exp}, leaklab says {got} ({r['ending']})")
print(f"  {len(rows)} tests, {len(want)} leaking by the code, {bad} verdicts differ")
sys.exit(1 if bad or len(rows) != 30 else 0)
PY

echo "== $PAIRS alternating pairs: cargo nextest run, then cargo leaklab test --no-doctests"
ratios=()
for p in $(seq 1 "$PAIRS"); do
    t0=$(date +%s.%N)
    (cd "$DIR" && cargo nextest run >/dev/null 2>&1)
    t1=$(date +%s.%N)
    (cd "$DIR" && cargo-leaklab leaklab test --no-doctests >/dev/null 2>&1)
    t2=$(date +%s.%N)
    r=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.2f", (c - b) / (b - a) }')
    ratios+=("$r")
    awk -v p="$p" -v a="$t0" -v b="$t1" -v c="$t2" -v r="$r" \
        'BEGIN { printf "  pair %d: nextest %.2f s, leaklab %.2f s, ratio %s\n", p, b - a, c - b, r }'
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median ratio %.2f (goal <= 1.5)\n", v[int((NR + 1) / 2)] }'
