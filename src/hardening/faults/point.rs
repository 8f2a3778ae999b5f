//! One point of a sweep: arm the n-th C allocation to fail, run the
//! workload's setup, one iteration and teardown, disarm, and measure what
//! is left on each side.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};

use crate::check::{Frame, Site, keep_text, panic_text, record_point, run_point};
use crate::heap::Snapshot;
use crate::scenarios::{BackendChoice, Scenario, Variant};

/// How the workload ended at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Setup, iteration and teardown all returned normally.
    Ok,
    /// Setup or the iteration returned an `Err`.
    Error,
    /// Setup, the iteration or teardown panicked (caught).
    Panic,
    /// The process died by a signal (the library crashed), or was killed
    /// at the time limit; `crash` says how.
    Crash,
    /// The process exited in the middle of the point (the library called
    /// `exit`); `crash` says with what.
    Exit,
}

/// Which part of the workload the outcome comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Setup,
    Iteration,
    Teardown,
}

/// What one point found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointReport {
    /// The C allocation that was armed to fail (1 = the first).
    pub n: u64,
    /// Whether the armed failure fired (the workload made at least n allocations).
    pub fired: bool,
    pub outcome: Outcome,
    /// Where the error or panic happened (`None` when Ok).
    pub stage: Option<Stage>,
    /// Whether the iteration itself returned Ok (its normal leak is expected then).
    pub iteration_ok: bool,
    /// The error or panic message, cut to a few hundred bytes.
    pub message: String,
    /// Growth on each side over the whole point.
    pub leaked: Snapshot,
    /// `leaked` less the variant's normal per-iteration leak when the
    /// iteration completed Ok (else all of `leaked`).
    pub beyond_expected: Snapshot,
    /// For a point that leaked: where what it kept came from, from the
    /// point run once more with allocation stacks recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    /// How the process ended at a point that crashed or exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<PointCrash>,
}

/// How a point's process ended when the library crashed or exited in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointCrash {
    /// The signal that killed it (SIGSEGV = 11, SIGABRT = 6, …).
    pub signal: Option<i32>,
    /// Its exit status, if it exited.
    pub exit_code: Option<i32>,
    /// Killed by the parent at the time limit.
    pub timed_out: bool,
    /// The stack of the allocation that was failed, innermost first: the
    /// caller that did not check it is among its first frames.
    pub failed_allocation: Vec<Frame>,
    /// The stack at the crash (from the child's signal handler), or at
    /// the library's `exit` (from an `atexit` handler), innermost first.
    pub stack: Vec<Frame>,
    /// The end of the process's stderr (the library's message).
    pub stderr_tail: String,
}

impl PointCrash {
    /// "SIGSEGV", "exit status 1", "time limit".
    pub fn how(&self) -> String {
        if self.timed_out {
            return "killed at the time limit".into();
        }
        match (self.signal, self.exit_code) {
            (Some(signal), _) => signal_name(signal),
            (None, Some(code)) => format!("exit status {code}"),
            (None, None) => "ended".into(),
        }
    }

    /// The first frame of the failed allocation's stack outside the
    /// allocator: the call that received the NULL.
    pub fn site(&self) -> Option<&Frame> {
        self.failed_allocation.first()
    }
}

/// A signal's name, or its number.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.into()
}

impl PointReport {
    /// Whether anything stayed allocated beyond the variant's normal leak.
    pub fn leaks(&self) -> bool {
        let b = &self.beyond_expected;
        [b.c.blocks, b.c.bytes, b.rust.blocks, b.rust.bytes]
            .iter()
            .any(|&v| v > 0)
    }

    /// Whether anything at all stayed allocated.
    pub fn leaks_raw(&self) -> bool {
        !self.leaked.is_zero()
    }
}

/// A workload's end, before its allocations are released.
struct RawEnd {
    outcome: Outcome,
    stage: Option<Stage>,
    iteration_ok: bool,
    error: Option<String>,
    panic: Option<Box<dyn Any + Send>>,
}

impl RawEnd {
    fn failed(stage: Stage, end: Result<String, Box<dyn Any + Send>>) -> RawEnd {
        let (outcome, error, panic) = match end {
            Ok(error) => (Outcome::Error, Some(error), None),
            Err(payload) => (Outcome::Panic, None, Some(payload)),
        };
        RawEnd {
            outcome,
            stage: Some(stage),
            iteration_ok: false,
            error,
            panic,
        }
    }

    /// Copies the message into `buffer` (the workload's strings are
    /// released with `self`).
    fn keep_message(&self, buffer: &mut String) {
        if let Some(error) = &self.error {
            keep_text(buffer, error);
        }
        if let Some(payload) = &self.panic {
            keep_text(buffer, panic_text(payload.as_ref()));
        }
    }
}

/// Setup, one iteration and teardown, every panic caught.
fn run_workload(scenario: &Scenario, variant: Variant, backend: BackendChoice) -> RawEnd {
    let setup = scenario.setup(variant);
    let mut iteration = match catch_unwind(|| setup(backend)) {
        Ok(Ok(iteration)) => iteration,
        Ok(Err(error)) => return RawEnd::failed(Stage::Setup, Ok(error)),
        Err(payload) => return RawEnd::failed(Stage::Setup, Err(payload)),
    };
    let result = catch_unwind(AssertUnwindSafe(&mut iteration));
    let teardown = catch_unwind(AssertUnwindSafe(move || drop(iteration)));
    let iteration_ok = matches!(result, Ok(Ok(())));
    // A panic escaping teardown outranks how the iteration ended.
    let mut end = match (teardown, result) {
        (Err(payload), _) => RawEnd::failed(Stage::Teardown, Err(payload)),
        (Ok(()), Ok(Ok(()))) => RawEnd {
            outcome: Outcome::Ok,
            stage: None,
            iteration_ok,
            error: None,
            panic: None,
        },
        (Ok(()), Ok(Err(error))) => RawEnd::failed(Stage::Iteration, Ok(error)),
        (Ok(()), Err(payload)) => RawEnd::failed(Stage::Iteration, Err(payload)),
    };
    end.iteration_ok = iteration_ok;
    end
}

/// Runs point `n` through the user crate's one point mechanism
/// ([`run_point`]). `expected` is the variant's normal leak per iteration.
pub(super) fn run(
    scenario: &Scenario,
    variant: Variant,
    backend: BackendChoice,
    n: u64,
    expected: Snapshot,
) -> PointReport {
    let point = run_point(
        n,
        || run_workload(scenario, variant, backend),
        |end, text| {
            end.keep_message(text);
            (end.outcome, end.stage, end.iteration_ok)
        },
    );
    // run_workload catches every panic itself, per stage.
    let (outcome, stage, iteration_ok) =
        point
            .summary
            .unwrap_or((Outcome::Panic, Some(Stage::Setup), false));
    let leaked = point.kept;
    let beyond_expected = if iteration_ok {
        leaked.since(expected)
    } else {
        leaked
    };
    PointReport {
        n,
        fired: point.fired,
        outcome,
        stage,
        iteration_ok,
        message: point.message,
        leaked,
        beyond_expected,
        sites: Vec::new(),
        crash: None,
    }
}

/// Point `n` once more, with allocation stacks recorded: where what it
/// keeps comes from.
pub(super) fn stacks(
    scenario: &Scenario,
    variant: Variant,
    backend: BackendChoice,
    n: u64,
) -> Vec<Site> {
    record_point(n, || drop(run_workload(scenario, variant, backend)))
}
