//! The exact counters as a detector: one child run, the result record.

mod judge;

pub use judge::judge;

use super::{Observation, Outcome, Request, Unavailable};
use crate::report::record::RunRecord;
use crate::run::isolate::run_child;
use crate::run::measure::Plan;

pub const NAME: &str = "counters";

/// Runs the variant in a child and returns its result record.
pub fn record(req: &Request<'_>) -> Result<RunRecord, String> {
    record_sampled(req, (req.iterations / 20).max(1))
}

/// [`record`], sampling the heaps and RSS every `sample_every` iterations
/// (the growth detector wants more samples than a plain run).
pub fn record_sampled(req: &Request<'_>, sample_every: u64) -> Result<RunRecord, String> {
    let plan = Plan {
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        sample_every,
    };
    let child = run_child(req.scenario.id, plan, req.limits, &[])?;
    Ok(judge(
        req.scenario,
        req.variant,
        req.backend,
        req.iterations,
        req.limits,
        child,
    ))
}

pub fn observe(req: &Request<'_>) -> Outcome {
    let record = record(req).map_err(|reason| Unavailable {
        detector: NAME,
        reason,
        by_design: false,
    })?;
    Ok(Observation {
        detector: NAME,
        observed: crate::report::table::observed_summary(&record),
        expected: crate::report::table::expected_summary(&record.expected),
        matches: record.matches_expected,
        detail: serde_json::to_value(&record).expect("record serializes"),
    })
}
