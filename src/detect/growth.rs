//! Growth as a detector: run the variant once in a child, sample memory
//! every few iterations, and fit a straight line (ordinary least squares)
//! to three series: resident set size, live C bytes and live Rust bytes.
//!
//! This is what a production engineer can do without instrumenting
//! anything (watch RSS climb), set beside what the lab's exact counters
//! make possible. The two differ in resolution, and that is the lesson:
//!
//! - the counters move by the byte, so their slope is the per-iteration
//!   leak itself and a handful of iterations is enough;
//! - RSS moves by whole pages, and only when the allocator touches a page
//!   it had not touched before, so a leak of tens of bytes per iteration
//!   needs ~10^5 iterations before RSS says anything at all.
//!
//! The verdict flags a leak if either series says so (see
//! [`COUNTERS_MIN_SLOPE`] and [`RSS_MIN_RISE_PAGES`]); the report says
//! whether RSS alone would have flagged it.

use serde::Serialize;

pub use cargo_leaklab::fit::{
    BATCHES, COUNTERS_MIN_SLOPE, Fit, MIN_R_SQUARED, RSS_MIN_RISE_PAGES, fit, page_size, per_iter,
    rss_min_slope, rss_min_slope_over,
};

use super::{Observation, Outcome, Request, Unavailable};
use crate::record::{Ending, RunRecord};
use crate::run::measure::Sample;
use crate::scenarios::{BackendChoice, Variant};
use cargo_leaklab::units::bytes;

pub const NAME: &str = "growth";

/// One sample as the fit and the plots use it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub iteration: u64,
    pub rss_bytes: u64,
    pub c_bytes: i64,
    pub rust_bytes: i64,
}

impl From<&Sample> for Point {
    fn from(s: &Sample) -> Point {
        Point {
            iteration: s.iteration,
            rss_bytes: s.rss_bytes,
            c_bytes: s.heap.c.bytes,
            rust_bytes: s.heap.rust.bytes,
        }
    }
}

/// What the growth detector concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Leak,
    Clean,
    /// The run ended early for another reason (crash, timeout, workload
    /// error): no growth to judge, and never a match.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::Clean => "clean",
            Verdict::Error => "error",
        }
    }
}

/// The fits of one run and the verdict drawn from them.
#[derive(Debug, Clone, Serialize)]
pub struct GrowthReport {
    pub scenario: String,
    pub variant: Variant,
    pub backend: BackendChoice,
    pub iterations: u64,
    pub completed: u64,
    pub sample_every: u64,
    pub ending: Ending,
    pub samples: Vec<Point>,
    pub rss: Fit,
    pub c: Fit,
    pub rust: Fit,
    /// C + Rust live bytes.
    pub counters: Fit,
    /// The counters alone call it a leak.
    pub counters_flag: bool,
    /// The RSS slope this run needed to count ([`RSS_MIN_RISE_PAGES`]
    /// spread over the iterations completed).
    pub rss_min_slope: f64,
    /// RSS alone calls it a leak.
    pub rss_flag: bool,
    pub verdict: Verdict,
    /// The verdict in a few words.
    pub reason: String,
    /// Leak iff the scenario declares a leak on either side, of any kind.
    pub expected: Verdict,
}

impl GrowthReport {
    pub fn matches(&self) -> bool {
        self.verdict == self.expected
    }

    /// (iteration, bytes grown since the first sample) for one series:
    /// the y the plots draw, so leaky and safe start at the same zero.
    pub fn growth_points(&self, series: Series) -> Vec<(f64, f64)> {
        let values: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|p| (p.iteration as f64, series.value(p)))
            .collect();
        let base = values.first().map_or(0.0, |(_, y)| *y);
        values.into_iter().map(|(x, y)| (x, y - base)).collect()
    }
}

/// Which memory figure of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Rss,
    C,
    Rust,
    /// C + Rust.
    Counters,
}

