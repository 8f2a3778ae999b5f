//! Fault-injection sweep: for n = 1, 2, 3, … fail the n-th C allocation of
//! a scenario variant's setup + one iteration + teardown, and check what
//! each error path leaves behind on both sides of the boundary, until a
//! point runs with the armed failure never firing (the whole workload ran).
//!
//! A leaky variant leaks its declared amount whenever its iteration
//! completes; what the sweep adds is which *error paths* leak beyond that.
//! A safe variant must leak nothing beyond its declared amount (none, except
//! the C library's own bug in c-extension-bug on the C backend) at every
//! point, with no panic escaping and no crash.
//!
//! The counters are process-wide: run one sweep at a time, with no other
//! thread allocating. [`run_isolated`] runs a sweep in child processes so
//! that a crash or an `exit` inside the C library is one point's finding:
//! the sweep goes on from the next point in a new child.

mod crash_handler;
mod isolated;
mod point;
mod quiet_panics;

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};

pub use isolated::{
    CHILD_COMMAND, Crash, POINT_MARKER, PROGRESS_MARKER, REPORT_MARKER, child_main, run_isolated,
    run_isolated_with,
};
pub use point::{Outcome, PointCrash, PointReport, Stage, signal_name};

use crate::heap::{Live, Snapshot};
use crate::scenarios::{BackendChoice, Scenario, Variant};

/// A sweep stops here even if the workload still has allocations left.
pub const MAX_POINTS: u64 = 100_000;

/// Everything one sweep found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    pub scenario: String,
    pub variant: String,
    pub backend: String,
    /// Why the sweep did not run (an unbounded workload), if it did not.
    pub skipped: Option<String>,
    /// The variant's normal leak per completed iteration.
    pub expected_per_iteration: Snapshot,
    /// Points run, the last one included (it ran with no failure firing).
    pub points_tried: u64,
    /// Points whose armed failure fired.
    pub failures_injected: u64,
    /// Points whose workload returned an error.
    pub errors_returned: u64,
    /// Points whose workload panicked (caught).
    pub panics: u64,
    /// Points that leaked beyond the variant's normal per-iteration leak.
    pub leaks_found: u64,
    /// Points that left anything allocated at all.
    pub raw_leak_points: u64,
    /// Points at which the library crashed (a signal; set by [`run_isolated`]).
    pub crashes: u64,
    /// Points at which the library ended the process with `exit`.
    #[serde(default)]
    pub exits: u64,
    /// A child that died outside any point (before the first one), which
    /// ends the sweep there.
    pub crash: Option<Crash>,
    /// Whether the last point ran the whole workload with no failure firing.
    pub complete: bool,
    pub points: Vec<PointReport>,
}

impl SweepReport {
    fn new(scenario: &Scenario, variant: Variant, backend: BackendChoice) -> SweepReport {
        SweepReport {
            scenario: scenario.id.into(),
            variant: variant.as_str().into(),
            backend: backend.as_str().into(),
            skipped: None,
            expected_per_iteration: Snapshot::default(),
            points_tried: 0,
            failures_injected: 0,
            errors_returned: 0,
            panics: 0,
            leaks_found: 0,
            raw_leak_points: 0,
            crashes: 0,
            exits: 0,
            crash: None,
            complete: false,
            points: Vec::new(),
        }
    }

    fn add(&mut self, point: PointReport) {
        self.points_tried += 1;
        self.failures_injected += u64::from(point.fired);
        self.errors_returned += u64::from(point.outcome == Outcome::Error);
        self.panics += u64::from(point.outcome == Outcome::Panic);
        self.crashes += u64::from(point.outcome == Outcome::Crash);
        self.exits += u64::from(point.outcome == Outcome::Exit);
        self.leaks_found += u64::from(point.leaks());
        self.raw_leak_points += u64::from(point.leaks_raw());
        self.points.push(point);
    }

