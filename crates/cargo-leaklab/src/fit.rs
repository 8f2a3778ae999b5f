//! Straight-line fits of memory over time, and the thresholds every growth
//! verdict (the lab's growth detector, `leaklab watch`) applies to them.
//!
//! The counters move by the byte, so their slope is the leak itself; RSS
//! moves by whole pages, and only when the allocator touches a page it had
//! not touched before, so its bar is set in pages ([`RSS_MIN_RISE_PAGES`]).

use serde::Serialize;

/// Samples per run: enough points for the fit to see a trend through page
/// steps, few enough that sampling (a read of /proc) stays negligible.
pub const BATCHES: u64 = 50;

/// Counters' total slope (C + Rust bytes per iteration) at or above which
/// the run leaks. The smallest leak possible is one block of one byte per
/// iteration, and the counters are exact, so anything steadier than that
/// is real; below it is bookkeeping (a buffer resized once, say).
pub const COUNTERS_MIN_SLOPE: f64 = 1.0;

/// How well a line must explain a series before its slope counts. A leak
/// is a straight line; growth that levels off (a cache warming up to its
/// bound, a page touched once) fits a line badly and is not flagged.
pub const MIN_R_SQUARED: f64 = 0.9;

/// RSS must rise by at least this many pages over the run (as fitted:
/// slope x iterations completed) to count: 1 MiB with 4 KiB pages.
///
/// RSS only ever moves by whole pages, and a clean process moves it too
/// while it warms up: lazily mapped code and buffers are touched, malloc
/// extends its heap 128 KiB at a time and serves any block of 128 KiB or
/// more from fresh pages, and caches fill (panic-unwind's safe variant
/// climbs steadily by a few hundred KiB over its first thousand
/// iterations, then levels off). The rise must be well above several such
/// steps, so a short run cannot be flagged by RSS alone: at 10^5
/// iterations the bar is ~10 B/iter, under what any leak here costs once
/// malloc's chunk overhead is added.
pub const RSS_MIN_RISE_PAGES: u64 = 256;

/// A least-squares line through some points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    /// Points the fit was given.
    pub points: usize,
    /// False when there are fewer than two distinct x values: no line is
    /// determined, and slope 0 / R² 0 say nothing.
    pub determined: bool,
    /// Change in y per unit of x (bytes per iteration here).
    pub slope: f64,
    pub intercept: f64,
    /// Share of y's variance the line explains, 0 to 1; 1 for a perfect
    /// line, including a flat one (there is no variance left to explain).
    pub r_squared: f64,
}

/// Ordinary least squares of y on x.
pub fn fit(points: &[(f64, f64)]) -> Fit {
    let n = points.len();
    let (mean_x, mean_y) = means(points);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if n < 2 || sxx == 0.0 {
        return Fit {
            points: n,
            determined: false,
            slope: 0.0,
            intercept: mean_y,
            r_squared: 0.0,
        };
    }
    let sxy: f64 = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    Fit {
        points: n,
        determined: true,
        slope,
        intercept,
        r_squared: r_squared(points, slope, intercept, mean_y),
    }
}

fn means(points: &[(f64, f64)]) -> (f64, f64) {
    if points.is_empty() {
        return (0.0, 0.0);
    }
    let n = points.len() as f64;
    let sx: f64 = points.iter().map(|(x, _)| x).sum();
    let sy: f64 = points.iter().map(|(_, y)| y).sum();
    (sx / n, sy / n)
}

fn r_squared(points: &[(f64, f64)], slope: f64, intercept: f64, mean_y: f64) -> f64 {
    let ss_tot: f64 = points.iter().map(|(_, y)| (y - mean_y).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|(x, y)| (y - (slope * x + intercept)).powi(2))
        .sum();
    if ss_tot == 0.0 {
        return 1.0;
    }
    (1.0 - ss_res / ss_tot).max(0.0)
}

impl Fit {
    /// A steady climb of at least `min_slope`, well explained by a line
    /// (R² at least [`MIN_R_SQUARED`]): the rule every growth verdict uses.
    pub fn climbs(&self, min_slope: f64) -> bool {
        self.determined && self.slope >= min_slope && self.r_squared >= MIN_R_SQUARED
    }
}

/// [`RSS_MIN_RISE_PAGES`] pages spread over the run, in bytes per
/// iteration, and never under the counters' threshold.
pub fn rss_min_slope(page_size: u64, completed: u64) -> f64 {
    rss_min_slope_over(page_size, completed.max(1) as f64)
}

/// [`RSS_MIN_RISE_PAGES`] pages spread over `span` units of x (iterations,
/// seconds), and never under the counters' threshold.
pub fn rss_min_slope_over(page_size: u64, span: f64) -> f64 {
    let rise = (RSS_MIN_RISE_PAGES * page_size) as f64;
    if span > 0.0 {
        (rise / span).max(COUNTERS_MIN_SLOPE)
    } else {
        rise
    }
}

/// "+136.0 B/iter".
pub fn per_iter(slope: f64) -> String {
    format!("{slope:+.1} B/iter")
}

/// The system's page size in bytes (4096 where it cannot be read).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}
