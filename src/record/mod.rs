//! The result record: the one JSON contract between a run, the detectors
//! and the reports. Field names here are a stable interface. The counters
//! detector fills it in and judges it (src/detect/counters/judge.rs).

pub mod summary;

use serde::Serialize;

use crate::check::Site;
use crate::heap::{Live, Snapshot};
use crate::run::measure::Sample;
use crate::scenarios::{BackendChoice, Expected, Variant};

/// Leaked memory on each side.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct Sides {
    pub c: Live,
    pub rust: Live,
}

impl From<Snapshot> for Sides {
    fn from(s: Snapshot) -> Sides {
        Sides {
            c: s.c,
            rust: s.rust,
        }
    }
}

/// Leaked memory divided by the iterations run.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct PerIteration {
    pub c_blocks: f64,
    pub c_bytes: f64,
    pub rust_blocks: f64,
    pub rust_bytes: f64,
}

/// How the child ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ending {
    Completed,
    /// The workload returned an error: a failure of the lab, not a leak.
    Error {
        message: String,
    },
    /// Died on its memory cap.
    HitCap {
        cap_bytes: u64,
        /// The allocation that was refused, and the Rust heap then.
        failed_allocation_bytes: Option<u64>,
        rust_live_bytes_at_failure: Option<u64>,
        /// Peak RSS sampled before the end.
        last_rss_bytes: u64,
    },
    TimedOut {
        limit_seconds: u64,
    },
    Crashed {
        status: String,
        stderr_tail: String,
    },
    /// The sanitizer runtime of a sanitizer build failed (at start-up: it
    /// could not reserve its memory) and the scenario never ran: not a
    /// leak, whatever the exit code.
    SanitizerFailed {
        message: String,
    },
    /// Exited with status 0 but wrote no record: not a leaklab child (say,
    /// `LEAKLAB_EXE` naming another program).
    NoRecord {
        status: String,
        stderr_tail: String,
    },
}

/// One scenario variant's run: what leaked, what was expected, the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub scenario: String,
    /// The C library the scenario exercises ("none" for pure-Rust leaks).
    pub library: &'static str,
    pub variant: Variant,
    pub backend: BackendChoice,
    /// Iterations asked for.
    pub iterations: u64,
    /// Iterations that finished.
    pub completed: u64,
    /// Kept by the process after everything was dropped.
    pub leaked: Sides,
    /// Growth while iterating (before teardown).
    pub grown: Sides,
    pub per_iteration: PerIteration,
    /// Declared per-iteration leak.
    pub expected: Expected,
    /// "leak", "clean", "hit-cap" (stopped by the memory cap with nothing
    /// measured as kept) or "error".
    pub verdict: &'static str,
    pub matches_expected: bool,
    pub ending: Ending,
    pub elapsed_ms: u64,
    /// Where the kept blocks came from: the allocation stacks of what
    /// `RECORDED_ITERATIONS` more iterations kept, biggest first (empty
    /// unless asked for and something was kept).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    #[serde(skip)]
    pub samples: Vec<Sample>,
    #[serde(skip)]
    pub output: String,
}
