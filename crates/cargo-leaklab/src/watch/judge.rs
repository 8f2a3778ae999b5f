//! Does the watched program grow? The growth detector's least-squares fit
//! and rule ([`Fit::climbs`]), over time instead of iterations:
//!
//! - RSS grows when its line climbs by at least
//!   [`RSS_MIN_RISE_PAGES`](crate::fit::RSS_MIN_RISE_PAGES)
//!   pages (1 MiB with 4 KiB pages) over the fitted span, with R² at least
//!   [`MIN_R_SQUARED`](crate::fit::MIN_R_SQUARED);
//! - the malloc heap (where the shim is loaded) grows when its live bytes
//!   climb by at least [`COUNTERS_MIN_SLOPE`] byte per second with the same R²: it counts by the byte, so a steady
//!   line is real;
//! - either one growing makes the verdict "grows".
//!
//! Samples of the first `warmup` seconds are left out of the fit: a
//! program's start-up (an interpreter loading its modules) is a step, not a
//! trend, and one step at the start would spoil the line.

use serde::Serialize;

use super::sample::Sample;
use crate::fit::{COUNTERS_MIN_SLOPE, Fit, fit, rss_min_slope_over};

/// Fewer fitted samples than this say nothing about a trend.
pub const MIN_POINTS: usize = 3;

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// RSS or the heap climbs steadily (of the tree or of one of its
    /// processes), or the program ran out of memory.
    Grows,
    /// Neither does.
    Flat,
    /// Fewer than [`MIN_POINTS`] samples after the warm-up: no trend to
    /// judge, undecided.
    TooShort,
    /// A process crashed (SIGSEGV, SIGABRT, ...) and no growth was seen.
    Crashed,
}

impl Verdict {
    /// "grows", "flat", "too-short", "crashed".
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Grows => "grows",
            Verdict::Flat => "flat",
            Verdict::TooShort => "too-short",
            Verdict::Crashed => "crashed",
        }
    }
}

/// What the samples alone do not show, found by the watch.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The program ran out of memory (how), which is growth whatever the
    /// line says.
    pub out_of_memory: Option<String>,
    /// A process of the tree crashed (which, how).
    pub crash: Option<String>,
}

/// One process's own samples, for its own fit.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSeries {
    /// Its pid.
    pub pid: u32,
    /// Its command line, as last seen.
    pub command: String,
    /// Its samples (`processes` is 1).
    pub samples: Vec<Sample>,
}

/// A process whose own memory climbs.
#[derive(Debug, Clone, Serialize)]
pub struct Grower {
    pub pid: u32,
    pub command: String,
    /// Its RSS slope in bytes per second, and whether that alone is growth.
    pub rss_slope: f64,
    pub rss_grows: bool,
    /// Its heap's slope, where the shim published it.
    pub heap_slope: Option<f64>,
    pub heap_grows: bool,
}

/// The fits and the verdict drawn from them.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    /// Samples the fit was given (those at or after the warm-up, before
    /// the program began to exit).
    pub fitted: usize,
    /// Samples left out because the program had begun to exit (teardown).
    pub teardown: usize,
    /// Seconds between the first and the last fitted sample.
    pub span_secs: f64,
    /// RSS bytes (the tree's, the shim's own left out) against seconds.
    pub rss: Fit,
    /// The RSS slope (bytes per second) that counts as growth over this span.
    pub rss_min_slope: f64,
    /// RSS alone calls it growth.
    pub rss_grows: bool,
    /// Heap live bytes against seconds, where the shim published them.
    pub heap: Option<Fit>,
    /// The heap alone calls it growth.
    pub heap_grows: bool,
    /// The processes whose own memory climbs, the steepest first.
    pub growers: Vec<Grower>,
    /// How the program ran out of memory, if it did.
    pub out_of_memory: Option<String>,
    /// Which process crashed and how, if one did.
    pub crash: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// One series' fits: the growth detector's rule over time.
struct SeriesFit {
    fitted: usize,
    teardown: usize,
    span_secs: f64,
    rss: Fit,
    rss_min_slope: f64,
    rss_grows: bool,
    heap: Option<Fit>,
    heap_grows: bool,
}

