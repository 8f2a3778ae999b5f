//! Helpers shared by the integration tests that drive the `leaklab` binary.

#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the built `leaklab` binary with `args`.
pub fn leaklab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
        .args(args)
        .output()
        .expect("the leaklab binary runs")
}

/// Runs `leaklab` and parses its standard output as JSON.
pub fn leaklab_json(args: &[&str]) -> Value {
    let out = leaklab(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "leaklab {args:?} printed no JSON ({e}); exit {:?}; stderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `record[path...]` as i64.
pub fn int(record: &Value, path: &[&str]) -> i64 {
    path.iter()
        .fold(record, |v, key| &v[*key])
        .as_i64()
        .unwrap_or_else(|| panic!("{path:?} is not an integer in {record}"))
}
