//! The matrix as one self-contained HTML page: inline CSS, inline SVG
//! plots, nothing fetched from anywhere, so the file can be mailed,
//! attached to a CI run or opened offline and look the same.

use std::fmt::Write;

use crate::detect::Outcome;

/// One scenario variant and what each detector made of it.
#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub scenario: String,
    pub variant: String,
    pub backend: String,
    /// (detector name, its outcome), in the order the columns should take.
    pub cells: Vec<(String, Outcome)>,
}

pub use cargo_leaklab::units::escape;

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
p.summary { margin: 0 0 12px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #f2f2f2; position: sticky; top: 0; }
tr.first td { border-top: 2px solid #888; }
td.match { background: #d9f2d9; }
td.mismatch { background: #f7d4d4; }
td.notrun { background: #e6e6e6; color: #555; }
td.cell { max-width: 300px; }
.label { font-weight: 600; margin-right: 4px; }
.key span { display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #ccc; }
div.plots { display: flex; flex-wrap: wrap; gap: 8px 24px; }
figure { margin: 12px 0 24px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
";

/// The whole page: the matrix table, then the plots (title, SVG markup as
/// made by [`crate::report::plot`]; anything that is not SVG is shown as
/// text, never inserted as markup).
pub fn matrix_page(rows: &[MatrixRow], plots: &[(String, String)]) -> String {
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<title>leaklab: detector matrix</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<h1>leaklab: detector matrix</h1>\n");
    page.push_str(&summary(rows));
    page.push_str(
        "<p class=\"key\"><span style=\"background:#d9f2d9\">matches its \
         expectation</span><span style=\"background:#f7d4d4\">differs</span>\
         <span style=\"background:#e6e6e6\">not run here (why)</span></p>\n",
    );
    page.push_str(&table(rows));
    if !plots.is_empty() {
        page.push_str("<h2>Growth: memory over iterations</h2>\n<div class=\"plots\">\n");
        for (title, svg) in plots {
            page.push_str(&figure(title, svg));
        }
        page.push_str("</div>\n");
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// How many cells matched, differed, and could not run.
fn summary(rows: &[MatrixRow]) -> String {
    let outcomes = || rows.iter().flat_map(|r| r.cells.iter().map(|(_, o)| o));
    let matched = outcomes()
        .filter(|o| matches!(o, Ok(obs) if obs.matches))
        .count();
    let differed = outcomes()
        .filter(|o| matches!(o, Ok(obs) if !obs.matches))
        .count();
    let not_run = outcomes().filter(|o| o.is_err()).count();
    format!(
        "<p class=\"summary\">{} rows; {matched} cells match, {differed} differ, {not_run} not run.</p>\n",
        rows.len()
    )
}

/// Every detector that appears in any row, in the order first seen.
fn detectors(rows: &[MatrixRow]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in rows.iter().flat_map(|r| r.cells.iter()) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

fn table(rows: &[MatrixRow]) -> String {
    let names = detectors(rows);
    let mut html =
        String::from("<table>\n<thead><tr><th>scenario</th><th>variant</th><th>backend</th>");
    for name in &names {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    let mut previous: Option<&str> = None;
    for row in rows {
        let first = previous != Some(row.scenario.as_str());
        previous = Some(&row.scenario);
        html.push_str(&table_row(row, &names, first));
    }
    html.push_str("</tbody>\n</table>\n");
    html
}

/// One row; `first` marks the first row of a scenario (a heavier rule).
fn table_row(row: &MatrixRow, names: &[&str], first: bool) -> String {
    let mut html = String::from(if first {
        "<tr class=\"first\">"
    } else {
        "<tr>"
    });
    for text in [&row.scenario, &row.variant, &row.backend] {
        let _ = write!(html, "<td>{}</td>", escape(text));
    }
    for name in names {
        let outcome = row.cells.iter().find(|(n, _)| n == name).map(|(_, o)| o);
        html.push_str(&cell(outcome));
    }
    html.push_str("</tr>\n");
    html
}

/// Green for a match, red for a mismatch, grey with the reason when the
/// detector could not run (or was not asked to, for this row).
fn cell(outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Ok(obs)) => format!(
            "<td class=\"cell {}\"><div><span class=\"label\">expected</span>{}</div>\
             <div><span class=\"label\">observed</span>{}</div></td>",
            if obs.matches { "match" } else { "mismatch" },
            escape(&obs.expected),
            escape(&obs.observed)
        ),
        Some(Err(unavailable)) => format!(
            "<td class=\"cell notrun\"><span class=\"label\">not run</span>{}</td>",
            escape(&unavailable.reason)
        ),
        None => "<td class=\"cell notrun\">not asked</td>".to_owned(),
    }
}

/// A plot with its caption. The SVG is inserted as markup only if it is
/// one (our plots are); anything else is escaped, so a caller's error
/// message can never become markup.
fn figure(title: &str, svg: &str) -> String {
    let body = svg.trim_start();
    let body = if body.starts_with("<svg") {
        body.to_owned()
    } else {
        format!("<pre>{}</pre>", escape(svg))
    };
    format!(
        "<figure>\n<figcaption>{}</figcaption>\n{body}\n</figure>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Observation, Unavailable};

    fn observed(detector: &'static str, matches: bool, text: &str) -> (String, Outcome) {
        let obs = Observation {
            stacks: Vec::new(),
            detector,
            observed: text.to_owned(),
            expected: "leak".to_owned(),
            matches,
            detail: serde_json::Value::Null,
        };
        (detector.to_owned(), Ok(obs))
    }

    fn unavailable(detector: &'static str, reason: &str) -> (String, Outcome) {
        let u = Unavailable {
            detector,
            reason: reason.to_owned(),
            by_design: false,
        };
        (detector.to_owned(), Err(u))
    }

    fn rows() -> Vec<MatrixRow> {
        vec![
            MatrixRow {
                scenario: "rc-cycle".into(),
                variant: "leaky".into(),
                backend: "-".into(),
                cells: vec![
                    observed("counters", true, "Rust 4 blk / 136 B"),
                    observed("growth", false, "clean <flat>"),
                ],
            },
            MatrixRow {
                scenario: "rc-cycle".into(),
                variant: "safe".into(),
                backend: "-".into(),
                cells: vec![unavailable(
                    "valgrind",
                    "valgrind is not installed & cannot be",
                )],
            },
        ]
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain: R² 1.00"), "plain: R² 1.00");
    }

    #[test]
    fn cells_are_coloured_by_outcome_and_text_is_escaped() {
        let page = matrix_page(&rows(), &[]);
        assert_eq!(page.matches("class=\"cell match\"").count(), 1);
        assert_eq!(page.matches("class=\"cell mismatch\"").count(), 1);
        // One unavailable cell, plus valgrind missing from the leaky row
        // and counters and growth from the safe one.
        assert_eq!(page.matches("class=\"cell notrun\"").count(), 4);
        assert!(page.contains("clean &lt;flat&gt;"));
        assert!(page.contains("installed &amp; cannot"));
        assert!(!page.contains("<flat>"));
        assert!(page.contains("1 cells match, 1 differ, 1 not run"));
    }

    #[test]
    fn columns_are_every_detector_in_first_seen_order() {
        assert_eq!(detectors(&rows()), ["counters", "growth", "valgrind"]);
    }

    #[test]
    fn page_is_self_contained() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><text>x</text></svg>";
        let page = matrix_page(&rows(), &[("rc-cycle".into(), svg.into())]);
        for external in ["<link", "<script", "src=", "href=", "@import", "url("] {
            assert!(!page.contains(external), "page references {external}");
        }
        assert!(page.contains(svg), "the plot is inlined");
    }

    #[test]
    fn a_plot_that_is_not_svg_is_shown_as_text() {
        let page = matrix_page(&[], &[("t".into(), "<img src=x onerror=alert(1)>".into())]);
        assert!(page.contains("&lt;img src=x"));
        assert!(!page.contains("<img"));
    }
}
