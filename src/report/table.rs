//! Terminal tables for `run` and `matrix`.

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::record::RunRecord;
use crate::record::summary::observed;
use crate::scenarios::SideExpectation;

pub use crate::record::summary::{ending_text, expected_summary, observed_summary};

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
