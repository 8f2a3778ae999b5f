//! Detectors: independent ways of seeing a leak. Each one observes a
//! scenario variant and compares what it sees with what that detector is
//! expected to see (a detector may be blind to a leak by design: Miri
//! cannot see into C, valgrind does not call a reachable cache a leak, the
//! counters see only what goes through them).
//!
//! - `counters`: exact live blocks and bytes per side (src/heap), in a child;
//! - `valgrind`: memcheck's leak records, parsed from its XML;
//! - `growth`: RSS and counters sampled over iterations, fitted by least squares;
//! - `lsan`: LeakSanitizer, built and run on nightly;
//! - `miri`: the Miri suite (tests/miri.rs) over the modelled C API.

pub mod at_exit;
pub mod counters;
pub mod growth;
pub mod lsan;
pub mod miri;
pub mod valgrind;

use serde::Serialize;

use crate::run::isolate::Limits;
use crate::scenarios::{BackendChoice, Scenario, Variant};

/// What a detector is asked to look at.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub scenario: &'a Scenario,
    pub variant: Variant,
    pub backend: BackendChoice,
    pub iterations: u64,
    pub limits: Limits,
}

/// One detector's view of one scenario variant.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub detector: &'static str,
    /// What it saw, in a few words ("6 blk / 331 B per iter", "clean").
    pub observed: String,
    /// What it should see, in a few words.
    pub expected: String,
    pub matches: bool,
    /// The biggest leak records with their allocation stacks, for the
    /// human output (detectors that report stacks: valgrind, LSan).
    #[serde(skip)]
    pub stacks: Vec<LeakStack>,
    /// Detector-specific record (the counters' RunRecord, valgrind's loss
    /// records, the growth fit...).
    pub detail: serde_json::Value,
}

/// One leak record of a detector, as a reader wants it: its side, kind,
/// size, and allocation stack (allocator frames cut off, your frames first).
#[derive(Debug, Clone, Serialize)]
pub struct LeakStack {
    pub side: at_exit::attribution::Side,
    /// The detector's word for it ("definitely lost", "direct").
    pub kind: String,
    pub blocks: i64,
    pub bytes: i64,
    pub frames: Vec<String>,
}

impl LeakStack {
    /// Records as `(side, kind, blocks, bytes, stack)`, the biggest
    /// `keep` of them, with their stacks trimmed for reading.
    pub fn biggest<'a>(
        records: impl Iterator<
            Item = (
                at_exit::attribution::Side,
                String,
                i64,
                i64,
                &'a [at_exit::attribution::Frame],
            ),
        >,
        keep: usize,
    ) -> Vec<LeakStack> {
        let mut all: Vec<LeakStack> = records
            .map(|(side, kind, blocks, bytes, stack)| LeakStack {
                side,
                kind,
                blocks,
                bytes,
                frames: crate::check::shown_frames(
                    stack
                        .iter()
                        .map(|f| (f.function.clone(), f.file.clone(), f.line)),
                )
                .iter()
                .map(ToString::to_string)
                .collect(),
            })
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        all.truncate(keep);
        all
    }
}

/// A detector that cannot run here says why; that is never a pass.
#[derive(Debug, Clone, Serialize)]
pub struct Unavailable {
    pub detector: &'static str,
    pub reason: String,
    /// The detector cannot see this cell by its nature (Miri and a C library
    /// without a model), as opposed to a tool missing or failing here.
    pub by_design: bool,
}

pub type Outcome = Result<Observation, Unavailable>;

/// A detector that checks at exit, asked about a workload that grows
/// without bound: it is not run (it would have no exit to check). That is
/// no observation, so never a match: a not-run cell, by design, with `why`
/// saying who sees the leak instead; the matrix shows it grey and does not
/// count it either way.
pub fn skipped_unbounded(detector: &'static str, why: &str) -> Unavailable {
    Unavailable {
        detector,
        reason: format!("skipped: unbounded: {why}"),
        by_design: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_cell_is_not_an_observation() {
        let outcome: Outcome = Err(skipped_unbounded("valgrind", "no exit"));
        let Err(skipped) = &outcome else {
            panic!("a skip must never be an Observation (which has `matches`)");
        };
        assert!(skipped.by_design);
        assert_eq!(skipped.reason, "skipped: unbounded: no exit");
    }
}
