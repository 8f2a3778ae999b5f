//! Helpers shared by the integration tests that drive the `leaklab` and
//! `cargo-leaklab` binaries.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where the binaries under test write their embedded preload shim
/// (`LEAKLAB_CACHE_DIR`): under cargo's target directory, so the tests
/// never write into the user's own cache.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leaklab-cache")
}

/// `program` (a `CARGO_BIN_EXE_*` path), its shim written to [`cache_dir`].
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("LEAKLAB_CACHE_DIR", cache_dir())
        .env_remove("LEAKLAB_PRELOAD");
    cmd
}

/// Runs the built `leaklab` binary with `args`.
pub fn leaklab(args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .output()
        .expect("the leaklab binary runs")
}

/// The Python 3 interpreter itself (its `sys.executable`), not what
/// `python3` on PATH may be: pyenv's shim is a bash script that runs a
/// chain of processes before it execs the interpreter, each with the
/// preload shim in it, and on a loaded machine that start-up lands in the
/// fitted span of a two-second watch.
pub fn python3() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        let path = String::from_utf8(out.stdout).expect("a UTF-8 path");
        let path = path.trim();
        assert!(!path.is_empty(), "python3 names its executable");
        path.to_owned()
    })
}