impl Series {
    fn value(self, p: &Point) -> f64 {
        match self {
            Series::Rss => p.rss_bytes as f64,
            Series::C => p.c_bytes as f64,
            Series::Rust => p.rust_bytes as f64,
            Series::Counters => (p.c_bytes + p.rust_bytes) as f64,
        }
    }
}

/// Runs the variant in a child, sampling ~[`BATCHES`] times, and fits.
pub fn report(req: &Request<'_>) -> Result<GrowthReport, String> {
    let sample_every = (req.iterations / BATCHES).max(1);
    let record = super::counters::record_sampled(req, sample_every, false)?;
    Ok(from_record(&record, sample_every, page_size()))
}

/// The growth report of a finished run (pure: no process is started).
pub fn from_record(record: &RunRecord, sample_every: u64, page_size: u64) -> GrowthReport {
    let samples: Vec<Point> = record.samples.iter().map(Point::from).collect();
    let series_fit = |s: Series| {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .map(|p| (p.iteration as f64, s.value(p)))
            .collect();
        fit(&points)
    };
    let (rss, c, rust, counters) = (
        series_fit(Series::Rss),
        series_fit(Series::C),
        series_fit(Series::Rust),
        series_fit(Series::Counters),
    );
    let rss_min_slope = rss_min_slope(page_size, record.completed);
    let counters_flag = counters.climbs(COUNTERS_MIN_SLOPE);
    let rss_flag = rss.climbs(rss_min_slope);
    let flags = Flags {
        counters: counters_flag,
        rss: rss_flag,
    };
    let (verdict, reason) = judge(&record.ending, &counters, &rss, flags);
    GrowthReport {
        scenario: record.scenario.clone(),
        variant: record.variant,
        backend: record.backend,
        iterations: record.iterations,
        completed: record.completed,
        sample_every,
        ending: record.ending.clone(),
        samples,
        rss,
        c,
        rust,
        counters,
        counters_flag,
        rss_min_slope,
        rss_flag,
        verdict,
        reason,
        expected: if record.expected.is_leak() {
            Verdict::Leak
        } else {
            Verdict::Clean
        },
    }
}

/// A run that hit its memory cap grew until it could not: a leak whatever
/// the fit says (an unbounded workload may never finish one iteration).
/// A crash or a timeout is not read as hitting the cap: a leaky variant
/// that crashed must not pass as "leak".
fn judge(ending: &Ending, counters: &Fit, rss: &Fit, flags: Flags) -> (Verdict, String) {
    match ending {
        Ending::HitCap { cap_bytes, .. } => (
            Verdict::Leak,
            format!("grows until the cap ({})", bytes(*cap_bytes)),
        ),
        Ending::Completed if flags.counters => {
            let also = if flags.rss {
                "; RSS too"
            } else {
                "; RSS alone would not see it"
            };
            let slope = per_iter(counters.slope);
            (Verdict::Leak, format!("counters climb {slope}{also}"))
        }
        Ending::Completed if flags.rss => {
            let slope = per_iter(rss.slope);
            (Verdict::Leak, format!("RSS climbs {slope}; counters flat"))
        }
        Ending::Completed => (Verdict::Clean, "flat".into()),
        other => (Verdict::Error, crate::record::summary::ending_text(other)),
    }
}

/// Which series called the run a leak.
#[derive(Debug, Clone, Copy)]
struct Flags {
    counters: bool,
    rss: bool,
}

/// What the detector saw, in one cell's words.
pub fn observed_summary(r: &GrowthReport) -> String {
    let rss = format!(
        "RSS {} (R² {:.2}; alone: {})",
        per_iter(r.rss.slope),
        r.rss.r_squared,
        if r.rss_flag { "leak" } else { "no" }
    );
    match r.ending {
        Ending::Completed => format!(
            "{}: counters {} (R² {:.2}); {rss}",
            r.verdict.as_str(),
            per_iter(r.counters.slope),
            r.counters.r_squared
        ),
        _ => format!("{}: {}", r.verdict.as_str(), r.reason),
    }
}

