//! The suite's table, summary line, JSON, and exit code.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::SuiteRun;
use super::record::{Amount, Ending, TestRecord};

/// Which leak kinds fail the run: lost (definite + indirect) always,
/// possibly lost and still reachable on request; memory errors unless
/// narrowed away (`no-errors`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailOn {
    pub possible: bool,
    pub reachable: bool,
    /// `no-errors`: memory errors are shown but do not fail the run.
    pub ignore_errors: bool,
}

impl FailOn {
    /// Parses `--fail-on`: a comma list of `lost`, `possible`, `reachable`,
    /// `errors` (the default) or `no-errors`.
    pub fn parse(text: &str) -> Result<FailOn, String> {
        let mut on = FailOn::default();
        for kind in text.split(',').map(str::trim) {
            match kind {
                "lost" | "definite" | "indirect" => {}
                "possible" => on.possible = true,
                "reachable" => on.reachable = true,
                "errors" => on.ignore_errors = false,
                "no-errors" => on.ignore_errors = true,
                other => {
                    return Err(format!(
                        "--fail-on: unknown kind '{other}'; kinds: lost, possible, reachable, errors, no-errors"
                    ));
                }
            }
        }
        Ok(on)
    }

    /// What of `record` counts as a leak under these kinds, per side.
    pub fn counted(&self, record: &TestRecord) -> (Amount, Amount) {
        let side = |k: &super::record::Kinds| {
            let mut a = k.lost;
            if self.possible {
                a.add(k.possible.blocks, k.possible.bytes);
            }
            if self.reachable {
                a.add(k.reachable.blocks, k.reachable.bytes);
            }
            a
        };
        let (mut c, rust) = (side(&record.c), side(&record.rust));
        // Counters that found lost memory but could not tell the sides:
        // the whole of it, shown on neither side, still fails the test.
        if let Some(heap) = record.heap_at_exit
            && record.note.is_some()
            && c.is_zero()
            && rust.is_zero()
        {
            c = heap.lost;
        }
        (c, rust)
    }

    pub fn leaked(&self, record: &TestRecord) -> bool {
        let (c, rust) = self.counted(record);
        !c.is_zero() || !rust.is_zero()
    }
}

/// Exit codes of `cargo leaklab test`, checked in this order: 5, 2, 6, 4,
/// 1, 0 (the first that applies; the table shows the rest).
pub mod code {
    /// Every test passed and none lost memory.
    pub const CLEAN: i32 = 0;
    /// A test lost memory (by `--fail-on`).
    pub const LEAKED: i32 = 1;
    /// A test failed, crashed, timed out or could not be measured (leaks
    /// or not).
    pub const TEST_FAILED: i32 = 4;
    /// The crate did not build: nothing ran.
    pub const BUILD_FAILED: i32 = 5;
    /// cargo-nextest refused its arguments (an unknown flag, a bad filter
    /// expression, a setup error) and nothing ran: bad input, as leaklab's
    /// own (its message is printed above).
    pub const NEXTEST_REFUSED: i32 = 2;
    /// A test made a memory error: memcheck saw an invalid read or write,
    /// an invalid or double free, a jump on an uninitialised value (any
    /// error of its that is not a leak), under `--detector valgrind` or in
    /// the counters' re-run; or, under counters, glibc aborted the test on
    /// a bad free or a corrupted heap ("free(): double free detected").
    /// Whether or not other tests failed or leaked; `--fail-on no-errors`
    /// narrows it away (the errors are still shown).
    pub const MEMORY_ERROR: i32 = 6;
}

/// Whether the record has a memory error.
pub fn has_memory_error(record: &TestRecord) -> bool {
    !record.memory_errors.is_empty()
}

/// The exit code for `run`.
pub fn exit_code(run: &SuiteRun, fail_on: FailOn) -> i32 {
    if run.nextest_code == super::nextest_code::BUILD_FAILED && run.records.is_empty() {
        return code::BUILD_FAILED;
    }
    if run.records.is_empty()
        && run.listings.is_empty()
        && super::nextest_code::REFUSED.contains(&run.nextest_code)
    {
        return code::NEXTEST_REFUSED;
    }
    if !fail_on.ignore_errors && run.records.iter().any(has_memory_error) {
        return code::MEMORY_ERROR;
    }
    let doctests_failed = matches!(run.doctests, super::Doctests::Ran { code, .. } if code != 0);
    let failed = doctests_failed
        || run.records.iter().any(|r| r.ending != Ending::Passed)
        || (run.nextest_code != 0
            && run.nextest_code != super::nextest_code::NO_TESTS_RUN
            && run.records.iter().all(|r| r.ending == Ending::Passed));
    if failed {
        code::TEST_FAILED
    } else if run.records.iter().any(|r| fail_on.leaked(r)) {
        code::LEAKED
    } else {
        code::CLEAN
    }
}

