//! valgrind's memcheck as a detector: the child runs under
//!
//! ```text
//! valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all \
//!     --errors-for-leak-kinds=definite,indirect --xml=yes --xml-file=<tmp> \
//!     --suppressions=valgrind/rust-runtime.supp --num-callers=40 \
//!     --soname-synonyms=somalloc=NONE leaklab __child <scenario> <variant> <backend> <N> ...
//! ```
//!
//! and its XML is read back ([`xml`]): every loss record by leak kind and
//! by side ([`attribution`]), and every other memcheck error.
//!
//! memcheck sees the whole process at exit, not the counters' window, so
//! what it should see is derived in [`expect`]: the priming iteration leaks
//! too (N + 1 iterations' worth). The comparison is exact, side by side and class by class: a lost leak must
//! be exactly lost, a reachable cache exactly still reachable, and nothing
//! else may show up, which is why the process's own one-off allocations
//! are suppressed by valgrind/rust-runtime.supp (reachable ones only) and
//! never filtered by size here.
//!
//! Scenarios expected to grow without bound (unbounded-int leaky) are not
//! run: memcheck reports leaks at exit, and such a run has no exit but the
//! allocation that fails, which without an address-space cap (valgrind
//! needs its own room) is the whole machine's memory. The growth detector
//! and the counters' memory cap are the tools for that leak; valgrind's
//! observation says "skipped: unbounded" and counts as what is expected of
//! it, the way a reachable cache being "not a leak" to it is expected.

pub mod attribution;
pub mod expect;
pub mod xml;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use self::attribution::Side;
use self::expect::{Amount, AtExit, SideAmounts};
use self::xml::{LeakKind, LossRecord, MemError, SuppressionUse};
use super::{Observation, Outcome, Request, Unavailable};
use crate::heap::Snapshot;
use crate::run::isolate::{ChildRun, Limits, run_child};
use crate::run::measure::Plan;
use crate::scenarios::{BackendChoice, Variant};

pub const NAME: &str = "valgrind";

/// Loss records whose stacks the human output shows.
pub const SHOWN_STACKS: usize = 3;

/// How much longer than a plain child a memcheck child may take: memcheck
/// runs code 10 to 50 times slower, most of it in start-up and the final
/// leak scan, which do not grow with the iterations.
const TIME_FACTOR: u32 = 10;

/// Memcheck errors whose stacks a report keeps.
const ERRORS_KEPT: usize = 3;

/// Ok if `valgrind` runs here; else what to install.
pub fn available() -> Result<(), String> {
    const MISSING: &str = "valgrind is not installed; install it with: apt-get install valgrind";
    let output = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|_| MISSING.to_owned())?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !version.starts_with("valgrind-") {
        return Err(format!(
            "{MISSING} (`valgrind --version` said: {})",
            version.trim()
        ));
    }
    let supp = suppressions_file();
    if !supp.is_file() {
        return Err(format!(
            "valgrind's suppressions file {} is missing",
            supp.display()
        ));
    }
    Ok(())
}

/// valgrind/rust-runtime.supp in the source tree this lab was built from.
pub fn suppressions_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("valgrind/rust-runtime.supp")
}

/// memcheck's command line, up to the child's own.
pub fn wrapper(xml_file: &std::path::Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=memcheck".into(),
        "--leak-check=full".into(),
        "--show-leak-kinds=all".into(),
        "--errors-for-leak-kinds=definite,indirect".into(),
        "--xml=yes".into(),
        format!("--xml-file={}", xml_file.display()),
        format!("--suppressions={}", suppressions_file().display()),
        "--num-callers=40".into(),
        // Replace the allocator the executable itself exports (the lab's
        // interposer, src/heap/interpose.rs) too: memcheck then sees every
        // block directly, and the interposer steps aside.
        "--soname-synonyms=somalloc=NONE".into(),
    ]
}

/// A child's limits under memcheck: no address-space cap (valgrind maps
/// its own shadow memory far beyond the client's), more time.
pub fn limits(base: Limits) -> Limits {
    Limits {
        mem_cap: 0,
        time_limit: base
            .time_limit
            .saturating_mul(TIME_FACTOR)
            .max(Duration::from_secs(60)),
    }
}

/// Memory by memcheck's leak kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindTotals {
    pub definitely_lost: Amount,
    pub indirectly_lost: Amount,
    pub possibly_lost: Amount,
    pub still_reachable: Amount,
}

impl KindTotals {
    fn add(&mut self, record: &LossRecord) {
        let amount = Amount {
            blocks: record.blocks,
            bytes: record.bytes,
        };
        let slot = match record.kind {
            LeakKind::DefinitelyLost => &mut self.definitely_lost,
            LeakKind::IndirectlyLost => &mut self.indirectly_lost,
            LeakKind::PossiblyLost => &mut self.possibly_lost,
            LeakKind::StillReachable => &mut self.still_reachable,
        };
        *slot = *slot + amount;
    }

