//! The measurement protocol, run inside the child process:
//!
//! 1. prime: set up, run one iteration, tear down, so one-time lazy
//!    allocations (stdout's buffer, the panic machinery) are not counted;
//! 2. snapshot both heaps (`before`);
//! 3. set up, run N iterations, sampling heaps and RSS every `sample_every`;
//! 4. snapshot (`after_iterations`), tear down, snapshot (`after_teardown`).
//!
//! What the process keeps after teardown, `after_teardown - before`, is the
//! leak; for a true leak it is exactly N times the per-iteration leak.
//! Priming is skipped for scenarios expected to grow without bound.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::check::{Site, protocol};
use crate::heap::Snapshot;
use crate::scenarios::{BackendChoice, Scenario, Variant};

/// One point on the memory-over-iterations curve.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    pub iteration: u64,
    pub heap: Snapshot,
    pub rss_bytes: u64,
}

/// The child's last word: the four snapshots, or what went wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finish {
    pub completed: u64,
    pub before: Snapshot,
    pub after_setup: Snapshot,
    pub after_iterations: Snapshot,
    pub after_teardown: Snapshot,
    pub error: Option<String>,
    /// Whether the C allocator was interposed in the child, so the C side
    /// was counted (false under valgrind, which replaces it, and in a
    /// sanitizer build): a C count of zero means nothing then.
    #[serde(default = "counted_by_default")]
    pub c_counted: bool,
    /// The child build's sanitizers ("leak"), if it is a sanitizer build.
    #[serde(default)]
    pub sanitizer: Option<String>,
}

fn counted_by_default() -> bool {
    true
}

/// A line of the child's record file (JSON lines).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "line")]
pub enum RecordLine {
    Sample(Sample),
    Finish(Finish),
    /// Where the kept blocks of [`RECORDED_ITERATIONS`] more iterations
    /// came from (after the finish, when stacks were asked for).
    Sites {
        sites: Vec<Site>,
    },
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub variant: Variant,
    pub backend: BackendChoice,
    pub iterations: u64,
    /// Sample every this many iterations (0: only at the ends).
    pub sample_every: u64,
    /// After a run that kept memory, run [`RECORDED_ITERATIONS`] more with
    /// allocation stacks recorded and report where the kept blocks came
    /// from (off under valgrind and LSan, whose picture it would change).
    pub stacks: bool,
}

/// Iterations recorded for the allocation stacks of a leak.
pub const RECORDED_ITERATIONS: u64 = 2;

/// Runs the protocol, writing each sample and the finish to `out` as soon
/// as it is known, so a parent still learns how far a killed child got.
pub fn measure(scenario: &Scenario, plan: Plan, out: &mut dyn Write) -> std::io::Result<()> {
    let setup = scenario.setup(plan.variant);
    let unbounded = (scenario.expected)(plan.variant, plan.backend).is_unbounded();
    if !unbounded && let Err(error) = prime(setup, plan.backend) {
        return finish_with_error(out, error);
    }

    let before = Snapshot::now();
    let mut iteration = match setup(plan.backend) {
        Ok(iteration) => iteration,
        Err(error) => return finish_with_error(out, error),
    };
    let after_setup = Snapshot::now();
    write_line(out, &RecordLine::Sample(sample(0, after_setup)))?;

    let (completed, error) = match protocol::repeat(1..=plan.iterations, &mut iteration, |n| {
        if plan.sample_every > 0 && n % plan.sample_every == 0 {
            write_line(out, &RecordLine::Sample(sample(n, Snapshot::now())))?;
        }
        Ok::<(), std::io::Error>(())
    })? {
        Ok(completed) => (completed, None),
        Err(failed) => (failed.call - 1, Some(workload_error(failed.message))),
    };
    let after_iterations = Snapshot::now();
    drop(iteration);
    let after_teardown = Snapshot::now();
    let kept = !after_teardown.since(before).is_zero();
    write_line(
        out,
        &RecordLine::Finish(Finish {
            completed,
            before,
            after_setup,
            after_iterations,
            after_teardown,
            error,
            c_counted: crate::heap::c::is_counted(),
            sanitizer: crate::run::sanitizer::build_sanitizers().map(str::to_owned),
        }),
    )?;
    if plan.stacks && kept && !unbounded && completed == plan.iterations {
        // Set-up, the iterations and teardown, as measured: what they keep
        // is what the measured run kept.
        let recorded = crate::check::record(|| {
            let mut iteration = setup(plan.backend)?;
            (0..RECORDED_ITERATIONS).try_for_each(|_| guarded(&mut iteration))
        });
        if let Ok(sites) = recorded {
            write_line(out, &RecordLine::Sites { sites })?;
        }
    }
    Ok(())
}

fn prime(setup: crate::scenarios::Setup, backend: BackendChoice) -> Result<(), String> {
    let mut iteration = setup(backend)?;
    guarded(&mut iteration)
}

/// One iteration, [`protocol::guarded`]; a panic that escapes the
/// workload is an error of the lab.
fn guarded(iteration: &mut crate::scenarios::Iteration) -> Result<(), String> {
    protocol::guarded(iteration).map_err(workload_error)
}

/// "the workload panicked: …" for a caught panic; the workload's own error
/// as it is.
fn workload_error(message: String) -> String {
    match message.strip_prefix("panicked: ") {
        Some(panic) => format!("the workload panicked: {panic}"),
        None => message,
    }
}

fn sample(iteration: u64, heap: Snapshot) -> Sample {
    Sample {
        iteration,
        heap,
        rss_bytes: super::rss::current_bytes(),
    }
}

fn finish_with_error(out: &mut dyn Write, error: String) -> std::io::Result<()> {
    let now = Snapshot::now();
    write_line(
        out,
        &RecordLine::Finish(Finish {
            completed: 0,
            before: now,
            after_setup: now,
            after_iterations: now,
            after_teardown: now,
            error: Some(error),
            c_counted: crate::heap::c::is_counted(),
            sanitizer: crate::run::sanitizer::build_sanitizers().map(str::to_owned),
        }),
    )
}

fn write_line(out: &mut dyn Write, line: &RecordLine) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    out.flush()
}
