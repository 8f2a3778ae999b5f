//! Helpers shared by the integration tests that drive the `leaklab` binary.

#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the built `leaklab` binary with `args`.
pub fn leaklab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
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

/// Builds the preload shim for the profile the leaklab binary was built
/// with (`cargo test --test watch` builds the binary only) and returns it.
pub fn preload_shim() -> &'static std::path::Path {
    static SHIM: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    SHIM.get_or_init(|| {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_leaklab"));
        let dir = exe.parent().unwrap();
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => "dev",
        };
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "leaklab-preload",
                "--profile",
                profile,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the preload shim builds");
        let path = dir.join("libleaklab_preload.so");
        assert!(path.is_file(), "{} after the build", path.display());
        path
    })
}