    /// The classes the expectations speak of: lost is every block with no
    /// start pointer from a root, definitely, indirectly or possibly lost.
    /// "Possibly" only says that some word memcheck scanned happens to point
    /// inside the block: at 1000 iterations of zlib-deflate-stream memcheck
    /// finds such words (in a segment of valgrind's own, not the program's)
    /// for about 12 of 5005 lost blocks. The part is kept and shown.
    pub fn amounts(&self) -> SideAmounts {
        SideAmounts {
            lost: self.definitely_lost + self.indirectly_lost + self.possibly_lost,
            possibly_lost: self.possibly_lost,
            reachable: self.still_reachable,
        }
    }
}

/// Memcheck's non-leak errors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErrorSummary {
    /// Occurrences in all.
    pub count: u64,
    /// Distinct errors (by stack).
    pub unique: usize,
    /// The first few, with their stacks.
    pub first: Vec<MemError>,
}

/// How the child under memcheck ended.
#[derive(Debug, Clone, Serialize)]
pub struct ChildSummary {
    pub completed: u64,
    pub error: Option<String>,
    /// "exit 0", "signal 6", "timed out".
    pub status: String,
    /// The exit code, if it exited (rather than died of a signal).
    pub exit_code: Option<i32>,
    pub success: bool,
    pub elapsed_ms: u64,
    /// What the child's own counters saw leak over the N measured
    /// iterations of this very run (priming excluded): the Rust side only,
    /// since the C interposer steps aside under memcheck.
    pub counters_leaked: Option<Snapshot>,
    /// The child said its C allocator was not interposed: memcheck replaced
    /// it, as it must for an independent count.
    pub interposer_stepped_aside: bool,
}

/// memcheck's view of one scenario variant.
#[derive(Debug, Clone, Serialize)]
pub struct ValgrindReport {
    pub scenario: String,
    pub variant: Variant,
    pub backend: BackendChoice,
    pub iterations: u64,
    /// Iterations the process ran, the priming one included.
    pub runs: u64,
    pub command: Vec<String>,
    /// Both sides together, by leak kind.
    pub total: KindTotals,
    pub c: KindTotals,
    pub rust: KindTotals,
    pub errors: ErrorSummary,
    pub records: Vec<LossRecord>,
    /// Suppressions that matched, and how often.
    pub suppressed: Vec<SuppressionUse>,
    pub child: ChildSummary,
}

impl ValgrindReport {
    pub fn side(&self, side: Side) -> &KindTotals {
        match side {
            Side::C => &self.c,
            Side::Rust => &self.rust,
        }
    }

    /// What memcheck saw at exit, in the expectations' terms.
    pub fn at_exit(&self) -> AtExit {
        AtExit {
            runs: self.runs,
            c: self.c.amounts(),
            rust: self.rust.amounts(),
        }
    }
}

/// Runs the variant under memcheck and reads its report. An `Err` means
/// memcheck could not run or its output could not be read; a child that
/// failed under it is reported (`child.success`), not an `Err`.
pub fn report(req: &Request<'_>) -> Result<ValgrindReport, String> {
    available()?;
    let expected = (req.scenario.expected)(req.variant, req.backend);
    if expected.is_unbounded() {
        return Err(format!(
            "{} {} grows without bound: valgrind does not run it (no exit to check)",
            req.scenario.id,
            req.variant.as_str()
        ));
    }
    let xml_file = xml_path();
    let wrapper = wrapper(&xml_file);
    let plan = Plan {
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        sample_every: 0,
        stacks: false,
    };
    let child = run_child(req.scenario.id, plan, limits(req.limits), &wrapper)?;
    let text = std::fs::read_to_string(&xml_file).map_err(|e| {
        format!(
            "valgrind wrote no XML to {} ({e}); its stderr ends: {}",
            xml_file.display(),
            tail(&child.stderr)
        )
    })?;
    let parsed = xml::parse(&text).map_err(|e| format!("{e} (in {})", xml_file.display()))?;
    let _ = std::fs::remove_file(&xml_file);
    let mut report = ValgrindReport {
        scenario: req.scenario.id.to_owned(),
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        runs: expect::runs(&expected, req.iterations),
        command: wrapper,
        total: KindTotals::default(),
        c: KindTotals::default(),
        rust: KindTotals::default(),
        errors: summarize_errors(parsed.errors),
        records: parsed.records,
        suppressed: parsed.suppressions,
        child: summarize_child(&child),
    };
    for record in &report.records {
        report.total.add(record);
        match record.side {
            Side::C => report.c.add(record),
            Side::Rust => report.rust.add(record),
        }
    }
    Ok(report)
}

