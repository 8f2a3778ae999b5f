//! Memory-over-time plots, as SVG text: bytes grown against iterations
//! (the lab's scenarios) or seconds (a watched program).
//!
//! plotters' SVG backend writes `<text>` elements and leaves the glyphs to
//! whoever views the file, so no font file or fontconfig is needed to build
//! or run this (the "ttf" feature, which would need them, stays off). The
//! SVG is a string, so a report can inline it.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::units::{bytes, escape};

pub const SIZE: (u32, u32) = (860, 480);

/// Colours for [`growth_svg`]'s series, in order (then they repeat).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(200, 40, 40),
    RGBColor(30, 120, 60),
    RGBColor(30, 80, 180),
    RGBColor(220, 130, 0),
    RGBColor(120, 60, 160),
    RGBColor(90, 90, 90),
];

/// One line of a plot.
pub struct Line<'a> {
    pub label: String,
    pub points: &'a [(f64, f64)],
    pub color: RGBColor,
    /// Dashed lines are RSS; solid ones the exact counters.
    pub dashed: bool,
}

/// The x axis of the scenario plots.
pub const ITERATIONS: &str = "iterations";

/// Bytes (y) against iterations (x), one solid line per series.
pub fn growth_svg(title: &str, series: &[(&str, &[(f64, f64)])]) -> String {
    growth_svg_against(title, ITERATIONS, series)
}

/// Bytes (y) against `x_desc` (the x axis' label: "seconds" for a watched
/// program), one solid line per series.
pub fn growth_svg_against(title: &str, x_desc: &str, series: &[(&str, &[(f64, f64)])]) -> String {
    let lines: Vec<Line<'_>> = series
        .iter()
        .enumerate()
        .map(|(i, (label, points))| Line {
            label: (*label).to_owned(),
            points,
            color: PALETTE[i % PALETTE.len()],
            dashed: false,
        })
        .collect();
    svg_or_message(title, x_desc, &lines)
}

/// A plot can only fail on a degenerate chart; the report then shows why
/// instead of losing the page.
pub fn svg_or_message(title: &str, x_desc: &str, lines: &[Line<'_>]) -> String {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, title, x_desc, lines).and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match drawn {
        Ok(()) => svg,
        Err(e) => message_svg(&format!("{title}: cannot plot ({e})")),
    }
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_desc: &str,
    lines: &[Line<'_>],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (x_range, y_range) = ranges(lines);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        // Room for the last x label, which is centred on the right edge.
        .margin_right(36)
        .x_label_area_size(44)
        .y_label_area_size(84)
        .build_cartesian_2d(x_range, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("bytes grown since the first sample")
        .y_label_formatter(&|v| signed_bytes(*v))
        .x_label_formatter(&|v| axis_number(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for l in lines {
        draw_line(&mut chart, l).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw_line(
    chart: &mut Chart<'_, '_>,
    l: &Line<'_>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let style = l.color.stroke_width(if l.dashed { 2 } else { 3 });
    let points = l.points.iter().copied();
    let anno = if l.dashed {
        chart.draw_series(DashedLineSeries::new(points, 8, 5, style))?
    } else {
        chart.draw_series(LineSeries::new(points, style))?
    };
    let dashed = l.dashed;
    anno.label(l.label.clone()).legend(move |(x, y)| {
        let end = if dashed { x + 10 } else { x + 22 };
        PathElement::new(vec![(x, y), (end, y)], style)
    });
    Ok(())
}

/// Axis ranges that hold every point, include zero, and are never empty
/// (a flat line at zero still gets a readable 1 KiB of height).
fn ranges(lines: &[Line<'_>]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let max_x = all().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let min_y = all().map(|p| p.1).fold(0.0, f64::min);
    let max_y = all().map(|p| p.1).fold(0.0, f64::max);
    let pad = ((max_y - min_y) * 0.06).max(1024.0);
    let low = if min_y < 0.0 { min_y - pad } else { 0.0 };
    (0.0..max_x, low..max_y + pad)
}

/// Whole numbers as such ("1000"), fractions with one decimal ("0.5"):
/// iterations are whole, seconds of a short watch are not.
fn axis_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// "1.5 MiB", "-4.0 KiB", "0 B".
fn signed_bytes(v: f64) -> String {
    let text = bytes(v.abs().round() as u64);
    if v <= -0.5 { format!("-{text}") } else { text }
}

/// A small SVG that says what went wrong, in place of a plot.
fn message_svg(text: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"60\">\
         <text x=\"10\" y=\"35\" font-family=\"sans-serif\" font-size=\"16\">{}</text></svg>",
        SIZE.0,
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contents of every `<text>` element, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')
                    .and_then(|(_, rest)| rest.split_once("</text>"))
            })
            .map(|(inner, _)| inner.trim().to_owned())
            .collect()
    }

    fn climb() -> Vec<(f64, f64)> {
        (0..=10)
            .map(|i| (i as f64 * 100.0, i as f64 * 5000.0))
            .collect()
    }

    #[test]
    fn svg_has_title_axes_and_legend_as_text() {
        let leak = climb();
        let flat: Vec<(f64, f64)> = (0..=10).map(|i| (i as f64 * 100.0, 0.0)).collect();
        let svg = growth_svg("demo <leak>", &[("leaky", &leak), ("safe", &flat)]);
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        let texts = texts(&svg);
        for needle in [
            "demo &lt;leak&gt;",
            "iterations",
            "bytes grown since the first sample",
            "leaky",
            "safe",
        ] {
            assert!(
                texts.iter().any(|t| t == needle),
                "no <text> {needle} in {texts:?}"
            );
        }
        assert!(svg.contains("<polyline"), "lines must be drawn");
    }

    #[test]
    fn empty_and_flat_series_still_plot() {
        let svg = growth_svg("nothing", &[("none", &[]), ("zero", &[(0.0, 0.0)])]);
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "nothing"), "{texts:?}");
        assert!(!svg.contains("cannot plot"), "{svg}");
    }

    #[test]
    fn ranges_include_zero_and_every_point() {
        let down = [(0.0, 0.0), (50.0, -3000.0)];
        let up = climb();
        let lines = [&down[..], &up[..]].map(|points| Line {
            label: String::new(),
            points,
            color: PALETTE[0],
            dashed: false,
        });
        let (x, y) = ranges(&lines);
        assert!(x.start == 0.0 && x.end >= 1000.0);
        assert!(y.start < -3000.0 && y.end > 50_000.0);
    }

    #[test]
    fn byte_labels_are_human_and_signed() {
        assert_eq!(signed_bytes(0.0), "0 B");
        assert_eq!(signed_bytes(1536.0), "1.5 KiB");
        assert_eq!(signed_bytes(-2048.0), "-2.0 KiB");
    }
}
