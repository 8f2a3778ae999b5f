//! The counters' judgement of one child run: how it ended, what it kept on
//! each side, and whether that is exactly the declared leak.

use crate::heap::Live;
use crate::record::{Ending, PerIteration, RunRecord, Sides};
use crate::run::isolate::{ChildRun, Limits};
use crate::run::measure::Sample;
use crate::run::sanitizer;
use crate::scenarios::{BackendChoice, Expected, Scenario, SideExpectation, Variant};

/// The result record of one child's run of `scenario`: what leaked, what
/// was expected, and the verdict.
pub fn judge(
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
