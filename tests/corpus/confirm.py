#!/usr/bin/env python3
"""Confirms the corpus's truth with memcheck alone, without leaklab.

Usage: tests/corpus/confirm.py [GROUP ...]   (default: every group)

For each row of GROUP/expected.tsv, runs its one test (or its whole
`harness = false` binary) under plain `valgrind --leak-check=full` (no
suppressions, nothing of leaklab's) and reads memcheck's XML: the
definitely plus indirectly lost blocks and bytes, each record's side taken
from its allocation stack (Rust's when a frame between malloc and the
corpus's own code is Rust's allocation path: `__rust_alloc`, `__rdl_*`,
any `alloc::` function; else C's; a
record's own bytes, not those of the blocks it holds), and the
memory errors' kinds. Prints one line per test: "ok" or what memcheck
saw, then a count; exits 1 if memcheck disagrees with any row.

Left out: doctests (rustdoc builds them; their rows are checked by
run.sh only) and the test that never ends (no leak check at a kill).
The tests are built first (cargo test --no-run, target/corpus).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import read_expected, amount_ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GROUPS = ["sizes", "rust-shapes", "c-shapes", "clean-but-dirty-looking", "memory-errors", "suite-shapes"]
# A frame of Rust's allocation path: the global allocator's symbols, or
# any function of the alloc crate (std's Vec, String, Box, ... are
# prebuilt with __rust_alloc inlined, so their malloc's caller is
# alloc::raw_vec::... itself).
RUST_ALLOC = re.compile(r"__rust_(alloc|realloc|alloc_zeroed)\b|__rdl_|\balloc::|\bstd::alloc::")
# "48 (16 direct, 32 indirect) bytes in 1 blocks are definitely lost": a
# record's leakedbytes include the blocks it holds, which have records of
# their own (indirectly lost); only the direct bytes are its own.
DIRECT = re.compile(r"\((\d+) direct, \d+ indirect\)")
ENV = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "corpus"), CARGO_TERM_COLOR="never")


def binaries(group):
    """{binary stem: path} of the group's test executables."""
    out = subprocess.run(["cargo", "test", "--locked", "--workspace", "--no-run",
                          "--message-format=json", "-q"],
                         cwd=os.path.join(HERE, group), env=ENV, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            name = os.path.basename(msg["executable"]).rsplit("-", 1)[0]
            found[name] = msg["executable"]
    return found


def memcheck(cmd):
    with tempfile.NamedTemporaryFile(suffix=".xml") as xml:
        subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all",
                        "--xml=yes", f"--xml-file={xml.name}"] + cmd,
                       capture_output=True, timeout=300)
        root = ET.parse(xml.name).getroot()
    lost = {"C": [0, 0], "R": [0, 0]}
    kinds = set()
    for err in root.iter("error"):
        kind = err.findtext("kind")
        if kind in ("Leak_DefinitelyLost", "Leak_IndirectlyLost"):
            # The frames from the allocator up to the corpus's own code.
            fns = []
            for f in err.find("stack").iter("frame"):
                if "/tests/corpus/" in (f.findtext("dir") or ""):
                    break
                fns.append(f.findtext("fn") or "")
            side = "R" if any(RUST_ALLOC.search(f) for f in fns) else "C"
            xw = err.find("xwhat")
            lost[side][0] += int(xw.findtext("leakedblocks"))
            direct = DIRECT.search(xw.findtext("text") or "")
            lost[side][1] += int(direct.group(1) if direct else xw.findtext("leakedbytes"))
        elif not kind.startswith("Leak_"):
            kinds.add(kind)
    return lost, sorted(kinds)


def confirm(group, exp, bins):
    if exp.key == "doctest" or exp.verdict == "timeout":
        return None
    if exp.key.endswith(" (whole)"):
        cmd = [bins[exp.key[: -len(" (whole)")]]]
    else:
        binary, _, test = exp.key.rpartition("/")
        binary = binary or next(b for b in bins if b.replace("-", "_").startswith("corpus_"))
        cmd = [bins[binary], "--exact", test, "--test-threads=1"]
    lost, kinds = memcheck(cmd)
    want = [exp.verdict[len("error:"):]] if exp.verdict.startswith("error:") else []
    ok = amount_ok(exp.c, lost["C"]) and amount_ok(exp.rust, lost["R"]) and kinds == want
    seen = f"C {lost['C'][0]}/{lost['C'][1]} R {lost['R'][0]}/{lost['R'][1]} {' '.join(kinds)}".strip()
    return ok, seen


def main():
    groups = sys.argv[1:] or GROUPS
    bad = total = 0
    for group in groups:
        bins = binaries(group)
        rows = read_expected(group)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda e: confirm(group, e, bins), rows))
        for exp, res in zip(rows, results):
            if res is None:
                print(f"{group} {exp.key}: left out (not run under plain memcheck)")
                continue
            total += 1
            ok, seen = res
            bad += not ok
            print(f"{group} {exp.key}: expected {exp.shown()}, memcheck {seen}: {'ok' if ok else 'DIFFERS'}")
    print(f"confirm: {total - bad} of {total} rows confirmed by memcheck, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
