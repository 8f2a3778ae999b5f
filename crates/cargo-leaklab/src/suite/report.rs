//! The suite's table, summary line, JSON, and exit code.

use serde::Serialize;

use super::SuiteRun;
use super::record::{Amount, Ending, TestRecord};

/// Which leak kinds fail the run: lost (definite + indirect) always,
/// possibly lost and still reachable on request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailOn {
    pub possible: bool,
    pub reachable: bool,
}

impl FailOn {
    /// Parses `--fail-on`: a comma list of `lost`, `possible`, `reachable`.
    pub fn parse(text: &str) -> Result<FailOn, String> {
        let mut on = FailOn::default();
        for kind in text.split(',').map(str::trim) {
            match kind {
                "lost" | "definite" | "indirect" => {}
                "possible" => on.possible = true,
                "reachable" => on.reachable = true,
                other => {
                    return Err(format!(
                        "--fail-on: unknown kind '{other}'; kinds: lost, possible, reachable"
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

/// Exit codes of `cargo leaklab test`.
pub mod code {
    /// Every test passed and none lost memory.
    pub const CLEAN: i32 = 0;
    /// A test lost memory (by `--fail-on`).
    pub const LEAKED: i32 = 1;
    /// A test failed, crashed or could not be measured (leaks or not).
    pub const TEST_FAILED: i32 = 4;
    /// The crate did not build: nothing ran.
    pub const BUILD_FAILED: i32 = 5;
}

/// The exit code for `run`.
pub fn exit_code(run: &SuiteRun, fail_on: FailOn) -> i32 {
    if run.nextest_code == super::nextest_code::BUILD_FAILED && run.records.is_empty() {
        return code::BUILD_FAILED;
    }
    let failed = run.records.iter().any(|r| r.ending != Ending::Passed)
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
    let mut header = vec![
        "test",
        "result",
        "C lost",
        "Rust lost",
        "possibly lost",
        "reachable",
    ];
    if counters {
        header.push("heap at exit: lost / possible (counters' scan)");
    }
    header.push("top frame of the biggest record");
    t.set_header(header);
    for r in rows {
        let possible = sum(r.c.possible, r.rust.possible);
        let reachable = sum(r.c.reachable, r.rust.reachable);
        let (c, rust) = if r.note.is_some() {
            ("?".to_owned(), "?".to_owned())
        } else {
            (r.c.lost.to_string(), r.rust.lost.to_string())
        };
        let mut row = vec![
            r.test.clone(),
            ending_text(&r.ending),
            c,
            rust,
            possible.to_string(),
            reachable.to_string(),
        ];
        if counters {
            row.push(
                r.heap_at_exit
                    .map_or("?".into(), |k| format!("{} / {}", k.lost, k.possible)),
            );
        }
        row.push(r.top_frame.clone().unwrap_or_default());
        t.add_row(row);
    }
    t.to_string()
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
    let failed = run
        .records
        .iter()
        .filter(|r| matches!(r.ending, Ending::Failed(_) | Ending::Signal(_)))
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
    let mut lines = vec![format!(
        "{n} tests under {}: {} lost memory (C {c}, Rust {rust}), {failed} failed, {unmeasured} not measured",
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
            "{} tests were measured by memcheck instead: their binary defines malloc itself (it links leaklab), which the counters' shim cannot see",
            instead.len()
        ));
    }
    for r in run.records.iter().filter(|r| r.note.is_some()) {
        lines.push(format!(
            "  {}: {}",
            r.test,
            r.note.as_deref().unwrap_or_default()
        ));
    }
    for r in run.records.iter().filter(|r| !r.errors.is_empty()) {
        for e in &r.errors {
            lines.push(format!("  {}: memcheck error: {e}", r.test));
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

/// The whole run as JSON.
#[derive(Serialize)]
pub struct Json<'a> {
    pub detector: &'static str,
    pub exit_code: i32,
    pub tests: &'a [TestRecord],
    pub not_run: Vec<String>,
    pub ignored: Vec<String>,
}
