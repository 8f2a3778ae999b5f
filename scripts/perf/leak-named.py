"""Helpers of watch-vs-profilers.sh.

    leak-named.py memray FILE FUNCTION   (memray's venv python) the bytes
        and allocations memray reports leaked from FUNCTION's frame
    leak-named.py table WORK REPS        the table of a run's results
"""
import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

FUNCTIONS = {"py": "fetch_row", "c": "leak_row"}
TOOLS = ["plain", "watch-bare", "watch-no-sites", "watch-sampled", "watch-exact",
         "heaptrack", "memray", "memcheck"]


def memray(path, function):
    from memray import FileReader
    size = calls = 0
    for rec in FileReader(path).get_leaked_allocation_records(merge_threads=True):
        if any(f[0] == function for f in rec.native_stack_trace()[:4]):
            size += rec.size
            calls += rec.n_allocations
    print(size, calls)


def memcheck_lost(xml, function):
    """Definitely lost (bytes, blocks) whose stack has FUNCTION."""
    size = blocks = 0
    for e in ET.parse(xml).getroot().iter("error"):
        if e.findtext("kind") != "Leak_DefinitelyLost":
            continue
        fns = [f.findtext("fn") for f in e.find("stack").findall("frame")]
        if function in fns:
            size += int(e.findtext("xwhat/leakedbytes"))
            blocks += int(e.findtext("xwhat/leakedblocks"))
    return size, blocks


UNITS = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9}


def heaptrack_lost(report, function):
    """heaptrack_print --print-leaks: (bytes, calls) leaked from FUNCTION
    (its top-level entry)."""
    lines = report.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines[:-1]):
        m = re.match(r"^([\d.]+)([KMG]?)B? leaked over (\d+) calls from$", line)
        if m and lines[i + 1].strip() == function:
            return float(m[1]) * UNITS[m[2]], int(m[3])
    return None


def named(work, prog, tool):
    """What the tool says of the leak: (names it, bytes per call)."""
    fn = FUNCTIONS[prog]
    name = f"{prog}-{tool}"
    if tool == "plain":
        return "-", None
    if tool == "watch-bare":
        return "no (sites off)", None
    if tool.startswith("watch"):
        try:
            w = json.loads((work / f"{name}.out").read_text())
        except (OSError, ValueError):
            return "no output", None
        if w.get("sites") is None:
            return "no (sites off)", None
        for s in w["sites"]["sites"]:
            if s["grows"] and s["function"] == fn:
                return f"yes, {fn} at {Path(s['file']).name}:{s['line']}", s["bytes_per_request"]
        return "no", None
    if tool == "heaptrack":
        found = heaptrack_lost(work / f"{name}.report", fn)
        return ("yes", found[0] / found[1]) if found else ("no", None)
    if tool == "memray":
        try:
            size, calls = map(int, (work / f"{name}.report").read_text().split())
        except (OSError, ValueError):
            return "no output", None
        return ("yes", size / calls) if calls else ("no", None)
    if tool == "memcheck":
        size, blocks = memcheck_lost(work / f"{name}.xml", fn)
        return ("yes", size / blocks) if blocks else ("no", None)
    raise ValueError(tool)


def table(work, reps):
    work = Path(work)
    print(f"| program | tool | CPU s | x plain | analysis CPU s | peak RSS MiB | x plain | "
          f"names the leaking function | B per call |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|")
    for prog in ["py", "c"]:
        base = None
        reference = memcheck_lost(work / f"{prog}-memcheck.xml", FUNCTIONS[prog])
        for tool in TOOLS:
            runs = work / f"{prog}-{tool}.runs"
            if not runs.exists():
                continue
            rows = [line.split() for line in runs.read_text().splitlines()]
            cpu = statistics.median(float(r[0]) for r in rows)
            rss = statistics.median(int(r[1]) for r in rows) / 1024
            if base is None:
                base = (cpu, rss)
            analysis = work / f"{prog}-{tool}.analysis"
            extra = analysis.read_text().strip() if analysis.exists() else "-"
            says, per = named(work, prog, tool)
            per = f"{per:.1f}" if per is not None else "-"
            ratio = lambda x, b: f"{x / b:.2f}" if b else "-"
            print(f"| {prog} | {tool} | {cpu:.2f} | {ratio(cpu, base[0])} | {extra} | "
                  f"{rss:.1f} | {ratio(rss, base[1])} | {says} | {per} |")
        if reference[1]:
            print(f"| {prog} | (memcheck definitely lost in {FUNCTIONS[prog]}) | | | | | | "
                  f"{reference[1]} blocks | {reference[0] / reference[1]:.1f} |")


if __name__ == "__main__":
    if sys.argv[1] == "memray":
        memray(sys.argv[2], sys.argv[3])
    else:
        table(sys.argv[2], int(sys.argv[3]))
