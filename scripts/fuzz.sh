#!/usr/bin/env bash
# libFuzzer over the C connector (fuzz/connector_fuzz.c) with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#
# SECONDS (default 60) bounds the run: a smoke test. 0 runs until stopped
# (Ctrl-C) or until a crash. It starts from the committed seed corpus
# (fuzz/corpus/) and keeps what it finds in target/fuzz/corpus/; a crashing
# input is written to target/fuzz/artifacts/ and the script exits non-zero.
# Reproduce one with: target/fuzz/connector_fuzz target/fuzz/artifacts/crash-...
# Needs clang with libFuzzer (apt-get install clang).
set -euo pipefail
cd "$(dirname "$0")/.."


seconds=${1:-60}
shift || true
case $seconds in
    '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz.sh: $CC not found (apt-get install clang)" >&2; exit 2; }

out=target/fuzz
mkdir -p "$out/corpus" "$out/artifacts"
"$CC" -g -O1 -std=c11 -Wall -Wextra \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Icsrc -o "$out/connector_fuzz" fuzz/connector_fuzz.c csrc/connector/*.c

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -max_len leaves room for several operations of a few KiB; op 6 builds the
# queries around the 64 KiB limit itself.
"$out/connector_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@" \
    "$out/corpus" fuzz/corpus
