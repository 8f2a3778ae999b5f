//! valgrind's memcheck as a detector: the child runs under
//!
//! ```text
//! valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all \
//!     --errors-for-leak-kinds=definite,indirect --xml=yes --xml-file=<tmp> \
//!     --suppressions=crates/cargo-leaklab/valgrind/rust-runtime.supp \
//!     --suppressions=crates/cargo-leaklab/valgrind/c-libraries.supp --num-callers=40 \
//!     --soname-synonyms=somalloc=NONE leaklab __child <scenario> <variant> <backend> <N> ...
//! ```
//!
//! and its XML is read back ([`xml`]): every loss record by leak kind and
//! by side ([`super::at_exit::attribution`]), and every other memcheck
//! error. What it shares with LeakSanitizer, the other checker at exit, is
//! in [`super::at_exit`].
//!
//! memcheck sees the whole process at exit, not the counters' window, so
//! what it should see is derived in [`super::at_exit::expect`]: the
//! priming iteration leaks too (N + 1 iterations' worth). The comparison
//! is exact, side by side and class by class: a lost leak must
//! be exactly lost, a reachable cache exactly still reachable, and nothing
//! else may show up, which is why the process's own one-off allocations
//! are suppressed by valgrind/rust-runtime.supp and, for the C libraries'
//! once-only state, valgrind/c-libraries.supp (reachable ones only) and
//! never filtered by size here.
//!
//! Scenarios expected to grow without bound (unbounded-int leaky) are not
//! run: memcheck reports leaks at exit, and such a run has no exit but the
//! allocation that fails, which without an address-space cap (valgrind
//! needs its own room) is the whole machine's memory. The growth detector
//! and the counters' memory cap are the tools for that leak; valgrind's
//! observation says "skipped: unbounded" and counts as what is expected of
//! it, the way a reachable cache being "not a leak" to it is expected.

pub use cargo_leaklab::parse::valgrind_xml as xml;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use self::xml::{LeakKind, LossRecord, MemError, SuppressionUse};
use super::at_exit::attribution::Side;
use super::at_exit::expect::{self, Amount, AtExit, SideAmounts};
use super::at_exit::{self as checker, Checker, ChildSummary, Sides, Totals, Workload, tail};
use super::{Outcome, Request};
use crate::run::isolate::{Limits, run_child};

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
    for supp in suppressions_files() {
        if !supp.is_file() {
            return Err(format!(
                "valgrind's suppressions file {} is missing",
                supp.display()
            ));
        }
    }
    Ok(())
}

/// rust-runtime.supp and c-libraries.supp, the CLI crate's built-in
/// suppressions (crates/cargo-leaklab/valgrind/), in the source tree this
/// lab was built from.
pub fn suppressions_files() -> [PathBuf; 2] {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/cargo-leaklab/valgrind");
    [dir.join("rust-runtime.supp"), dir.join("c-libraries.supp")]
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
        // A forked child (a fault sweep's) would mix its XML into ours.
        "--child-silent-after-fork=yes".into(),
        format!("--xml-file={}", xml_file.display()),
        format!("--suppressions={}", suppressions_files()[0].display()),
        format!("--suppressions={}", suppressions_files()[1].display()),
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
}

impl Totals for KindTotals {
    /// The classes the expectations speak of: lost is every block with no
    /// start pointer from a root, definitely, indirectly or possibly lost.
    /// "Possibly" only says that some word memcheck scanned happens to point
    /// inside the block: at 1000 iterations of zlib-deflate-stream memcheck
    /// finds such words (in a segment of valgrind's own, not the program's)
    /// for about 12 of 5005 lost blocks. The part is kept and shown.
    fn amounts(&self) -> SideAmounts {
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

/// memcheck's view of one scenario variant.
#[derive(Debug, Clone, Serialize)]
pub struct ValgrindReport {
    #[serde(flatten)]
    pub workload: Workload,
    pub command: Vec<String>,
    /// Both sides together, by leak kind.
    pub total: KindTotals,
    #[serde(flatten)]
    pub sides: Sides<KindTotals>,
    pub errors: ErrorSummary,
    pub records: Vec<LossRecord>,
    /// Suppressions that matched, and how often.
    pub suppressed: Vec<SuppressionUse>,
    pub child: ChildSummary,
}

impl ValgrindReport {
    /// What memcheck saw at exit, in the expectations' terms.
    pub fn at_exit(&self) -> AtExit {
        self.sides.at_exit(self.workload.runs)
    }
}

/// Runs the variant under memcheck and reads its report. An `Err` means
/// memcheck could not run or its output could not be read; a child that
/// failed under it is reported (`child.success`), not an `Err`.
pub fn report(req: &Request<'_>) -> Result<ValgrindReport, String> {
    available()?;
    let (workload, plan) = checker::plan(req, MEMCHECK.tool)?;
    let xml_file = xml_path();
    let wrapper = wrapper(&xml_file);
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
        workload,
        command: wrapper,
        total: KindTotals::default(),
        sides: Sides::default(),
        errors: summarize_errors(parsed.errors),
        records: parsed.records,
        suppressed: parsed.suppressions,
        child: ChildSummary::of(&child),
    };
    for record in &report.records {
        report.total.add(record);
        report.sides.side_mut(record.side).add(record);
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

/// Every way `report` falls short of `want`: the child did not finish its
/// iterations, memcheck found errors, or a side's lost, possibly lost or
/// still reachable memory differs from what is expected. Empty: it matches.
pub fn check(report: &ValgrindReport, want: &AtExit) -> Vec<String> {
    let child = &report.child;
    let mut out: Vec<String> = child
        .unfinished(MEMCHECK.tool, report.workload.iterations, child.success)
        .into_iter()
        .collect();
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

/// memcheck as a checker at exit.
pub static MEMCHECK: Checker<ValgrindReport> = Checker {
    name: NAME,
    tool: "valgrind",
    unbounded: "grows without bound within one iteration: a memcheck run has no exit to \
                check; the growth detector and the counters' memory cap see it",
    available,
    expected_at_exit: |want| want,
    report,
    check,
    observed_summary,
    expected_summary,
    stacks,
};

/// The biggest lost records (still reachable ones left out), with stacks.
fn stacks(report: &ValgrindReport) -> Vec<super::LeakStack> {
    super::LeakStack::biggest(
        report
            .records
            .iter()
            .filter(|r| r.kind != LeakKind::StillReachable)
            .map(|r| (r.side, r.what_kind(), r.blocks, r.bytes, r.stack.as_slice())),
        SHOWN_STACKS,
    )
}

/// memcheck's observation of one scenario variant.
pub fn observe(req: &Request<'_>) -> Outcome {
    MEMCHECK.observe(req)
}

/// Where memcheck writes its XML for one run.
fn xml_path() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("leaklab-valgrind-{}-{n}.xml", std::process::id()))
}
