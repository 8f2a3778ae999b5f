//! The result record: the one JSON contract between a run, the detectors
//! and the reports. Field names here are a stable interface.

use serde::Serialize;

use crate::check::Site;
use crate::heap::{Live, Snapshot};
use crate::run::isolate::{ChildRun, Limits};
use crate::run::measure::Sample;
use crate::run::sanitizer;
use crate::scenarios::{BackendChoice, Expected, Scenario, SideExpectation, Variant};

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

impl RunRecord {
    pub fn from_child(
        scenario: &Scenario,
        variant: Variant,
        backend: BackendChoice,
        iterations: u64,
        limits: Limits,
        run: ChildRun,
    ) -> RunRecord {
        let expected = (scenario.expected)(variant, backend);
        let ending = ending(&run, limits);
        let (completed, leaked, grown) = match &run.finish {
            Some(f) => (
                f.completed,
                Sides::from(f.after_teardown.since(f.before)),
                Sides::from(f.after_iterations.since(f.after_setup)),
            ),
            None => (
                run.samples.last().map_or(0, |s| s.iteration),
                Sides::default(),
                Sides::default(),
            ),
        };
        let per_iteration = per_iteration(leaked, completed);
        let verdict = match ending {
            Ending::Completed if is_leak(leaked) => "leak",
            Ending::Completed => "clean",
            // The cap stops a run before its end, so nothing is measured as
            // leaked: it is a leak only if the heap grew over the
            // iterations that did complete. A first iteration too large
            // for the cap (sized-leak at 1 GiB, safe or not) is not.
            Ending::HitCap { .. } if grew_before_cap(&run.samples) => "leak",
            Ending::HitCap { .. } => "hit-cap",
            _ => "error",
        };
        let matches_expected = matches(&expected, &ending, leaked, completed);
        RunRecord {
            scenario: scenario.id.to_owned(),
            library: scenario.library,
            variant,
            backend,
            iterations,
            completed,
            leaked,
            grown,
            per_iteration,
            expected,
            verdict,
            matches_expected,
            ending,
            elapsed_ms: run.elapsed.as_millis() as u64,
            sites: run.sites,
            samples: run.samples,
            output: run.stdout,
        }
    }
}

fn is_leak(sides: Sides) -> bool {
    [sides.c, sides.rust]
        .iter()
        .any(|l| l.blocks > 0 || l.bytes > 0)
}

/// Whether the heap kept more, on either side, at the last sample taken
/// before the cap than right after setup (the first sample).
fn grew_before_cap(samples: &[Sample]) -> bool {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return false;
    };
    is_leak(Sides::from(last.heap.since(first.heap)))
}

fn per_iteration(leaked: Sides, completed: u64) -> PerIteration {
    let n = completed.max(1) as f64;
    PerIteration {
        c_blocks: leaked.c.blocks as f64 / n,
        c_bytes: leaked.c.bytes as f64 / n,
        rust_blocks: leaked.rust.blocks as f64 / n,
        rust_bytes: leaked.rust.bytes as f64 / n,
    }
}

/// Exact for declared leaks: N times the per-iteration figure, to the byte.
fn matches(expected: &Expected, ending: &Ending, leaked: Sides, completed: u64) -> bool {
    if expected.is_unbounded() {
        return matches!(ending, Ending::HitCap { .. });
    }
    if *ending != Ending::Completed {
        return false;
    }
    side_matches(&expected.c, leaked.c, completed)
        && side_matches(&expected.rust, leaked.rust, completed)
}

fn side_matches(expected: &SideExpectation, leaked: Live, completed: u64) -> bool {
    match expected.per_iteration() {
        Some(per) => {
            leaked.blocks == per.blocks * completed as i64
                && leaked.bytes == per.bytes * completed as i64
        }
        None => false,
    }
}

fn ending(run: &ChildRun, limits: Limits) -> Ending {
    if let Some(finish) = &run.finish {
        return match &finish.error {
            None if !finish.c_counted => Ending::Error {
                message: sanitizer::uncounted_message(finish.sanitizer.as_deref()),
            },
            None => Ending::Completed,
            Some(message) => Ending::Error {
                message: message.clone(),
            },
        };
    }
    if run.timed_out {
        return Ending::TimedOut {
            limit_seconds: limits.time_limit.as_secs(),
        };
    }
    // Before the cap's marker and the exit status: a sanitizer that failed
    // ran nothing, and LSan exits with its leak code after a CHECK.
    if let Some(message) = sanitizer::startup_failure(&run.stderr) {
        return Ending::SanitizerFailed { message };
    }
    if let Some(line) = run
        .stderr
        .lines()
        .find(|l| l.starts_with(crate::heap::rust::FAILURE_MARKER))
    {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse().ok())
        };
        return Ending::HitCap {
            cap_bytes: limits.mem_cap,
            failed_allocation_bytes: field("size="),
            rust_live_bytes_at_failure: field("live_bytes="),
            last_rss_bytes: run.samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0),
        };
    }
    let tail: String = run
        .stderr
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    let status_text = run.status.map_or("unknown".to_owned(), |s| format!("{s}"));
    if run.status.is_some_and(|s| s.success()) {
        return Ending::NoRecord {
            status: status_text,
            stderr_tail: tail,
        };
    }
    Ending::Crashed {
        status: status_text,
        stderr_tail: tail,
    }
}
