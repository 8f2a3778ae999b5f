//! `leaklab matrix`: every scenario, both variants, expected versus observed.

use indicatif::{ProgressBar, ProgressStyle};

use super::run::{limits, run_one};
use super::{EXIT_MISMATCH, EXIT_OK, Failure, args::MatrixArgs};
use crate::report::table;
use crate::scenarios::{self, Variant};

pub fn run(args: MatrixArgs) -> Result<i32, Failure> {
    let limits = limits(&args.limits);
    let cells: Vec<_> = scenarios::all()
        .iter()
        .flat_map(|s| [Variant::Leaky, Variant::Safe].map(|v| (*s, v)))
        .collect();
    let bar = ProgressBar::new(cells.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let mut records = Vec::new();
    for (s, variant) in cells {
        bar.set_message(format!("{} {}", s.id, variant.as_str()));
        let backend = s.default_backend(variant);
        records.push(run_one(s, variant, backend, args.iterations, limits)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&records).expect("records serialize")
        );
    } else {
        println!("{}", table::records(&records));
    }
    let mismatches = records.iter().filter(|r| !r.matches_expected).count();
    if mismatches > 0 {
        eprintln!(
            "leaklab: {mismatches} of {} cells differ from what their scenario declares",
            records.len()
        );
        return Ok(EXIT_MISMATCH);
    }
    Ok(EXIT_OK)
}
