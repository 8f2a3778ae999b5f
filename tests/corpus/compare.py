#!/usr/bin/env python3
"""Compares `cargo leaklab test --json` reports with the corpus's truth.

Usage: compare.py OUT_DIR GROUP... (run.sh calls it)

OUT_DIR holds GROUP.DETECTOR.json (the report), GROUP.DETECTOR.rc (the
exit code), times.tsv (GROUP, DETECTOR, seconds) and, where run.sh ran a
selection of a group's tests, GROUP.select (a regex of their names: the
other rows are left out); each GROUP's truth is
tests/corpus/GROUP/expected.tsv. Prints one row per test (its expected
verdict, then per detector "=" when the observed verdict agrees, else the
observed verdict), a table per group and detector, the totals of each kind
of disagreement, and the wall time per detector. Exits 1 on any
disagreement, 0 otherwise.

A verdict is: the lost blocks/bytes per side (memcheck's definitely plus
indirectly lost; C and Rust), the memory errors, and how the process ended.
A test whose truth is outside what its detector's documentation says it
sees is "n/a" there, not a disagreement, provided the detector reports no
lost memory for it (scope_gap below says which, and where it is written).
"""

import json
import os
import re
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
WHOLE = "leaklab::whole-binary"
DETECTORS = ["counters", "valgrind", "lsan"]

# glibc's abort messages, as the counters name them, in memcheck's words.
KIND_ALIASES = {"double free": "InvalidFree", "invalid free": "InvalidFree"}


def parse_amount(text):
    """'1/24' -> (1, 24, False); '1/>=32768' -> (1, 32768, True)."""
    blocks, bytes_ = text.split("/")
    at_least = bytes_.startswith(">=")
    return int(blocks), int(bytes_.lstrip(">=")), at_least


class Expected:
    def __init__(self, group, line):
        cols = line.rstrip("\n").split("\t")
        self.group = group
        self.key, self.verdict, c, rust, self.ending = cols[:5]
        self.note = cols[5] if len(cols) > 5 else ""
        self.c = parse_amount(c)
        self.rust = parse_amount(rust)

    def shown(self):
        if self.verdict == "timeout":
            return "timed out"
        if self.verdict.startswith("error:"):
            text = self.verdict[len("error:"):]
        elif self.verdict == "clean":
            text = "clean"
        else:
            text = " ".join(
                f"{side} {b}/{'>=' if least else ''}{n}"
                for side, (b, n, least) in (("C", self.c), ("R", self.rust))
                if b or n
            )
        if self.ending not in ("passed", "*", "timeout"):
            text += f" ({self.ending})"
        return text