impl SeriesFit {
    fn of(samples: &[Sample], from: f64, page_size: u64) -> SeriesFit {
        let teardown = samples.iter().filter(|s| s.exiting).count();
        let fitted: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.t >= from && !s.exiting)
            .collect();
        let span_secs = match (fitted.first(), fitted.last()) {
            (Some(a), Some(b)) => b.t - a.t,
            _ => 0.0,
        };
        let rss_points: Vec<(f64, f64)> =
            fitted.iter().map(|s| (s.t, s.rss_bytes as f64)).collect();
        let rss = fit(&rss_points);
        let rss_min_slope = rss_min_slope_over(page_size, span_secs);
        let heap_points: Vec<(f64, f64)> = fitted
            .iter()
            .filter_map(|s| s.heap.map(|h| (s.t, h.bytes as f64)))
            .collect();
        let heap = (!heap_points.is_empty()).then(|| fit(&heap_points));
        let enough = fitted.len() >= MIN_POINTS;
        SeriesFit {
            fitted: fitted.len(),
            teardown,
            span_secs,
            rss,
            rss_min_slope,
            rss_grows: enough && rss.climbs(rss_min_slope),
            heap,
            heap_grows: enough
                && heap_points.len() >= MIN_POINTS
                && heap.is_some_and(|h| h.climbs(COUNTERS_MIN_SLOPE)),
        }
    }

    fn grows(&self) -> bool {
        self.rss_grows || self.heap_grows
    }
}