/// Tests listed (and not ignored) that left no record: nextest filtered
/// them out, or their runner never got to write one.
pub fn unseen(run: &SuiteRun) -> Vec<String> {
    let seen: std::collections::BTreeSet<(&str, &str)> = run
        .records
        .iter()
        .map(|r| (r.binary.as_str(), r.test.as_str()))
        .collect();
    // libtest's plain listing names the ignored tests too.
    let ignored: std::collections::BTreeSet<(&str, &str)> = run
        .listings
        .iter()
        .flat_map(|l| {
            l.ignored
                .iter()
                .map(move |t| (l.binary.as_str(), t.as_str()))
        })
        .collect();
    let mut out: Vec<String> = run
        .listings
        .iter()
        .flat_map(|l| l.tests.iter().map(move |t| (l.binary.as_str(), t.as_str())))
        .filter(|key| !seen.contains(key) && !ignored.contains(key))
        .map(|(b, t)| format!("{t} ({b})"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A binary's name without cargo's hash: `custom` of `custom-0123abcd`.
fn stem(binary: &str) -> &str {
    match binary.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            stem
        }
        _ => binary,
    }
}

/// The test's name as the table shows it: a `harness = false` binary run
/// whole is named by its binary.
pub fn shown_name(r: &TestRecord) -> String {
    if r.test == super::runner::WHOLE_BINARY {
        format!("{} (harness = false, run whole)", stem(&r.binary))
    } else {
        r.test.clone()
    }
}

/// Test binaries whose listing named no test at all (a test target with
/// no tests): nothing of them ran.
pub fn empty_binaries(run: &SuiteRun) -> Vec<String> {
    let mut with_tests = std::collections::BTreeSet::new();
    let mut all = std::collections::BTreeSet::new();
    for l in &run.listings {
        all.insert(l.binary.as_str());
        if l.whole || !l.tests.is_empty() || !l.ignored.is_empty() {
            with_tests.insert(l.binary.as_str());
        }
    }
    all.difference(&with_tests)
        .map(|b| (*b).to_owned())
        .collect()
}

/// Tests marked `#[ignore]`, which nextest skips by default.
pub fn ignored(run: &SuiteRun) -> Vec<String> {
    let mut out: Vec<String> = run
        .listings
        .iter()
        .flat_map(|l| l.ignored.iter().map(move |t| format!("{t} ({})", l.binary)))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn ending_text(e: &Ending) -> String {
    match e {
        Ending::Passed => "passed".into(),
        Ending::Failed(code) => format!("FAILED (exit {code})"),
        Ending::Signal(s) => format!("KILLED (signal {s})"),
        Ending::NotMeasured(why) => format!("NOT MEASURED: {why}"),
        Ending::TimedOut(secs) => format!("TIMED OUT (after {secs} s)"),
    }
}

/// The result column: the first memory error's kind, else the ending.
fn result_text(r: &TestRecord) -> String {
    match r.memory_errors.first() {
        Some(e) if r.ending == Ending::Passed => format!("memory error: {}", e.kind),
        Some(e) => format!("memory error: {} ({})", e.kind, ending_text(&r.ending)),
        None => ending_text(&r.ending),
    }
}

/// The human table: one row per test, leaking tests first.
pub fn table(run: &SuiteRun, fail_on: FailOn) -> String {
    let mut rows: Vec<&TestRecord> = run.records.iter().collect();
    rows.sort_by(|a, b| {
        let bytes = |r: &TestRecord| {
            let (c, rust) = fail_on.counted(r);
            c.bytes + rust.bytes
        };
        bytes(b)
            .cmp(&bytes(a))
            .then_with(|| (&a.binary, &a.test).cmp(&(&b.binary, &b.test)))
    });
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    let counters = run.detector == super::Detector::Counters;
    // Same-named tests of two binaries (a workspace's members, integration
    // tests) are told apart by a binary column.
    let binaries: BTreeSet<&str> = run.records.iter().map(|r| stem(&r.binary)).collect();
    let by_binary = binaries.len() > 1;
    let floors = runtime_floors(run);
    let mut header = if by_binary {
        vec!["binary"]
    } else {
        Vec::new()
    };
    header.extend([
        "test",
        "result",
        "C lost",
        "Rust lost",
        "possibly lost",
        "reachable",
    ]);
    if counters {
        header.push("scan at exit: lost / possible beyond the runtime's");
    }
    header.push("top frame of the biggest record");
    t.set_header(header);
    for r in rows {
        let possible = sum(r.c.possible, r.rust.possible);
        let reachable = sum(r.c.reachable, r.rust.reachable);
        // A note without stacks: the sides are unknown.
        let (c, rust) = if r.note.is_some() && r.stacks_from.is_none() {
            ("?".to_owned(), "?".to_owned())
        } else {
            (r.c.lost.to_string(), r.rust.lost.to_string())
        };
        let mut row = if by_binary {
            vec![stem(&r.binary).to_owned()]
        } else {
            Vec::new()
        };
        row.extend([
            shown_name(r),
            result_text(r),
            c,
            rust,
            possible.to_string(),
            reachable.to_string(),
        ]);
        if counters {
            row.push(r.heap_at_exit.map_or("?".into(), |k| {
                let floor = floors.get(r.binary.as_str()).copied().unwrap_or_default();
                let beyond = if k.possible.blocks > floor.blocks {
                    Amount {
                        blocks: k.possible.blocks - floor.blocks,
                        bytes: k.possible.bytes - floor.bytes,
                    }
                } else {
                    Amount::default()
                };
                format!("{} / {}", k.lost, beyond)
            }));
        }
        // A memory error's frames: the access, the free, the allocation.
        let frame = match r.memory_errors.first() {
            Some(e) => e.frames(),
            None => r.top_frame.clone().unwrap_or_default(),
        };
        row.push(frame);
        t.add_row(row);
    }
    t.to_string()
}

/// Per binary, the possibly lost amount the counters' scan found in most
/// of its test processes: the runtime's own (the main thread's handle, the
/// test thread's TLS vector), alike in every process, shown once in the
/// summary rather than on every row. (Fewer, in a few processes: a stale
/// word happened to point at one of them, and it counted as reachable.)
pub fn runtime_floors(run: &SuiteRun) -> BTreeMap<&str, Amount> {
    let mut seen: BTreeMap<&str, BTreeMap<(i64, i64), usize>> = BTreeMap::new();
    for r in &run.records {
        if let Some(k) = r.heap_at_exit {
            *seen
                .entry(r.binary.as_str())
                .or_default()
                .entry((k.possible.blocks, k.possible.bytes))
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .filter_map(|(binary, counts)| {
            // The most frequent; on a tie, the smaller.
            let (&(blocks, bytes), _) = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
            Some((binary, Amount { blocks, bytes }))
        })
        .collect()
}

/// The binaries whose most frequent possibly lost amount is tied with
/// another (two test processes that differ, say): there the floor cannot
/// tell the runtime's blocks from a test's.
pub fn undecided_floors(run: &SuiteRun) -> std::collections::BTreeSet<&str> {
    let mut seen: BTreeMap<&str, BTreeMap<(i64, i64), usize>> = BTreeMap::new();
    for r in &run.records {
        if let Some(k) = r.heap_at_exit {
            *seen
                .entry(r.binary.as_str())
                .or_default()
                .entry((k.possible.blocks, k.possible.bytes))
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, counts)| {
            let top = counts.values().max().copied().unwrap_or(0);
            counts.values().filter(|&&n| n == top).count() > 1
        })
        .map(|(binary, _)| binary)
        .collect()
}

fn sum(a: Amount, b: Amount) -> Amount {
    Amount {
        blocks: a.blocks + b.blocks,
        bytes: a.bytes + b.bytes,
    }
}

/// One closing line, and what was not run.
pub fn summary(run: &SuiteRun, fail_on: FailOn) -> Vec<String> {
    let n = run.records.len();
    // A crash that is a memory error (glibc's abort) is counted once, as
    // the memory error.
    let errors = run.records.iter().filter(|r| has_memory_error(r)).count();
    let failed = run
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.ending,
                Ending::Failed(_) | Ending::Signal(_) | Ending::TimedOut(_)
            ) && !has_memory_error(r)
        })
        .count();
    let timed_out = run
        .records
        .iter()
        .filter(|r| matches!(r.ending, Ending::TimedOut(_)))
        .count();
    let unmeasured = run
        .records
        .iter()
        .filter(|r| matches!(r.ending, Ending::NotMeasured(_)))
        .count();
    let leaking: Vec<&TestRecord> = run.records.iter().filter(|r| fail_on.leaked(r)).collect();
    let (mut c, mut rust) = (Amount::default(), Amount::default());
    for r in &leaking {
        let (rc, rr) = fail_on.counted(r);
        c = sum(c, rc);
        rust = sum(rust, rr);
    }
    let timed_out = if timed_out > 0 {
        format!(" ({timed_out} timed out)")
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "{n} tests under {}: {} lost memory (C {c}, Rust {rust}), {errors} memory errors, {failed} failed{timed_out}, {unmeasured} not measured",
        run.detector.name(),
        leaking.len(),
    )];
    let instead: Vec<&TestRecord> = run
        .records
        .iter()
        .filter(|r| r.detector.starts_with("valgrind (counters bypassed)"))
        .collect();
    if !instead.is_empty() {
        lines.push(format!(
            "{} tests were measured by memcheck instead: the counters cannot see their binary (its malloc is neither the shim's nor leaklab's, or its global allocator is leaklab::Counting, whose blocks the counters leave out)",
            instead.len()
        ));
    }
    for (binary, floor) in runtime_floors(run) {
        if floor.blocks > 0 {
            lines.push(format!(
                "{}: the runtime's own {floor} possibly lost, in most of its test processes alike, left out of the rows",
                stem(binary)
            ));
        }
    }
    // A block the scan could only call "possible" (pointed to only inside)
    // may be lost: unless memcheck looked at the test, say so, never clean.
    let floors = runtime_floors(run);
    let unsure: Vec<String> = run
        .records
        .iter()
        .filter(|r| r.detector == "counters" || r.detector == super::runner::COUNTERS_SITES)
        .filter(|r| {
            r.heap_at_exit.is_some_and(|k| {
                floors
                    .get(r.binary.as_str())
                    .is_some_and(|f| k.possible.blocks > f.blocks)
            })
        })
        .map(shown_name)
        .collect();
    if !unsure.is_empty() {
        lines.push(format!(
            "{} tests kept possibly lost blocks beyond the runtime's that the scan cannot call lost or reachable \
             (only interior pointers to them): check them with --detector valgrind: {}",
            unsure.len(),
            unsure.join(", ")
        ));
    }
    for r in run.records.iter().filter(|r| r.note.is_some()) {
        lines.push(format!(
            "  {}: {}",
            shown_name(r),
            r.note.as_deref().unwrap_or_default()
        ));
    }
    for r in &run.records {
        for e in &r.memory_errors {
            let frames = e.frames();
            let frames = if frames.is_empty() {
                String::new()
            } else {
                format!("; {frames}")
            };
            lines.push(format!(
                "  {}: memory error: {} ({}x): {}{frames}",
                shown_name(r),
                e.kind,
                e.count,
                e.what
            ));
        }
    }
    let unseen = unseen(run);
    if !unseen.is_empty() {
        lines.push(format!(
            "{} listed tests were not run (filtered out, or their process never reported):",
            unseen.len()
        ));
        lines.extend(unseen.iter().map(|t| format!("  {t}")));
    }
    match &run.doctests {
        // No doctests: nothing to say.
        super::Doctests::Ran {
            processes: 0,
            code: 0,
        } => {}
        super::Doctests::Ran { processes, code } => lines.push(format!(
            "doctests: run under {} by `cargo test --doc`, rows \"doctest\" ({processes} process{}: edition 2024 runs a crate's doctests in one){}",
            run.detector.name(),
            if *processes == 1 { "" } else { "es" },
            if *code == 0 {
                String::new()
            } else {
                format!("; it exited with {code}")
            }
        )),
        super::Doctests::Counted(0) => {}
        super::Doctests::Counted(n) => {
            lines.push(format!(
            "doctests: {n} not run ({})",
            doctests_why(run.detector)
        ))
        }
        super::Doctests::Unknown(why) => lines.push(format!(
            "doctests: not run, and not counted: {why}"
        )),
    }
    let empty = empty_binaries(run);
    if !empty.is_empty() {
        lines.push(format!(
            "{} test binaries list no tests, so nothing of them ran: {}",
            empty.len(),
            empty.join(", ")
        ));
    }
    let ignored = ignored(run);
    if !ignored.is_empty() {
        lines.push(format!(
            "{} ignored tests were skipped (#[ignore]; nextest's --run-ignored runs them):",
            ignored.len()
        ));
        lines.extend(ignored.iter().map(|t| format!("  {t}")));
    }
    lines
}

