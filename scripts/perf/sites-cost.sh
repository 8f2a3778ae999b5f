#!/usr/bin/env bash
# The cost of `leaklab watch`'s per-site accounting in the preload shim
# (BENCHMARKS.md section 11): the shim loaded as watch loads it (the page and
# the site directory in its environment), against no shim, the shim without
# sites, every allocation's stack walked (--sites-sample 0) and Poisson
# sampling by bytes at several means. Three programs: a C loop of
# malloc(64)+free (ns per pair, from the program), `python3 -c pass` and a
# CPython loop making 600 000 small objects (PYTHONMALLOC=malloc), wall ms.
# The median of $REPS runs (default 5).
#
#   scripts/perf/sites-cost.sh [path/to/leaklab]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
leaklab=${1:-$here/../../target/debug/leaklab}
reps=${REPS:-5}
py=$(python3 -c 'import sys; print(sys.executable)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -g -o "$work/bench" "$here/sites-bench.c"
cat > "$work/work.py" <<'PY'
kept = []
for i in range(200000):
    kept.append({'i': i, 's': 'x' * 50 + str(i)})
    if len(kept) > 1000:
        kept.pop(0)
PY
# The shim leaklab embeds, as it installs it.
shim=$("$leaklab" watch --json --duration 300ms -- sleep 1 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['heap']['note'].split(' by ')[-1])")
# A page as the watcher writes it: magic "leaklab1", publish every 5 ms.
python3 - "$work/page" <<'PY'
import struct, sys
b = bytearray(32768)
b[0:16] = struct.pack('<QQ', 0x6c65616b6c616231, 5_000_000)
open(sys.argv[1], 'wb').write(b)
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { local s e; s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
printf '%-14s %14s %16s %14s\n' mode 'C ns/pair' 'python -c pass' 'work.py ms'
for mode in none shim sites:0 sites:1024 sites:4096 sites:16384; do
    env=(PYTHONMALLOC=malloc)
    case $mode in
        none) ;;
        shim) env+=(LD_PRELOAD="$shim" LEAKLAB_WATCH_HEAP="$work/page") ;;
        sites:*) env+=(LD_PRELOAD="$shim" LEAKLAB_WATCH_HEAP="$work/page"
                       LEAKLAB_WATCH_SITES="$work/sites" LEAKLAB_WATCH_SITES_SAMPLE="${mode#sites:}") ;;
    esac
    c=(); p=(); w=()
    for _ in $(seq "$reps"); do
        rm -rf "$work/sites"; mkdir "$work/sites"
        c+=("$(env "${env[@]}" "$work/bench" 300000 | awk '{print $1}')")
        p+=("$(ms env "${env[@]}" "$py" -c pass)")
        w+=("$(ms env "${env[@]}" "$py" "$work/work.py")")
    done
    printf '%-14s %14s %16s %14s\n' "$mode" \
        "$(printf '%s\n' "${c[@]}" | median)" \
        "$(printf '%s\n' "${p[@]}" | median)" \
        "$(printf '%s\n' "${w[@]}" | median)"
done