fn summarize_errors(errors: Vec<MemError>) -> ErrorSummary {
    ErrorSummary {
        count: errors.iter().map(|e| e.count).sum(),
        unique: errors.len(),
        first: errors.into_iter().take(ERRORS_KEPT).collect(),
    }
}

/// How a child ended, for a report (shared with LeakSanitizer).
pub fn summarize_child(child: &ChildRun) -> ChildSummary {
    use std::os::unix::process::ExitStatusExt;
    let status = match (child.timed_out, child.status) {
        (true, _) => "timed out".to_owned(),
        (false, Some(s)) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "unknown".to_owned(),
        },
        (false, None) => "unknown".to_owned(),
    };
    let finish = child.finish.as_ref();
    ChildSummary {
        completed: finish.map_or(0, |f| f.completed),
        error: finish.map_or_else(
            || {
                Some(format!(
                    "no result record; stderr ends: {}",
                    tail(&child.stderr)
                ))
            },
            |f| f.error.clone(),
        ),
        exit_code: child.status.and_then(|s| s.code()),
        success: !child.timed_out && child.status.is_some_and(|s| s.success()),
        status,
        elapsed_ms: child.elapsed.as_millis() as u64,
        counters_leaked: finish.map(|f| f.after_teardown.since(f.before)),
        interposer_stepped_aside: finish.is_some_and(|f| !f.c_counted),
    }
}

/// Every way `report` falls short of `want`: the child did not finish its
/// iterations, memcheck found errors, or a side's lost, possibly lost or
/// still reachable memory differs from what is expected. Empty: it matches.
pub fn check(report: &ValgrindReport, want: &AtExit) -> Vec<String> {
    let mut out = Vec::new();
    let child = &report.child;
    if !child.success || child.error.is_some() || child.completed != report.iterations {
        out.push(format!(
            "the child did not finish cleanly under valgrind: {}, {}/{} iterations{}",
            child.status,
            child.completed,
            report.iterations,
            child
                .error
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        ));
    }
    if child.completed > 0 && !child.interposer_stepped_aside {
        out.push(
            "the lab's C allocator interposer ran under memcheck (it should step aside: \
             --soname-synonyms=somalloc=NONE), so memcheck did not see every block directly"
                .into(),
        );
    }
    if report.errors.count > 0 {
        let kinds: Vec<&str> = report
            .errors
            .first
            .iter()
            .map(|e| e.kind.as_str())
            .collect();
        out.push(format!(
            "{} memcheck errors ({})",
            report.errors.count,
            kinds.join(", ")
        ));
    }
    out.extend(expect::differences(&report.at_exit(), want));
    out
}

/// "C 66 blk/4697 B lost; Rust clean; 0 errors".
pub fn observed_summary(report: &ValgrindReport) -> String {
    let at = report.at_exit();
    format!(
        "{}; {}; {} errors",
        expect::describe_side(Side::C, &at.c),
        expect::describe_side(Side::Rust, &at.rust),
        report.errors.count
    )
}

/// The same words for what is expected.
pub fn expected_summary(want: &AtExit) -> String {
    format!(
        "{}; {}; 0 errors",
        expect::describe_side(Side::C, &want.c),
        expect::describe_side(Side::Rust, &want.rust)
    )
}

/// memcheck's observation of one scenario variant.
pub fn observe(req: &Request<'_>) -> Outcome {
    let unavailable = |reason| Unavailable {
        detector: NAME,
        reason,
        by_design: false,
    };
    available().map_err(unavailable)?;
    let expected = (req.scenario.expected)(req.variant, req.backend);
    let Some(want) = expect::at_exit(&expected, req.iterations) else {
        return Err(super::skipped_unbounded(
            NAME,
            "grows without bound within one iteration: a memcheck run has no exit to check; \
             the growth detector and the counters' memory cap see it",
        ));
    };
    let report = report(req).map_err(unavailable)?;
    let mismatches = check(&report, &want);
    let stacks = super::LeakStack::biggest(
        report
            .records
            .iter()
            .filter(|r| r.kind != LeakKind::StillReachable)
            .map(|r| (r.side, r.what_kind(), r.blocks, r.bytes, r.stack.as_slice())),
        SHOWN_STACKS,
    );
    Ok(Observation {
        stacks,
        detector: NAME,
        observed: observed_summary(&report),
        expected: expected_summary(&want),
        matches: mismatches.is_empty(),
        detail: serde_json::json!({
            "report": report,
            "expected_at_exit": want,
            "mismatches": mismatches,
        }),
    })
}

/// Where memcheck writes its XML for one run.
fn xml_path() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("leaklab-valgrind-{}-{n}.xml", std::process::id()))
}

/// The last few lines of a child's stderr, on one line.
pub fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
