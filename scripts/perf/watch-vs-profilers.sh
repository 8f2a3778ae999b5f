#!/usr/bin/env bash
# `leaklab watch` against heap profilers and memcheck, side by side in one
# run (BENCHMARKS.md section 12), on two programs that leak a 448-byte
# buffer per request in a known function:
#   py  CPython (PYTHONMALLOC=malloc) running the test suite's serve.py with
#       the `rows` extension (crates/cargo-leaklab/tests/pyext/rows.c):
#       fetch_row leaks len(row) * 64 = 448 B per request;
#   c   scripts/perf/many-blocks.c: 100 blocks of 16..527 B allocated (and
#       freed later) per request, and 448 B leaked in leak_row.
# Tools: plain; leaklab watch --no-sites without --per (RSS and heap
# only) and with --per '^request ' (its line counting: every line of the
# program through a pipe); the same --per with sites sampled (the
# default, one allocation per 4 KiB); watch --sites-sample 0 (every
# stack); heaptrack; memray run --native (Python only; installed with pip
# into a venv under target/ if missing); valgrind memcheck.
# For each: CPU time (user+sys of the whole process tree, the median of
# $REPS runs; $VG_REPS for memcheck), its analysis afterwards
# (heaptrack_print, memray's reader; watch and memcheck analyse inside the
# run), peak RSS of the largest process (GNU time's %M), each as a ratio
# to plain, and whether the tool named the leaking function and with how
# many bytes per call, against memcheck's definitely-lost figure.
#
#   scripts/perf/watch-vs-profilers.sh [path/to/leaklab]
#
# Environment: PY_REQUESTS (default 100000), C_REQUESTS (50000), REPS (3),
# VG_REPS (1). The leaklab binary should be a release build
# (cargo build --release -p cargo-leaklab): the watcher's own CPU counts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
leaklab=${1:-$root/target/release/leaklab}
py_n=${PY_REQUESTS:-100000}
c_n=${C_REQUESTS:-50000}
reps=${REPS:-3}
vg_reps=${VG_REPS:-1}
py=$(python3 -c 'import sys; print(sys.executable)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in heaptrack heaptrack_print valgrind gcc /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
[ -x "$leaklab" ] || { echo "no leaklab at $leaklab (cargo build --release -p cargo-leaklab)" >&2; exit 2; }
venv=$root/target/memray-venv
if [ ! -x "$venv/bin/memray" ]; then
    "$py" -m venv "$venv" && "$venv/bin/pip" install -q memray
fi

# The programs.
include=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$include/Python.h" ] || { echo "no Python.h in $include (python3-dev)" >&2; exit 2; }
gcc -shared -fPIC -g -O1 -I "$include" -o "$work/rows.so" "$root/crates/cargo-leaklab/tests/pyext/rows.c"
gcc -g -O1 -o "$work/many-blocks" "$here/many-blocks.c"
serve=$root/crates/cargo-leaklab/tests/pyext/serve.py
export PYTHONPATH=$work PYTHONMALLOC=malloc LEAKLAB_CACHE_DIR=$work/cache

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- crates scripts || echo ' (with local changes)')"
echo "python: $("$py" -V 2>&1), PYTHONMALLOC=malloc; $(heaptrack --version 2>&1 | head -1); memray $("$venv/bin/memray" --version); $(valgrind --version)"
echo "py: serve.py rows $py_n 0 (no pause); c: many-blocks $c_n; median of $reps runs, memcheck $vg_reps"
echo

# run NAME CMD...: CPU seconds (user+sys) and max RSS (KiB) of one run,
# appended to $work/NAME.runs; output in $work/NAME.out/.err.
run() {
    local name=$1; shift
    /usr/bin/time -f '%U %S %M' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || true
    # The last line: GNU time puts "Command exited with non-zero status"
    # before it (watch exits 1 when the program grows).
    tail -n1 "$work/$name.time" | awk '{printf "%.3f %d\n", $1 + $2, $3}' >>"$work/$name.runs"
}
# cpu SECONDS of a command (its analysis), as run does.
analyse() {
    local name=$1; shift
    /usr/bin/time -f '%U %S' -o "$work/$name.atime" "$@" >"$work/$name.report" 2>/dev/null || true
    tail -n1 "$work/$name.atime" | awk '{printf "%.3f\n", $1 + $2}' >"$work/$name.analysis"
}

tools=(plain watch-bare watch-no-sites watch-sampled watch-exact heaptrack memray memcheck)
for prog in py c; do
    if [ $prog = py ]; then cmd=("$py" "$serve" rows "$py_n" 0); fn=fetch_row
    else cmd=("$work/many-blocks" "$c_n"); fn=leak_row; fi
    for tool in "${tools[@]}"; do
        name=$prog-$tool
        n=$reps; [ $tool = memcheck ] && n=$vg_reps
        [ $tool = memray ] && [ $prog = c ] && continue
        for _ in $(seq "$n"); do
            case $tool in
                plain) run "$name" "${cmd[@]}" ;;
                watch-bare) run "$name" "$leaklab" watch --json --no-sites -- "${cmd[@]}" ;;
                watch-no-sites) run "$name" "$leaklab" watch --json --no-sites --per '^request ' -- "${cmd[@]}" ;;
                watch-sampled) run "$name" "$leaklab" watch --json --per '^request ' -- "${cmd[@]}" ;;
                watch-exact) run "$name" "$leaklab" watch --json --sites-sample 0 --per '^request ' -- "${cmd[@]}" ;;
                heaptrack)
                    rm -f "$work/$name.ht"*
                    run "$name" heaptrack -o "$work/$name.ht" "${cmd[@]}"
                    analyse "$name" heaptrack_print --print-leaks 1 --print-peaks 0 \
                        --print-allocators 0 --print-temporary 0 -f "$work/$name.ht.zst" ;;
                memray)
                    run "$name" "$venv/bin/memray" run --native -q -f -o "$work/$name.bin" "$serve" rows "$py_n" 0
                    analyse "$name" "$venv/bin/python" "$here/leak-named.py" memray "$work/$name.bin" "$fn" ;;
                memcheck)
                    run "$name" valgrind --leak-check=full --xml=yes --xml-file="$work/$name.xml" "${cmd[@]}" ;;
            esac
        done
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$here/leak-named.py" table "$work" "$reps"
