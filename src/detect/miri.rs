//! Miri as a detector: the scenario's leak case in tests/miri_leaks.rs, run
//! alone under `cargo +nightly miri test`, where every C call lands in the
//! Rust model of the connector (src/sys/model). Miri reports memory still
//! allocated at exit as an error ("memory leaked"), so a leaky case must
//! fail that way and a safe one must pass.
//!
//! Miri cannot call C: a scenario whose C library has no model (libsqlite3)
//! has no case, and the column says so. Needs a source checkout (cargo
//! builds the test) and `rustup component add --toolchain nightly miri rust-src`.

use std::path::PathBuf;
use std::process::Command;

use super::{Observation, Outcome, Request, Unavailable};
use crate::scenarios::Variant;

pub const NAME: &str = "miri";

/// The leak cases, compiled in so the lab knows which scenarios have one.
const CASES: &str = include_str!("../../tests/miri_leaks.rs");

fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unavailable(reason: impl Into<String>) -> Unavailable {
    Unavailable {
        detector: NAME,
        reason: reason.into(),
        by_design: false,
    }
}

/// Whether Miri can run here at all.
pub fn available() -> Result<(), Unavailable> {
    if !checkout().join("tests/miri_leaks.rs").is_file() {
        return Err(unavailable(format!(
            "needs the source checkout at {}",
            checkout().display()
        )));
    }
    let ok = Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(())
    } else {
        Err(unavailable(
            "cargo +nightly miri is not installed: rustup component add --toolchain nightly miri rust-src",
        ))
    }
}

/// The test name of a scenario variant's case: `unfreed_result_leaky`.
fn case_name(id: &str, variant: Variant) -> String {
    format!("{}_{}", id.replace('-', "_"), variant.as_str())
}

pub fn observe(req: &Request<'_>) -> Outcome {
    let case = case_name(req.scenario.id, req.variant);
    if !CASES.contains(&format!("fn {case}()")) {
        return Err(Unavailable {
            by_design: true,
            ..unavailable(format!(
                "no Miri case for {} (library '{}'): Miri cannot call C, and only modelled workloads have one",
                req.scenario.id, req.scenario.library
            ))
        });
    }
    available()?;
    let out = Command::new("cargo")
        .current_dir(checkout())
        .args([
            "+nightly",
            "miri",
            "test",
            "-q",
            "--test",
            "miri_leaks",
            "--",
        ])
        .args(["--include-ignored", "--exact", &case])
        .output()
        .map_err(|e| unavailable(format!("cannot run cargo miri: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let leaks = stderr.matches("memory leaked").count();
    let other_error = !out.status.success() && leaks == 0;
    if other_error {
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(unavailable(format!(
            "miri failed without a leak report: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let expected_leak = (req.scenario.expected)(req.variant, req.backend).is_leak();
    let observed = if leaks > 0 {
        format!("{leaks} leaked allocation(s) reported")
    } else {
        "clean".to_owned()
    };
    Ok(Observation {
        detector: NAME,
        observed,
        expected: if expected_leak {
            "leak reported"
        } else {
            "clean"
        }
        .to_owned(),
        matches: (leaks > 0) == expected_leak,
        detail: serde_json::json!({ "case": case, "leaks_reported": leaks }),
    })
}
