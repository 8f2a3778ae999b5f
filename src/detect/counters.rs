//! The exact counters as a detector: one child run, the result record.

mod judge;

pub use judge::judge;

use super::{Observation, Outcome, Request, Unavailable};
use crate::record::RunRecord;
use crate::run::isolate::run_child;
use crate::run::measure::Plan;

pub const NAME: &str = "counters";

/// Runs the variant in a child and returns its result record.
pub fn record(req: &Request<'_>) -> Result<RunRecord, String> {
    record_sampled(req, (req.iterations / 20).max(1), false)
}

/// [`record`], and if the run kept memory, the allocation stacks of what
/// two more iterations keep (`leaklab run`'s view; the matrix does without).
pub fn record_with_stacks(req: &Request<'_>) -> Result<RunRecord, String> {
    record_sampled(req, (req.iterations / 20).max(1), true)
}

/// [`record`], sampling the heaps and RSS every `sample_every` iterations
/// (the growth detector wants more samples than a plain run).
pub fn record_sampled(
    req: &Request<'_>,
    sample_every: u64,
    stacks: bool,
) -> Result<RunRecord, String> {
    let plan = Plan {
        variant: req.variant,
        backend: req.backend,
        iterations: req.iterations,
        sample_every,
        stacks,
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
        stacks: Vec::new(),
        detector: NAME,
        observed: crate::record::summary::observed_summary(&record),
        expected: crate::record::summary::expected_summary(&record.expected),
        matches: record.matches_expected,
        detail: serde_json::to_value(&record).expect("record serializes"),
    })
}
