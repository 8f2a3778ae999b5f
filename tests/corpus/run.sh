#!/usr/bin/env bash
# The corpus: every test's verdict under each detector checked against its
# truth (tests/corpus/README.md). For each corpus crate (a group) and each
# detector, `cargo leaklab test --detector D --json` in the crate, its
# report kept in target/corpus/results/GROUP.D.json; then compare.py prints
# one row per test (expected; per detector "=" or what it observed), the
# table per group and detector, the totals of each kind of disagreement
# and the wall time per detector.
#
#   tests/corpus/run.sh [--quick] [--detectors counters,valgrind,lsan] [GROUP ...]
#
# --quick cuts sizes to 54 of its 268 tests: alone, n = 1, 8, 16, every n
# from 17 to 32 (each residue mod 16 past 16), 40, 48, 64, 4096 and 1 MiB;
# between live neighbours, 17, 24 and 4096 (each on both sides).
#
# Default: every group; the detectors counters and valgrind, and lsan when
# a nightly toolchain with rust-src is installed (else one line says it was
# left out). The crates share one target directory, target/corpus, built
# once (--locked) before any detector runs ("wall time, build"). The tool
# is target/debug/cargo-leaklab (built here if missing; LEAKLAB_BIN names
# another). Needs cargo-nextest, valgrind and python3.
#
# Exit status: 0 when every verdict agrees, 1 on any disagreement (or a
# run with no report), 2 on bad usage or a missing tool.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="$root/target/corpus"
all_groups=(sizes rust-shapes c-shapes clean-but-dirty-looking memory-errors suite-shapes)

detectors=""
quick=0
groups=()
while [ $# -gt 0 ]; do
    case $1 in
    --detectors) detectors=${2:?--detectors needs a list}; shift 2 ;;
    --detectors=*) detectors=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) groups+=("$1"); shift ;;
    esac
done
[ ${#groups[@]} -gt 0 ] || groups=("${all_groups[@]}")
if [ -z "$detectors" ]; then
    detectors=counters,valgrind
    if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
        detectors+=,lsan
    else
        echo "run.sh: lsan left out: no nightly toolchain with rust-src" \
            "(rustup toolchain install nightly --component rust-src)" >&2
    fi
fi
IFS=, read -r -a detectors <<<"$detectors"

# --quick's selection of sizes: the tests' names, as a regex for
# nextest's filter and for compare.py (written to GROUP.select).
quick_sizes='^tests::(c|rust)_(1|8|16|1[7-9]|2[0-9]|3[0-2]|40|48|64|4096|1048576)$'
quick_sizes+='|^tests::(c|rust)_live_(17|24|4096)$'
selection() {
    [ "$quick" = 1 ] && [ "$1" = sizes ] && echo "$quick_sizes"
}

# Per-group options: the hanging test's limit (the valgrind runs of the
# other tests in that workspace take a few seconds each), the selection.
options() {
    case $1 in
    suite-shapes) printf '%s\n' --timeout 10 ;;
    esac
    if [ -n "$(selection "$1")" ]; then
        printf '%s\n' -E "test(/$(selection "$1")/)"
    fi
}

tool=${LEAKLAB_BIN:-$root/target/debug/cargo-leaklab}
if [ ! -x "$tool" ]; then
    echo "run.sh: building cargo-leaklab" >&2
    (cd "$root" && CARGO_TARGET_DIR="$root/target" cargo build -q -p cargo-leaklab) || exit 2
fi
for g in "${groups[@]}"; do
    [ -f "$here/$g/expected.tsv" ] || { echo "run.sh: no group $g" >&2; exit 2; }
done

out="$CARGO_TARGET_DIR/results"
rm -rf "$out"
mkdir -p "$out"
times="$out/times.tsv"

# The tests' builds, shared by every detector (lsan builds its own).
for g in "${groups[@]}"; do
    t0=$SECONDS
    [ -z "$(selection "$g")" ] || selection "$g" >"$out/$g.select"
    if ! (cd "$here/$g" && cargo test --locked --workspace --no-run -q >"$out/$g.build.log" 2>&1); then
        echo "run.sh: $g does not build:" >&2
        tail -20 "$out/$g.build.log" >&2
        exit 1
    fi
    printf '%s\tbuild\t%s\n' "$g" $((SECONDS - t0)) >>"$times"
done

for d in "${detectors[@]}"; do
    for g in "${groups[@]}"; do
        t0=$SECONDS
        mapfile -t opts < <(options "$g")
        (cd "$here/$g" && "$tool" leaklab test --detector "$d" --json "${opts[@]}") \
            >"$out/$g.$d.json" 2>"$out/$g.$d.log"
        echo $? >"$out/$g.$d.rc"
        printf '%s\t%s\t%s\n' "$g" "$d" $((SECONDS - t0)) >>"$times"
        echo "run.sh: $g under $d: exit $(cat "$out/$g.$d.rc"), $((SECONDS - t0)) s" >&2
    done
done

python3 "$here/compare.py" "$out" "${groups[@]}"