/// Judges the tree's `samples` (in time order), leaving out those before
/// `fit_from` seconds (`warmup`, or `warmup` after the first request) and
/// those taken once the program began to exit; each process of
/// `processes` is fitted the same way on its own (its warm-up counted from
/// its first sample, and never before `fit_from`), to name the one that
/// grows.
pub fn judge(
    samples: &[Sample],
    warmup: f64,
    fit_from: f64,
    page_size: u64,
    processes: &[ProcessSeries],
    evidence: &Evidence,
) -> Judgement {
    let tree = SeriesFit::of(samples, fit_from, page_size);
    let mut growers: Vec<Grower> = processes
        .iter()
        .filter_map(|p| {
            let first = p.samples.first()?.t;
            let f = SeriesFit::of(&p.samples, (first + warmup).max(fit_from), page_size);
            f.grows().then(|| Grower {
                pid: p.pid,
                command: p.command.clone(),
                rss_slope: f.rss.slope,
                rss_grows: f.rss_grows,
                heap_slope: f.heap.map(|h| h.slope),
                heap_grows: f.heap_grows,
            })
        })
        .collect();
    growers.sort_by(|a, b| {
        let key = |g: &Grower| g.rss_slope.max(g.heap_slope.unwrap_or(0.0));
        key(b).total_cmp(&key(a))
    });
    let verdict = if evidence.out_of_memory.is_some() || tree.grows() || !growers.is_empty() {
        Verdict::Grows
    } else if evidence.crash.is_some() {
        Verdict::Crashed
    } else if tree.fitted < MIN_POINTS {
        Verdict::TooShort
    } else {
        Verdict::Flat
    };
    Judgement {
        fitted: tree.fitted,
        teardown: tree.teardown,
        span_secs: tree.span_secs,
        rss: tree.rss,
        rss_min_slope: tree.rss_min_slope,
        rss_grows: tree.rss_grows,
        heap: tree.heap,
        heap_grows: tree.heap_grows,
        growers,
        out_of_memory: evidence.out_of_memory.clone(),
        crash: evidence.crash.clone(),
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::sample::Heap;

    /// Samples every 0.1 s for `secs`, RSS at `base` plus `rss_rate` bytes
    /// per second, and the heap at `heap_rate`.
    fn run(secs: f64, base: u64, rss_rate: f64, heap_rate: Option<f64>) -> Vec<Sample> {
        let n = (secs * 10.0) as usize;
        (0..=n)
            .map(|i| {
                let t = i as f64 / 10.0;
                Sample {
                    t,
                    rss_bytes: base + (rss_rate * t) as u64,
                    heap: heap_rate.map(|r| Heap {
                        blocks: 10,
                        bytes: 4096 + (r * t) as i64,
                    }),
                    processes: 1,
                    ..Sample::default()
                }
            })
            .collect()
    }

    #[test]
    fn rss_climbing_a_mebibyte_a_second_grows() {
        let j = judge(
            &run(3.0, 8 << 20, 1_048_576.0, None),
            0.5,
            0.5,
            4096,
            &[],
            &Evidence::default(),
        );
        assert_eq!(j.verdict, Verdict::Grows);
        assert!(j.rss_grows && j.heap.is_none());
        assert!((j.rss.slope - 1_048_576.0).abs() < 1000.0, "{:?}", j.rss);
        assert_eq!(j.fitted, 26);
    }

    #[test]
    fn rss_rising_less_than_the_bar_over_the_span_is_flat() {
        // 100 KiB/s over 2.5 s fitted: 250 KiB, under 1 MiB.
        let j = judge(
            &run(3.0, 8 << 20, 102_400.0, None),
            0.5,
            0.5,
            4096,
            &[],
            &Evidence::default(),
        );
        assert!(j.rss.r_squared > 0.99 && !j.rss_grows, "{j:?}");
        assert_eq!(j.verdict, Verdict::Flat);
    }

    #[test]
    fn a_steady_heap_climb_grows_even_with_flat_rss() {
        let j = judge(
            &run(3.0, 8 << 20, 0.0, Some(2000.0)),
            0.5,
            0.5,
            4096,
            &[],
            &Evidence::default(),
        );
        assert!(j.heap_grows && !j.rss_grows, "{j:?}");
        assert_eq!(j.verdict, Verdict::Grows);
        let flat = judge(
            &run(3.0, 8 << 20, 0.0, Some(0.0)),
            0.5,
            0.5,
            4096,
            &[],
            &Evidence::default(),
        );
        assert_eq!(flat.verdict, Verdict::Flat);
    }

    #[test]
    fn a_start_up_step_inside_the_warmup_is_not_growth() {
        let mut samples = run(3.0, 8 << 20, 0.0, None);
        samples[0].rss_bytes = 1 << 20;
        samples[1].rss_bytes = 4 << 20;
        assert_eq!(
            judge(&samples, 0.5, 0.5, 4096, &[], &Evidence::default()).verdict,
            Verdict::Flat
        );
        // The same step fitted: a poor line, still not growth.
        let j = judge(&samples, 0.0, 0.0, 4096, &[], &Evidence::default());
        assert!(j.rss.r_squared < 0.9, "{:?}", j.rss);
        assert_eq!(j.verdict, Verdict::Flat);
    }

    #[test]
    fn too_few_samples_after_the_warmup_judge_nothing() {
        let j = judge(
            &run(0.6, 8 << 20, 1e9, None),
            0.5,
            0.5,
            4096,
            &[],
            &Evidence::default(),
        );
        assert_eq!((j.fitted, j.verdict), (2, Verdict::TooShort));
        assert!(!j.rss_grows);
        assert_eq!(
            judge(&[], 0.5, 0.5, 4096, &[], &Evidence::default()).verdict,
            Verdict::TooShort
        );
    }

    #[test]
    fn a_teardown_drop_after_the_exit_mark_is_left_out() {
        let mut samples = run(3.0, 8 << 20, 4_000_000.0, None);
        let n = samples.len();
        // The last two samples: the program freed everything as it exited.
        for s in &mut samples[n - 2..] {
            s.rss_bytes = 2 << 20;
        }
        let broken = judge(&samples, 0.5, 0.5, 4096, &[], &Evidence::default());
        assert_eq!(
            broken.verdict,
            Verdict::Flat,
            "unmarked, the drop spoils R²"
        );
        for s in &mut samples[n - 2..] {
            s.exiting = true;
        }
        let j = judge(&samples, 0.5, 0.5, 4096, &[], &Evidence::default());
        assert_eq!((j.verdict, j.teardown), (Verdict::Grows, 2), "{j:?}");
    }

    #[test]
    fn out_of_memory_grows_and_a_crash_is_its_own_verdict() {
        let flat = run(3.0, 8 << 20, 0.0, None);
        let oom = Evidence {
            out_of_memory: Some("malloc refused 1 allocation".into()),
            crash: None,
        };
        assert_eq!(
            judge(&flat, 0.5, 0.5, 4096, &[], &oom).verdict,
            Verdict::Grows
        );
        assert_eq!(
            judge(&[], 0.5, 0.5, 4096, &[], &oom).verdict,
            Verdict::Grows
        );
        let crash = Evidence {
            out_of_memory: None,
            crash: Some("pid 1 crashed: signal 11 (SIGSEGV)".into()),
        };
        assert_eq!(
            judge(&flat, 0.5, 0.5, 4096, &[], &crash).verdict,
            Verdict::Crashed
        );
        assert_eq!(
            judge(&[], 0.5, 0.5, 4096, &[], &crash).verdict,
            Verdict::Crashed
        );
        let growing = run(3.0, 8 << 20, 1_048_576.0, None);
        assert_eq!(
            judge(&growing, 0.5, 0.5, 4096, &[], &crash).verdict,
            Verdict::Grows
        );
    }

    #[test]
    fn the_process_that_grows_is_named_even_when_the_sum_is_noisy() {
        let grower = ProcessSeries {
            pid: 7,
            command: "worker".into(),
            samples: run(3.0, 8 << 20, 1_048_576.0, Some(1_048_576.0)),
        };
        let quiet = ProcessSeries {
            pid: 8,
            command: "parent".into(),
            samples: run(3.0, 8 << 20, 0.0, Some(0.0)),
        };
        // A tree sum too short to fit: the worker alone still says grows.
        let j = judge(&[], 0.5, 0.5, 4096, &[quiet, grower], &Evidence::default());
        assert_eq!(j.verdict, Verdict::Grows);
        assert_eq!(j.growers.len(), 1);
        assert_eq!((j.growers[0].pid, j.growers[0].heap_grows), (7, true));
    }
}
