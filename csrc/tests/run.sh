#!/bin/sh
# Builds the connector + the self test with gcc into /tmp (malloc and friends
# wrapped by selftest_alloc.c, which counts and fails them), runs it natively,
# then under valgrind: clean without the intentional leak, and with it exactly
# the documented BUG#29909157 leak (9 DOUBLE buffers of LC_DOUBLE_BUF_SIZE = 32).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
csrc=$(dirname "$here")
out=${TMPDIR:-/tmp}/leaklab-connector-selftest
CFLAGS="-std=c11 -g -O1 -Wall -Wextra -Werror -pedantic"
gcc $CFLAGS -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free -o "$out" \
    "$csrc"/connector/*.c "$here/selftest_alloc.c" "$here/connector_selftest.c"
echo "== native"
"$out"
if command -v valgrind >/dev/null 2>&1; then
    echo "== valgrind (no intentional leak)"
    valgrind -q --leak-check=full --error-exitcode=1 "$out" --no-intentional-leak
    echo "== valgrind (intentional BUG#29909157 leak)"
    log=$out.vg.log
    valgrind --leak-check=full "$out" --only-intentional-leak >"$log" 2>&1 || { cat "$log"; exit 1; }
    grep -q "definitely lost: 288 bytes in 9 blocks" "$log" || { cat "$log"; echo "expected leak not seen"; exit 1; }
    echo "valgrind saw the expected leak: 288 bytes in 9 blocks"
else
    echo "valgrind not found: install it (apt-get install valgrind); the valgrind half of this self test cannot run" >&2
    exit 2
fi
echo "OK"
