//! A record in words: what one side leaked per iteration, how a run
//! ended, an expectation; the text every table and report cell shows, and
//! the detectors' one-line summaries.

use cargo_leaklab::units::bytes;

use super::{Ending, RunRecord};
use crate::heap::Live;

/// What one side leaked per iteration, as the table shows it.
pub fn observed(record: &RunRecord, leaked: Live) -> String {
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
