//! The preload shim travels inside the binary: with no variable naming a
//! shim, `leaklab watch` writes the embedded one to the cache directory
//! (`$LEAKLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/leaklab`, else
//! `$HOME/.cache/leaklab`) as `<hash of its bytes>/libleaklab_preload.so`,
//! and loads it from there; where the cache cannot be written, from a
//! private temporary directory, with a warning.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Allocates and frees for a second: long enough for the shim to publish.
const BRIEF: &str = "
import time
end = time.time() + 1
while time.time() < end:
    s = ' ' * 10240
    time.sleep(0.005)
";

/// `leaklab watch --json` of [`BRIEF`], in an environment with none of
/// the variables that choose the cache directory, plus `vars`.
fn watch(vars: &[(&str, &Path)]) -> (Output, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leaklab"));
    // --keep-pymalloc: no line about PYTHONMALLOC; stderr is the cache's.
    cmd.args([
        "watch",
        "--json",
        "--interval",
        "50ms",
        "--keep-pymalloc",
        "--",
    ])
    .args([common::python3(), "-c", BRIEF]);
    for var in ["LEAKLAB_PRELOAD", "LEAKLAB_CACHE_DIR", "XDG_CACHE_HOME"] {
        cmd.env_remove(var);
    }
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("leaklab runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

/// FNV-1a, 128 bits, as build.rs names the directory.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    bytes
        .iter()
        .fold(0x6c62272e07bb014262b821756295c58d_u128, |h, &b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000000001000000000000000000013b)
        })
}

/// The one shim under `root`: `root/<hash of its bytes>/libleaklab_preload.so`,
/// mode 0755, a shared object, and nothing else there.
fn the_shim_in(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let files: Vec<PathBuf> = std::fs::read_dir(&dirs[0])
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let shim = dirs[0].join("libleaklab_preload.so");
    assert_eq!(
        files,
        std::slice::from_ref(&shim),
        "the shim and no temporary file"
    );
    let bytes = std::fs::read(&shim).unwrap();
    assert!(bytes.starts_with(b"\x7fELF"));
    let name = dirs[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(name, format!("{:032x}", fnv1a_128(&bytes)));
    let mode = std::fs::metadata(&shim).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "{mode:o}");
    shim
}

/// The watch saw the heap through `shim`.
fn seen_through(w: &Value, shim: &Path) {
    assert_eq!(w["heap"]["seen"], true, "{w:#}");
    let note = w["heap"]["note"].as_str().unwrap();
    let shim = std::fs::canonicalize(shim).unwrap();
    assert!(note.ends_with(&shim.display().to_string()), "{note}");
}

#[test]
fn the_first_use_writes_it_to_leaklab_cache_dir_and_later_ones_reuse_it() {
    let cache = tempfile::tempdir().unwrap();
    let (out, w) = watch(&[("LEAKLAB_CACHE_DIR", cache.path())]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shim = the_shim_in(cache.path());
    seen_through(&w, &shim);
    let written = std::fs::metadata(&shim).unwrap().modified().unwrap();
    let (_, w) = watch(&[("LEAKLAB_CACHE_DIR", cache.path())]);
    seen_through(&w, &shim);
    assert_eq!(
        std::fs::metadata(&shim).unwrap().modified().unwrap(),
        written,
        "reused, not written again"
    );
}

#[test]
fn without_it_the_cache_is_under_xdg_cache_home_else_home() {
    let root = tempfile::tempdir().unwrap();
    let (xdg, home) = (root.path().join("xdg"), root.path().join("home"));
    let (_, w) = watch(&[("XDG_CACHE_HOME", &xdg), ("HOME", &home)]);
    seen_through(&w, &the_shim_in(&xdg.join("leaklab")));
    assert!(
        !home.exists(),
        "HOME is not used while XDG_CACHE_HOME is set"
    );
    let (_, w) = watch(&[("HOME", &home)]);
    seen_through(&w, &the_shim_in(&home.join(".cache/leaklab")));
}

#[test]
fn an_unwritable_cache_falls_back_to_a_private_temp_dir_with_a_warning() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // A directory under a regular file cannot be made, even by root.
    let (out, w) = watch(&[("LEAKLAB_CACHE_DIR", &file.join("cache")), ("TMPDIR", &tmp)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("leaklab: warning: cannot create "), "{err}");
    let private: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(private.len(), 1, "{private:?}");
    let name = private[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("leaklab-"), "{name}");
    let mode = std::fs::metadata(&private[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "this user's alone: {mode:o}");
    let shim = the_shim_in(&private[0]);
    assert!(err.contains(&shim.display().to_string()), "{err}");
    seen_through(&w, &shim);
}

#[test]
fn leaklab_preload_still_names_another_shim() {
    let cache = tempfile::tempdir().unwrap();
    watch(&[("LEAKLAB_CACHE_DIR", cache.path())]);
    let shim = the_shim_in(cache.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("copy.so");
    std::fs::copy(&shim, &copy).unwrap();
    let cache2 = tempfile::tempdir().unwrap();
    let (_, w) = watch(&[
        ("LEAKLAB_PRELOAD", &copy),
        ("LEAKLAB_CACHE_DIR", cache2.path()),
    ]);
    seen_through(&w, &copy);
    assert_eq!(
        std::fs::read_dir(cache2.path()).unwrap().count(),
        0,
        "nothing written to the cache"
    );
}
