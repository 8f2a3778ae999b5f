//! Which detectors a command runs, by name, and how each is asked.

use crate::detect::{self, Outcome, Request, Unavailable};

/// A detector the CLI can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Detector {
    /// Exact live blocks and bytes per side (the lab's own counters).
    Counters,
    /// valgrind memcheck's leak records, per kind and per side.
    Valgrind,
    /// RSS and counters sampled over iterations, fitted by least squares.
    Growth,
    /// LeakSanitizer, in a nightly build with -Zsanitizer=leak.
    Lsan,
    /// The scenario's leak case under Miri, over the modelled C API.
    Miri,
}

impl Detector {
    pub fn name(self) -> &'static str {
        match self {
            Detector::Counters => detect::counters::NAME,
            Detector::Valgrind => detect::valgrind::NAME,
            Detector::Growth => detect::growth::NAME,
            Detector::Lsan => detect::lsan::NAME,
            Detector::Miri => detect::miri::NAME,
        }
    }

    /// Observes one cell; a detector that cannot run says why.
    pub fn observe(self, req: &Request<'_>) -> Outcome {
        match self {
            Detector::Counters => detect::counters::observe(req),
            Detector::Valgrind => detect::valgrind::observe(req),
            Detector::Growth => detect::growth::observe(req),
            Detector::Lsan => detect::lsan::observe(req),
            Detector::Miri => detect::miri::observe(req),
        }
    }

    /// Work done once, before any cell runs and before any spinner draws:
    /// LeakSanitizer's instrumented build, with its own progress. A failed
    /// build is kept and comes back from every cell's observation.
    pub fn prepare(self) {
        if self == Detector::Lsan && detect::lsan::available().is_ok() {
            let _ = detect::lsan::build();
        }
    }

    /// Why this detector cannot run on this machine, if it cannot.
    pub fn unavailable(self) -> Option<Unavailable> {
        match self {
            Detector::Counters | Detector::Growth => None,
            Detector::Valgrind => detect::valgrind::available()
                .err()
                .map(|reason| Unavailable {
                    detector: detect::valgrind::NAME,
                    reason,
                    by_design: false,
                }),
            Detector::Lsan => detect::lsan::available().err().map(|reason| Unavailable {
                detector: detect::lsan::NAME,
                reason,
                by_design: false,
            }),
            Detector::Miri => detect::miri::available().err(),
        }
    }
}
