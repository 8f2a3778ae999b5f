//! Terminal tables for `run` and `matrix`.

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::record::{Ending, RunRecord};
use crate::heap::Live;
use crate::scenarios::SideExpectation;

/// An empty terminal table in the lab's one style, with `header`.
pub fn styled<T: ToString>(header: impl IntoIterator<Item = T>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(
            header
                .into_iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>(),
        );
    table
}

pub use cargo_leaklab::units::bytes;

/// What one side leaked per iteration, as the table shows it.
fn observed(record: &RunRecord, leaked: Live) -> String {
    match &record.ending {
        Ending::Completed => {
            if leaked == Live::default() {
                "clean".into()
            } else {
                let n = record.completed.max(1) as f64;
                format!(
                    "{} blk / {} B",
                    trim(leaked.blocks as f64 / n),
                    trim(leaked.bytes as f64 / n)
                )
            }
        }
        other => ending_text(other),
    }
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// One line for a run that did not complete.
pub fn ending_text(ending: &Ending) -> String {
    match ending {
        Ending::Completed => "completed".into(),
        Ending::Error { message } => format!("error: {message}"),
        Ending::HitCap { cap_bytes, .. } => format!("hit cap ({})", bytes(*cap_bytes)),
        Ending::TimedOut { limit_seconds } => format!("timed out ({limit_seconds} s)"),
        Ending::Crashed { status, .. } => format!("crashed ({status})"),
        Ending::NoRecord { status, .. } => format!("wrote no record ({status})"),
        Ending::SanitizerFailed { message } => format!("the sanitizer failed: {message}"),
    }
}

fn expected_text(side: &SideExpectation) -> String {
    side.describe()
}

/// The per-variant table of `run` and the per-cell table of `matrix`.
pub fn records(records: &[RunRecord]) -> String {
    let mut table = styled([
        "scenario",
        "variant",
        "backend",
        "iters",
        "C expected/iter",
        "C observed/iter",
        "Rust expected/iter",
        "Rust observed/iter",
        "verdict",
        "match",
    ]);
    for r in records {
        let ok = if r.matches_expected {
            Cell::new("yes").fg(Color::Green)
        } else {
            Cell::new("NO").fg(Color::Red)
        };
        table.add_row(vec![
            Cell::new(&r.scenario),
            Cell::new(r.variant.as_str()),
            Cell::new(if r.library == "none" {
                "-"
            } else {
                r.backend.as_str()
            }),
            Cell::new(r.completed),
            Cell::new(expected_text(&r.expected.c)),
            Cell::new(observed(r, r.leaked.c)),
            Cell::new(expected_text(&r.expected.rust)),
            Cell::new(observed(r, r.leaked.rust)),
            Cell::new(r.verdict),
            ok,
        ]);
    }
    table.to_string()
}

/// One cell's text for a record: both sides, per iteration.
pub fn observed_summary(record: &RunRecord) -> String {
    format!(
        "C {}; Rust {}",
        observed(record, record.leaked.c),
        observed(record, record.leaked.rust)
    )
}

/// One cell's text for an expectation.
pub fn expected_summary(expected: &crate::scenarios::Expected) -> String {
    format!(
        "C {}; Rust {}",
        expected.c.describe(),
        expected.rust.describe()
    )
}