    /// The points that leaked beyond the normal per-iteration leak.
    pub fn leaking_points(&self) -> impl Iterator<Item = &PointReport> {
        self.points.iter().filter(|p| p.leaks())
    }

    /// The points at which the library crashed or exited.
    pub fn library_failures(&self) -> impl Iterator<Item = &PointReport> {
        self.points.iter().filter(|p| p.crash.is_some())
    }

    /// Safe-variant verdict: complete, no crash, no panic, nothing beyond
    /// the declared leak at any point.
    pub fn is_clean(&self) -> bool {
        self.binding_is_clean() && self.crashes == 0 && self.exits == 0
    }

    /// The binding's part of the verdict: the sweep reached its last point,
    /// no panic escaped, and no point it measured kept anything beyond the
    /// declared leak. Points where the library itself crashed or exited
    /// measure nothing and are the library's findings ([`Self::library_failures`]).
    pub fn binding_is_clean(&self) -> bool {
        self.skipped.is_none()
            && self.complete
            && self.crash.is_none()
            && self.panics == 0
            && self.leaks_found == 0
    }

    /// Recomputes the counts from `points` (after points from several
    /// children were put together).
    fn recount(&mut self) {
        let points = std::mem::take(&mut self.points);
        self.points_tried = 0;
        self.failures_injected = 0;
        self.errors_returned = 0;
        self.panics = 0;
        self.crashes = 0;
        self.exits = 0;
        self.leaks_found = 0;
        self.raw_leak_points = 0;
        for point in points {
            self.add(point);
        }
    }
}

/// Runs the sweep in this process (see the module doc).
pub fn sweep(scenario: &Scenario, variant: Variant, backend: BackendChoice) -> SweepReport {
    sweep_from(scenario, variant, backend, 1, &mut |_| {}, &mut |_| {})
}

/// [`sweep`] from point `from` on, calling `progress(n)` before point n
/// starts and `done(&point)` after it (both outside its window).
pub fn sweep_from(
    scenario: &Scenario,
    variant: Variant,
    backend: BackendChoice,
    from: u64,
    progress: &mut dyn FnMut(u64),
    done: &mut dyn FnMut(&PointReport),
) -> SweepReport {
    let mut report = SweepReport::new(scenario, variant, backend);
    let _quiet = quiet_panics::QuietPanics::install();
    let Some(expected) = expected_per_iteration(scenario, variant, backend) else {
        report.skipped = Some("the workload grows without bound in one iteration".into());
        return report;
    };
    report.expected_per_iteration = expected;
    warm_up(scenario, variant, backend);
    for n in from.max(1)..=MAX_POINTS {
        crate::heap::c::clear_failed_allocation();
        progress(n);
        let mut point = point::run(scenario, variant, backend, n, expected);
        if point.leaks() {
            point.sites = point::stacks(scenario, variant, backend, n);
        }
        done(&point);
        let fired = point.fired;
        report.add(point);
        if !fired {
            report.complete = true;
            break;
        }
    }
    report
}

/// The declared leak of one iteration, `None` if unbounded. Computed before
/// any point: some expectations open a connection to measure a footprint.
fn expected_per_iteration(
    scenario: &Scenario,
    variant: Variant,
    backend: BackendChoice,
) -> Option<Snapshot> {
    let expected = (scenario.expected)(variant, backend);
    let side = |s: crate::scenarios::SideExpectation| s.per_iteration();
    let (c, rust): (Live, Live) = (side(expected.c)?, side(expected.rust)?);
    Some(Snapshot { c, rust })
}

/// Runs the workload once, unarmed, and one caught panic, so one-time lazy
/// allocations (of std or a scenario) are not charged to the first point.
fn warm_up(scenario: &Scenario, variant: Variant, backend: BackendChoice) {
    let _ = catch_unwind(|| std::panic::panic_any("warm-up"));
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if let Ok(mut iteration) = (scenario.setup(variant))(backend) {
            let _ = iteration();
        }
    }));
}
