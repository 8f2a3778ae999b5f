//! The lab's growth plots: a scenario's leaky and safe variants on one
//! chart (the drawing itself is the CLI crate's, shared with `watch`).

use std::path::Path;

use cargo_leaklab::plot::{ITERATIONS, Line, PALETTE, svg_or_message};
use plotters::style::RGBColor;

use crate::detect::growth::{GrowthReport, Series, per_iter};
use crate::record::Ending;

pub use cargo_leaklab::plot::{growth_svg, growth_svg_against};

const LEAKY: RGBColor = PALETTE[0];
const SAFE: RGBColor = PALETTE[1];

/// The leaky and the safe variant of one scenario on one plot: growth of
/// the counters (C + Rust live bytes, solid) and of RSS (dashed) since the
/// first sample, so both variants start at zero and the leak is the climb.
pub fn growth_plot_svg(scenario_id: &str, leaky: &GrowthReport, safe: &GrowthReport) -> String {
    let data = [
        (leaky, Series::Counters),
        (leaky, Series::Rss),
        (safe, Series::Counters),
        (safe, Series::Rss),
    ]
    .map(|(r, s)| r.growth_points(s));
    let lines = [
        line(leaky, Series::Counters, &data[0], LEAKY),
        line(leaky, Series::Rss, &data[1], LEAKY),
        line(safe, Series::Counters, &data[2], SAFE),
        line(safe, Series::Rss, &data[3], SAFE),
    ];
    svg_or_message(
        &format!("{scenario_id}: memory over iterations"),
        ITERATIONS,
        &lines,
    )
}

/// Writes [`growth_plot_svg`] to `path`.
pub fn write_growth_plot(
    path: &Path,
    scenario_id: &str,
    leaky: &GrowthReport,
    safe: &GrowthReport,
) -> Result<(), String> {
    let svg = growth_plot_svg(scenario_id, leaky, safe);
    std::fs::write(path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A legend that carries the slope, or how the run ended if it did not
/// complete (an unbounded leak has no line to fit: it died in one go).
fn line<'a>(r: &GrowthReport, s: Series, points: &'a [(f64, f64)], color: RGBColor) -> Line<'a> {
    let (what, fit) = match s {
        Series::Rss => ("RSS", &r.rss),
        _ => ("C+Rust counters", &r.counters),
    };
    let how = match r.ending {
        Ending::Completed => per_iter(fit.slope),
        _ => r.reason.clone(),
    };
    Line {
        label: format!("{} {what}: {how}", r.variant.as_str()),
        points,
        color,
        dashed: s == Series::Rss,
    }
}
