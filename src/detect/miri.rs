//! Miri as a detector: the scenario's leak case in tests/miri_leaks.rs, run
//! alone under `cargo +nightly miri test`, where every C call lands in the
//! Rust model of the connector (src/sys/model). Miri reports memory still
//! allocated at exit as an error ("memory leaked"), so a leaky case must
//! fail that way and a safe one must pass.
//!
//! Miri cannot call C: a scenario whose C library has no model (libsqlite3)
//! has no case, and the column says so. Miri does not call memory still
//! reachable from a static a leak (growing-cache), and an unbounded
//! workload is not run. Needs a source checkout (cargo
//! builds the test) and `rustup component add --toolchain nightly miri rust-src`.

use std::path::PathBuf;
use std::process::Command;

use super::{Observation, Outcome, Request, Unavailable};
use crate::scenarios::{LeakKind, SideExpectation, Variant};

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
    let expected = (req.scenario.expected)(req.variant, req.backend);
    if expected.is_unbounded() {
        return Err(Unavailable {
            by_design: true,
            ..unavailable("grows without bound: under Miri it would run until memory runs out")
        });
    }
    let case = case_name(req.scenario.id, req.variant);
    // A case is written with the test's name as a function or as a macro
    // entry (`cases!` in tests/miri_leaks.rs).
    let has_case = CASES.contains(&format!("fn {case}()"))
        || CASES.contains(&format!("{case},"))
        || CASES.contains(&format!(", {case} =>"));
    if !has_case {
        let reason = if req.scenario.library == "none" {
            format!(
                "no Miri case for {} in tests/miri_leaks.rs",
                req.scenario.id
            )
        } else {
            format!(
                "no Miri case for {} (library '{}'): Miri cannot call C, and this library has no model",
                req.scenario.id, req.scenario.library
            )
        };
        return Err(Unavailable {
            by_design: req.scenario.library != "none",
            ..unavailable(reason)
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
    // Miri reports memory nothing points to any more; memory still reachable
    // from a static (growing-cache's global cache) is not a leak to it.
    let lost = |side: &SideExpectation| {
        matches!(
            side,
            SideExpectation::Exact {
                memory: LeakKind::Lost,
                ..
            }
        )
    };
    let expected_leak = lost(&expected.c) || lost(&expected.rust);
    let observed = if leaks > 0 {
        format!("{leaks} leaked allocation(s) reported")
    } else {
        "clean".to_owned()
    };
    Ok(Observation {
        stacks: Vec::new(),
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