pub fn observe(req: &Request<'_>) -> Outcome {
    let report = report(req).map_err(|reason| Unavailable {
        detector: NAME,
        reason,
        by_design: false,
    })?;
    Ok(observation(&report))
}

/// A finished report as the matrix's cell.
pub fn observation(report: &GrowthReport) -> Observation {
    Observation {
        stacks: Vec::new(),
        detector: NAME,
        observed: observed_summary(report),
        expected: report.expected.as_str().to_owned(),
        matches: report.matches(),
        detail: serde_json::to_value(report).expect("growth report serializes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_line_is_recovered_exactly() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.5 * i as f64 + 7.0)).collect();
        let f = fit(&points);
        assert!(f.determined);
        assert_eq!(f.points, 10);
        assert!(close(f.slope, 3.5), "{f:?}");
        assert!(close(f.intercept, 7.0), "{f:?}");
        assert!(close(f.r_squared, 1.0), "{f:?}");
    }

    #[test]
    fn noisy_line_keeps_its_slope_and_loses_some_r_squared() {
        // Deterministic noise of +-20 around y = 10x, alternating in sign.
        let points: Vec<(f64, f64)> = (0..50)
            .map(|i| {
                let noise = if i % 2 == 0 { 20.0 } else { -20.0 };
                (i as f64, 10.0 * i as f64 + noise)
            })
            .collect();
        let f = fit(&points);
        assert!((f.slope - 10.0).abs() < 0.1, "{f:?}");
        assert!(f.r_squared < 1.0 && f.r_squared > 0.95, "{f:?}");
    }

    #[test]
    fn flat_line_has_zero_slope_and_is_fully_explained() {
        let points: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 4096.0)).collect();
        let f = fit(&points);
        assert!(f.determined);
        assert!(close(f.slope, 0.0) && close(f.intercept, 4096.0), "{f:?}");
        assert!(close(f.r_squared, 1.0), "{f:?}");
        assert!(!f.climbs(COUNTERS_MIN_SLOPE));
    }

    #[test]
    fn too_few_points_determine_no_line() {
        for points in [vec![], vec![(5.0, 1.0)], vec![(5.0, 1.0), (5.0, 9.0)]] {
            let f = fit(&points);
            assert!(!f.determined, "{points:?} gave {f:?}");
            assert!(!f.climbs(0.0), "{points:?} must never count as a climb");
        }
    }

    #[test]
    fn step_that_levels_off_is_not_a_climb() {
        // A cache warming up to its bound: up for 5 samples, then flat.
        let points: Vec<(f64, f64)> = (0..50)
            .map(|i| (i as f64, 1000.0 * (i.min(5) as f64)))
            .collect();
        let f = fit(&points);
        assert!(f.slope > COUNTERS_MIN_SLOPE, "{f:?}");
        assert!(!f.climbs(COUNTERS_MIN_SLOPE), "{f:?}");
    }

    fn completed_flags(counters: bool, rss: bool) -> Verdict {
        let line = fit(&[(0.0, 0.0), (1.0, 1.0)]);
        judge(&Ending::Completed, &line, &line, Flags { counters, rss }).0
    }

    #[test]
    fn either_series_flags_a_completed_run() {
        assert_eq!(completed_flags(false, false), Verdict::Clean);
        assert_eq!(completed_flags(true, false), Verdict::Leak);
        assert_eq!(completed_flags(false, true), Verdict::Leak);
    }

    #[test]
    fn hitting_the_cap_is_a_leak_but_a_crash_is_not() {
        let flat = fit(&[]);
        let none = Flags {
            counters: false,
            rss: false,
        };
        let cap = Ending::HitCap {
            cap_bytes: 1 << 30,
            failed_allocation_bytes: None,
            rust_live_bytes_at_failure: None,
            last_rss_bytes: 0,
        };
        assert_eq!(judge(&cap, &flat, &flat, none).0, Verdict::Leak);
        let crash = Ending::Crashed {
            status: "signal: 11".into(),
            stderr_tail: String::new(),
        };
        assert_eq!(judge(&crash, &flat, &flat, none).0, Verdict::Error);
    }

    /// A completed child run whose samples grow by `per_iter` counted
    /// Rust bytes and `rss_per_iter` resident bytes per iteration.
    fn synthetic_run(per_iter: i64, rss_per_iter: u64) -> crate::run::isolate::ChildRun {
        use crate::heap::{Live, Snapshot};
        use crate::run::measure::Finish;
        let at = |i: u64| Snapshot {
            c: Live::default(),
            rust: Live {
                blocks: i as i64,
                bytes: per_iter * i as i64,
            },
        };
        let samples = (0..=50)
            .map(|k| Sample {
                iteration: k * 20,
                heap: at(k * 20),
                rss_bytes: (1 << 20) + rss_per_iter * k * 20,
            })
            .collect();
        let finish = Finish {
            completed: 1000,
            before: at(0),
            after_setup: at(0),
            after_iterations: at(1000),
            after_teardown: at(1000),
            error: None,
            c_counted: true,
            sanitizer: None,
        };
        crate::run::isolate::ChildRun {
            samples,
            finish: Some(finish),
            sites: Vec::new(),
            status: None,
            timed_out: false,
            stdout: String::new(),
            stderr: String::new(),
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn synthetic_report(variant: Variant, per_iter: i64, rss_per_iter: u64) -> GrowthReport {
        let scenario = crate::scenarios::find("rc-cycle").expect("rc-cycle is registered");
        let limits = crate::run::isolate::Limits::default();
        let run = synthetic_run(per_iter, rss_per_iter);
        let record =
            crate::detect::counters::judge(scenario, variant, BackendChoice::C, 1000, limits, run);
        from_record(&record, 20, 4096)
    }

    #[test]
    fn counted_growth_is_a_leak_and_flat_counters_are_clean() {
        let leaky = synthetic_report(Variant::Leaky, 136, 0);
        assert!(close(leaky.rust.slope, 136.0) && close(leaky.counters.slope, 136.0));
        assert!(leaky.counters_flag && !leaky.rss_flag);
        assert_eq!(
            (leaky.verdict, leaky.expected),
            (Verdict::Leak, Verdict::Leak)
        );
        let safe = synthetic_report(Variant::Safe, 0, 0);
        assert_eq!(
            (safe.verdict, safe.expected),
            (Verdict::Clean, Verdict::Clean)
        );
        assert!(safe.matches());
    }

    #[test]
    fn rss_alone_flags_growth_the_counters_cannot_see() {
        // Clean counters, but RSS climbing by more than the bar allows.
        let steep = (rss_min_slope(4096, 1000) * 2.0) as u64;
        let r = synthetic_report(Variant::Safe, 0, steep);
        assert!(r.rss_flag && !r.counters_flag, "{r:?}");
        assert_eq!(r.verdict, Verdict::Leak);
        assert!(
            !r.matches(),
            "a safe variant declared clean must not match a leak"
        );
    }

    #[test]
    fn rss_threshold_is_the_minimum_rise_spread_over_the_run() {
        let rise = (RSS_MIN_RISE_PAGES * 4096) as f64;
        for completed in [100, 1_000, 100_000] {
            let slope = rss_min_slope(4096, completed);
            assert!(
                close(slope * completed as f64, rise),
                "{completed}: {slope}"
            );
        }
        assert!(rss_min_slope(4096, 1_000) > rss_min_slope(4096, 100_000));
    }

    #[test]
    fn rss_threshold_never_drops_below_the_counters_one_nor_divides_by_zero() {
        let huge = rss_min_slope(4096, u64::MAX / (RSS_MIN_RISE_PAGES * 4096));
        assert!(close(huge, COUNTERS_MIN_SLOPE), "{huge}");
        assert!(rss_min_slope(4096, 0).is_finite());
    }
}
