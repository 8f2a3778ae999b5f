//! Helpers shared by the integration tests that drive the `leaklab` and
//! `cargo-leaklab` binaries.

#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the built `leaklab` binary with `args`.
pub fn leaklab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .output()
        .expect("the leaklab binary runs")
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
