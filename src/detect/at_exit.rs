//! What the detectors that read the whole process's heap at exit share
//! (valgrind's memcheck, LeakSanitizer): which runs they refuse, what
//! the report says of the workload and of the child, how a child that did
//! not finish is judged, and the observation itself. Each detector says
//! only how it runs the child and reads its tool's output.
//!
//! - [`expect`]: what such a checker should see at exit, derived from the
//!   scenario's declared leak;
//! - [`attribution`]: which side (C or Rust) a leaked block's stack is on.

pub use cargo_leaklab::parse::attribution;
pub mod expect;

use serde::Serialize;

use self::attribution::Side;
use self::expect::{AtExit, SideAmounts};
use super::{Observation, Outcome, Request, Unavailable};
use crate::heap::Snapshot;
use crate::run::isolate::ChildRun;
use crate::run::measure::Plan;
use crate::scenarios::{BackendChoice, Expected, Variant};

/// A detector that checks the whole process at exit: what it is called,
/// and how it runs a workload and judges its report `R`.
pub struct Checker<R> {
    /// The detector's name in the matrix.
    pub name: &'static str,
    /// The tool, in words ("valgrind", "LeakSanitizer").
    pub tool: &'static str,
    /// Why a workload that grows without bound is not run.
    pub unbounded: &'static str,
    /// Ok if the tool runs here; else what is missing.
    pub available: fn() -> Result<(), String>,
    /// What this tool should see, from what memcheck's classes expect.
    pub expected_at_exit: fn(AtExit) -> AtExit,
    /// Runs the workload under the tool and reads its report.
    pub report: fn(&Request<'_>) -> Result<R, String>,
    /// Every way a report falls short of what is expected (empty: it
    /// matches).
    pub check: fn(&R, &AtExit) -> Vec<String>,
    pub observed_summary: fn(&R) -> String,
    pub expected_summary: fn(&AtExit) -> String,
    /// The biggest leak records with their stacks, for the human output.
    pub stacks: fn(&R) -> Vec<super::LeakStack>,
}

impl<R: Serialize> Checker<R> {
    /// The checker's observation of one scenario variant.
    pub fn observe(&self, req: &Request<'_>) -> Outcome {
        let unavailable = |reason| Unavailable {
            detector: self.name,
            reason,
            by_design: false,
        };
        (self.available)().map_err(unavailable)?;
        let expected = (req.scenario.expected)(req.variant, req.backend);
        let Some(want) = expect::at_exit(&expected, req.iterations).map(self.expected_at_exit)
        else {
            return Err(super::skipped_unbounded(self.name, self.unbounded));
        };
        let report = (self.report)(req).map_err(unavailable)?;
        let mismatches = (self.check)(&report, &want);
        Ok(Observation {
            stacks: (self.stacks)(&report),
            detector: self.name,
            observed: (self.observed_summary)(&report),
            expected: (self.expected_summary)(&want),
            matches: mismatches.is_empty(),
            detail: serde_json::json!({
                "report": report,
                "expected_at_exit": want,
                "mismatches": mismatches,
            }),
        })
    }
}

/// The workload a report is of, and how many iterations its process ran.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub scenario: String,
    pub variant: Variant,
    pub backend: BackendChoice,
    pub iterations: u64,
    /// Iterations the process ran, the priming one included.
    pub runs: u64,
}

/// The workload `req` asks for and the child's plan, or why `tool` does not
/// run it: a workload expected to grow without bound has no exit to check.
pub fn plan(req: &Request<'_>, tool: &str) -> Result<(Workload, Plan), String> {
    let expected: Expected = (req.scenario.expected)(req.variant, req.backend);
    if expected.is_unbounded() {
        return Err(format!(
            "{} {} grows without bound: {tool} does not run it (no exit to check)",
            req.scenario.id,
            req.variant.as_str()
        ));
    }
    let workload = Workload {
        scenario: req.scenario.id.to_owned(),
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        runs: expect::runs(&expected, req.iterations),
    };
    let plan = Plan {
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        sample_every: 0,
        stacks: false,
    };
    Ok((workload, plan))
}

/// One side's totals in a tool's own classes.
pub trait Totals {
    /// The same memory in the expectations' classes.
    fn amounts(&self) -> SideAmounts;
}

/// The C and the Rust side of a report.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sides<T> {
    pub c: T,
    pub rust: T,
}

impl<T: Totals> Sides<T> {
    pub fn side(&self, side: Side) -> &T {
        match side {
            Side::C => &self.c,
            Side::Rust => &self.rust,
        }
    }

    pub fn side_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::C => &mut self.c,
            Side::Rust => &mut self.rust,
        }
    }

    /// What the tool saw at exit, in the expectations' terms.
    pub fn at_exit(&self, runs: u64) -> AtExit {
        AtExit {
            runs,
            c: self.c.amounts(),
            rust: self.rust.amounts(),
        }
    }
}

/// How the child under the tool ended.
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

impl ChildSummary {
    /// How a child ended, for a report.
    pub fn of(child: &ChildRun) -> ChildSummary {
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

    /// Why the child did not finish cleanly under `tool`, if it did not:
    /// `exit_ok` is whether its exit is the one the tool gives for what it
    /// found.
    pub fn unfinished(&self, tool: &str, iterations: u64, exit_ok: bool) -> Option<String> {
        if exit_ok && self.error.is_none() && self.completed == iterations {
            return None;
        }
        Some(format!(
            "the child did not finish cleanly under {tool}: {}, {}/{} iterations{}",
            self.status,
            self.completed,
            iterations,
            self.error
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        ))
    }
}

/// The last few lines of a child's stderr, on one line.
pub fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