/// Why the doctests were not run: `--detector lsan`, or `--no-doctests`.
pub fn doctests_why(detector: super::Detector) -> &'static str {
    match detector {
        super::Detector::Lsan => {
            "nextest does not run doctests, and rustdoc does not build them with the leak sanitizer; run `cargo test --doc` under another detector"
        }
        _ => "--no-doctests",
    }
}

/// The doctests' line of the JSON.
#[derive(Serialize)]
pub struct DoctestsJson {
    /// How many were not run; `None` when they could not be counted.
    pub not_run: Option<usize>,
    pub why: String,
}

impl DoctestsJson {
    pub fn of(run: &SuiteRun) -> DoctestsJson {
        match &run.doctests {
            super::Doctests::Ran { code, .. } => DoctestsJson {
                not_run: Some(0),
                why: format!(
                    "run under the detector by `cargo test --doc` (exit {code}); their rows are the tests named \"doctest\""
                ),
            },
            super::Doctests::Counted(n) => DoctestsJson {
                not_run: Some(*n),
                why: doctests_why(run.detector).into(),
            },
            super::Doctests::Unknown(why) => DoctestsJson {
                not_run: None,
                why: format!("not counted: {why}"),
            },
        }
    }
}

/// The whole run as JSON.
#[derive(Serialize)]
pub struct Json<'a> {
    pub detector: &'static str,
    pub exit_code: i32,
    pub tests: &'a [TestRecord],
    pub not_run: Vec<String>,
    pub ignored: Vec<String>,
    /// Test binaries that list no tests.
    pub empty_binaries: Vec<String>,
    pub doctests: DoctestsJson,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::record::{Kinds, MemoryError};

    fn record(ending: Ending, lost: i64, error: bool) -> TestRecord {
        TestRecord {
            binary: "b-0123456789abcdef".into(),
            test: "t".into(),
            ending,
            detector: "valgrind".into(),
            c: Kinds {
                lost: Amount {
                    blocks: lost,
                    bytes: lost * 8,
                },
                ..Kinds::default()
            },
            rust: Kinds::default(),
            heap_at_exit: None,
            top_frame: None,
            errors: Vec::new(),
            memory_errors: if error {
                vec![MemoryError {
                    kind: "InvalidRead".into(),
                    what: "Invalid read of size 8".into(),
                    count: 1,
                    at: Some("f (src/lib.rs:3)".into()),
                    allocated_at: None,
                    freed_at: None,
                }]
            } else {
                Vec::new()
            },
            suppressions: Vec::new(),
            stacks_from: None,
            note: None,
            lost_sites: Vec::new(),
            run_again: None,
        }
    }

    fn run(records: Vec<TestRecord>, nextest_code: i32) -> SuiteRun {
        SuiteRun {
            detector: super::super::Detector::Valgrind,
            records,
            listings: Vec::new(),
            nextest_code,
            doctests: super::super::Doctests::Counted(0),
        }
    }

    #[test]
    fn memory_errors_come_before_failures_and_leaks_unless_narrowed_away() {
        let all = FailOn::default();
        let errors = run(
            vec![
                record(Ending::Passed, 0, true),
                record(Ending::Failed(101), 0, false),
                record(Ending::Passed, 1, false),
            ],
            100,
        );
        assert_eq!(exit_code(&errors, all), code::MEMORY_ERROR);
        let narrowed = FailOn::parse("lost,no-errors").unwrap();
        assert_eq!(exit_code(&errors, narrowed), code::TEST_FAILED);
        let timed_out = run(vec![record(Ending::TimedOut(3), 0, false)], 100);
        assert_eq!(exit_code(&timed_out, all), code::TEST_FAILED);
        assert_eq!(
            exit_code(&run(vec![record(Ending::Passed, 1, false)], 0), all),
            code::LEAKED
        );
        assert_eq!(exit_code(&run(Vec::new(), 2), all), code::NEXTEST_REFUSED);
        assert!(FailOn::parse("lost,sometimes").is_err());
        assert!(!FailOn::parse("possible,errors").unwrap().ignore_errors);
    }

    #[test]
    fn a_whole_binary_is_named_by_its_target() {
        let mut r = record(Ending::Passed, 0, false);
        r.test = super::super::runner::WHOLE_BINARY.into();
        assert_eq!(shown_name(&r), "b (harness = false, run whole)");
        assert_eq!(stem("name-with-dash"), "name-with-dash");
    }
}