def read_expected(group):
    rows = []
    with open(os.path.join(HERE, group, "expected.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                rows.append(Expected(group, line))
    return rows


def stem(binary):
    name, _, tail = binary.rpartition("-")
    if name and len(tail) == 16 and all(c in "0123456789abcdef" for c in tail):
        return name
    return binary


def keys(record):
    """The names an expected row may give a record: plain and BIN/TEST."""
    if record["binary"] == "doctests":
        return ["doctest"]
    if record["test"] == WHOLE:
        return [f"{stem(record['binary'])} (whole)"]
    return [record["test"], f"{stem(record['binary'])}/{record['test']}"]


def ending(record):
    e = record["ending"]
    if e == "passed":
        return "passed"
    (kind, value), = e.items()
    return {"failed": f"failed:{value}", "signal": f"signal:{value}",
            "timed-out": "timeout", "not-measured": "not-measured"}[kind]


class Observed:
    def __init__(self, record):
        self.record = record
        lost = lambda side: (record[side]["lost"]["blocks"], record[side]["lost"]["bytes"])
        self.c, self.rust = lost("c"), lost("rust")
        self.kinds = sorted({KIND_ALIASES.get(e["kind"], e["kind"])
                             for e in record.get("memory_errors") or []})
        self.ending = ending(record)

    def shown(self):
        if self.ending == "timeout":
            return "timed out"
        parts = [f"{side} {b}/{n}" for side, (b, n) in (("C", self.c), ("R", self.rust)) if b or n]
        parts += self.kinds
        text = " ".join(parts) or "clean"
        if self.ending != "passed":
            text += f" ({self.ending})"
        return text


def amount_ok(expected, observed):
    blocks, bytes_, at_least = expected
    return observed[0] == blocks and (observed[1] >= bytes_ if at_least else observed[1] == bytes_)


def agrees(exp, obs):
    """The list of what differs (empty: agrees)."""
    wrong = []
    if exp.verdict == "timeout":
        return [] if obs.ending == "timeout" else ["hang missed"]
    if obs.ending == "timeout":
        return ["timed out"]
    if not amount_ok(exp.c, obs.c) or not amount_ok(exp.rust, obs.rust):
        wrong.append("lost")
    want = [exp.verdict[len("error:"):]] if exp.verdict.startswith("error:") else []
    if want and not set(want) <= set(obs.kinds):
        wrong.append("error missed")
    if set(obs.kinds) - set(want):
        wrong.append("false error")
    if exp.ending != "*" and exp.ending != obs.ending:
        wrong.append("ending")
    return wrong


def scope_gap(exp, detector):
    """Why `detector` is documented not to see `exp`'s truth, or None."""
    kind = exp.verdict[len("error:"):] if exp.verdict.startswith("error:") else None
    if detector == "lsan" and kind:
        return "LeakSanitizer finds leaks only"
    if detector == "lsan" and exp.key == "doctest":
        return "doctests are not run under lsan (docs/cargo-leaklab-test.md)"
    if detector == "counters" and kind and kind != "InvalidFree":
        return ("counters see a memory error only when glibc aborts on it "
                "(docs/cargo-leaklab-test.md)")
    return None


def classify(exp, obs, totals):
    """Adds a disagreement's kinds to the totals."""
    if obs is None:
        totals["silent skips"] += 1
        return
    if exp.verdict == "timeout" or obs.ending == "timeout":
        totals["hangs"] += 1
        return
    e_blocks = exp.c[0] + exp.rust[0]
    o_blocks = obs.c[0] + obs.rust[0]
    if o_blocks < e_blocks:
        totals["missed lost blocks"] += e_blocks - o_blocks
    if e_blocks == 0 and o_blocks > 0:
        totals['false "lost" (tests)'] += 1
    elif o_blocks >= e_blocks > 0 and (obs.c[0] != exp.c[0] or obs.rust[0] != exp.rust[0]):
        totals["wrong sides (tests)"] += 1
    elif o_blocks > e_blocks:
        totals["extra lost blocks"] += o_blocks - e_blocks
    if o_blocks == e_blocks and (not amount_ok(exp.c, obs.c) or not amount_ok(exp.rust, obs.rust)) \
            and obs.c[0] == exp.c[0]:
        totals["wrong bytes (tests)"] += 1
    want = exp.verdict.startswith("error:")
    if want and exp.verdict[len("error:"):] not in obs.kinds:
        totals["missed memory errors"] += 1
    if set(obs.kinds) - ({exp.verdict[len("error:"):]} if want else set()):
        totals["false memory errors"] += 1
    if exp.ending not in ("*", obs.ending):
        totals["wrong endings"] += 1


def main():
    out, groups = sys.argv[1], sys.argv[2:]
    detectors = [d for d in DETECTORS
                 if any(os.path.exists(os.path.join(out, f"{g}.{d}.json")) for g in groups)]
    totals = {d: defaultdict(int) for d in detectors}
    summary = {}  # (group, detector) -> [expected, agree, disagree, n/a]
    disagreements = []
    failed_runs = []
    print("| test" + " " * 30 + " | expected" + " " * 12 + " | "
          + " | ".join(f"{d:<16}" for d in detectors) + " |")
    for group in groups:
        expected = read_expected(group)
        select = os.path.join(out, f"{group}.select")
        if os.path.exists(select):
            with open(select) as f:
                pattern = re.compile(f.read().strip())
            expected = [e for e in expected if pattern.search(e.key)]
        reports = {}
        for d in detectors:
            path = os.path.join(out, f"{group}.{d}.json")
            try:
                with open(path) as f:
                    reports[d] = json.load(f)
            except (OSError, ValueError) as e:
                reports[d] = None
                failed_runs.append(f"{group} under {d}: no JSON report ({e})")
        # Each detector's records, by every key they answer to.
        pools = {}
        for d, report in reports.items():
            pool = defaultdict(list)
            for r in (report or {}).get("tests", []):
                for k in keys(r):
                    pool[k].append(r)
            pools[d] = pool
        print(f"| **{group}**")
        for exp in expected:
            cells = []
            for d in detectors:
                s = summary.setdefault((group, d), [0, 0, 0, 0])
                s[0] += 1
                # A record not yet taken by an earlier row of the same key
                # (doctests: one row each), the one that agrees first.
                candidates = [r for r in pools[d].get(exp.key, []) if not r.get("_taken")]
                obs = None
                for r in candidates:
                    if not agrees(exp, Observed(r)):
                        obs = Observed(r)
                        break
                if obs is None and candidates:
                    obs = Observed(candidates[0])
                if obs is not None:
                    obs.record["_taken"] = True
                gap = scope_gap(exp, d)
                if obs is not None and not agrees(exp, obs):
                    s[1] += 1
                    cells.append("=")
                elif gap and (obs is None or (obs.c == (0, 0) and obs.rust == (0, 0)
                                             and obs.ending != "timeout")):
                    s[3] += 1
                    cells.append("n/a " + (obs.shown() if obs else "not run"))
                else:
                    s[2] += 1
                    shown = obs.shown() if obs else "NOT RUN"
                    cells.append(shown)
                    classify(exp, obs, totals[d])
                    named = reports[d] and any(exp.key in n for n in
                                               (reports[d].get("not_run", []) + reports[d].get("ignored", [])))
                    disagreements.append(
                        f"{group} {exp.key} under {d}: expected {exp.shown()}, observed {shown}"
                        + (" (named as not run)" if obs is None and named else "")
                        + (f" [{', '.join(agrees(exp, obs))}]" if obs else ""))
            print(f"| {exp.key[:34]:<34} | {exp.shown()[:20]:<20} | "
                  + " | ".join(f"{c[:16]:<16}" for c in cells) + " |")
        # Records no expected row names: a test the truth does not know.
        for d in detectors:
            for k, rs in pools[d].items():
                for r in rs:
                    if not r.get("_taken") and k == keys(r)[0]:
                        r["_taken"] = True
                        disagreements.append(f"{group} {k} under {d}: not in expected.tsv, "
                                             f"observed {Observed(r).shown()}")
                        totals[d]["unexpected records"] += 1

    print()
    print("| group | detector | expected | agree | disagree | n/a (out of scope) |")
    print("|---|---|---:|---:|---:|---:|")
    for (group, d), (n, ok, bad, na) in summary.items():
        print(f"| {group} | {d} | {n} | {ok} | {bad} | {na} |")
    for d in detectors:
        n = sum(v[0] for (g, dd), v in summary.items() if dd == d)
        ok = sum(v[1] for (g, dd), v in summary.items() if dd == d)
        bad = sum(v[2] for (g, dd), v in summary.items() if dd == d)
        na = sum(v[3] for (g, dd), v in summary.items() if dd == d)
        print(f"| **all** | {d} | {n} | {ok} | {bad} | {na} |")

    print()
    kinds = ["missed lost blocks", "wrong sides (tests)", 'false "lost" (tests)', "extra lost blocks",
             "wrong bytes (tests)", "missed memory errors", "false memory errors", "wrong endings",
             "hangs", "silent skips", "unexpected records"]
    print("| disagreements | " + " | ".join(detectors) + " |")
    print("|---|" + "---:|" * len(detectors))
    for k in kinds:
        print(f"| {k} | " + " | ".join(str(totals[d][k]) for d in detectors) + " |")

    times = defaultdict(dict)
    tpath = os.path.join(out, "times.tsv")
    if os.path.exists(tpath):
        with open(tpath) as f:
            for line in f:
                g, d, sec = line.split()
                times[d][g] = int(sec)
    print()
    for d in ["build"] + detectors:
        if d in times:
            per = ", ".join(f"{g} {s}" for g, s in times[d].items())
            print(f"wall time, {d}: {sum(times[d].values())} s ({per})")

    if disagreements or failed_runs:
        print()
        for line in failed_runs + disagreements:
            print(f"DISAGREE: {line}")
        print(f"corpus: {len(disagreements)} disagreements, {len(failed_runs)} runs without a report")
        return 1
    print("corpus: every verdict agrees with the truth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
