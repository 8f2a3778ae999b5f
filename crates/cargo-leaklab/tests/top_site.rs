//! `cargo leaklab test --detector counters` names a leaking test's side
//! and top frame from the preload shim's own allocation sites (one native
//! re-run of that test, every allocation's stack walked), not from
//! memcheck: on a crate written here, a `malloc` kept by a C helper and a
//! `Box` and a `Vec` kept by Rust each get their side and their function
//! with file:line, while a `valgrind` that logs its calls stands first on
//! PATH and says memcheck never ran for them. A test whose scan the sites
//! cannot trust (a thread still running at exit) goes to memcheck, and
//! its row says why. Needs cargo-nextest and a C compiler (`cc`, `ar`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const HELPER: &str = r#"#include <stdlib.h>

void *helper_keep(size_t n) {
    char *p = malloc(n); /* the C site */
    if (p) p[0] = 1;
    return p;
}
"#;

/// Builds csrc/helper.c into a static library with the system's `cc`.
const BUILD: &str = r#"
use std::process::Command;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let obj = format!("{out}/helper.o");
    let cc = Command::new("cc")
        .args(["-g", "-O0", "-fPIC", "-c", &format!("{dir}/csrc/helper.c"), "-o", &obj])
        .status()
        .unwrap();
    assert!(cc.success(), "cc failed");
    let ar = Command::new("ar")
        .args(["crs", &format!("{out}/libhelper.a"), &obj])
        .status()
        .unwrap();
    assert!(ar.success(), "ar failed");
    println!("cargo::rustc-link-search=native={out}");
    println!("cargo::rustc-link-lib=static=helper");
    println!("cargo::rerun-if-changed=csrc/helper.c");
}
"#;

const LIB: &str = r#"
unsafe extern "C" {
    fn helper_keep(n: usize) -> *mut u8;
}

/// Keeps 40 bytes of C's, never freed.
pub fn keep_c() -> *mut u8 {
    // SAFETY: a plain allocation in C, handed back.
    unsafe { helper_keep(40) }
}

/// Keeps a boxed array, never dropped.
pub fn keep_box() -> &'static mut [u64; 3] {
    Box::leak(Box::new([7u64; 3])) // the Box site
}

/// Keeps a Vec's buffer, never dropped.
pub fn keep_vec() {
    std::mem::forget(vec![1u8; 56]); // the Vec site
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaks_c() {
        std::hint::black_box(super::keep_c());
    }

    #[test]
    fn leaks_box() {
        std::hint::black_box(super::keep_box());
    }

    #[test]
    fn leaks_vec() {
        super::keep_vec();
    }

    #[test]
    fn leaks_with_a_thread_running() {
        std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(3600)));
        super::keep_vec();
    }

    #[test]
    fn clean() {
        assert_eq!(vec![1u8; 10].len(), 10);
    }
}
"#;

/// A `valgrind` that answers `--version` and fails anything else, each
/// call logged (its arguments, one line) to the file `$VALGRIND_LOG`.
const FAKE_VALGRIND: &str = "#!/bin/sh\n\
     echo \"$*\" >> \"$VALGRIND_LOG\"\n\
     if [ \"$1\" = --version ]; then echo valgrind-3.0.0-logged; exit 0; fi\n\
     exit 1\n";

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The line of `file`'s text holding `marker`, 1-based.
fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker}"))
        + 1
}

fn leaklab_test(krate: &Path, bin: &Path, log: &Path, args: &[&str]) -> Output {
    let path = std::env::join_paths(std::iter::once(bin.to_owned()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    common::command(env!("CARGO_BIN_EXE_cargo-leaklab"))
        .args(["leaklab", "test"])
        .args(args)
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", krate.join("target"))
        .env("PATH", path)
        .env("VALGRIND_LOG", log)
        .output()
        .expect("cargo-leaklab runs")
}

fn record<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["test"] == format!("tests::{name}"))
        .unwrap_or_else(|| panic!("no record of {name} in {report}"))
}

fn lost(record: &Value, side: &str) -> (i64, i64) {
    let a = &record[side]["lost"];
    (a["blocks"].as_i64().unwrap(), a["bytes"].as_i64().unwrap())
}

/// Fails the test, saying how to install it, where cargo-nextest is missing.
fn require_nextest() {
    let ok = Command::new(env!("CARGO"))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "cargo-nextest is not installed: cargo install cargo-nextest --locked"
    );
}

/// [`FAKE_VALGRIND`] as `valgrind` in `dir/bin`, and the log it writes.
fn fake_valgrind(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let bin = dir.join("bin");
    write(&bin, "valgrind", FAKE_VALGRIND);
    std::fs::set_permissions(
        bin.join("valgrind"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    (bin, dir.join("valgrind.log"))
}

#[test]
fn the_counters_name_each_leak_s_site_and_side_without_memcheck() {
    require_nextest();
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("site-demo");
    write(
        &krate,
        "Cargo.toml",
        "[package]\nname = \"site-demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    );
    write(&krate, "build.rs", BUILD);
    write(&krate, "csrc/helper.c", HELPER);
    write(&krate, "src/lib.rs", LIB);
    let (bin, log) = fake_valgrind(dir.path());

    let out = leaklab_test(&krate, &bin, &log, &["--json", "--no-doctests"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let at = |file: &str, text: &str, marker: &str| format!("{file}:{})", line_of(text, marker));

    let c = record(&report, "leaks_c");
    assert_eq!(lost(c, "c"), (1, 40), "{c}");
    assert_eq!(lost(c, "rust"), (0, 0), "{c}");
    let top = c["top_frame"].as_str().unwrap_or_default();
    assert!(top.starts_with("helper_keep ("), "{c}");
    assert!(
        top.ends_with(&at("csrc/helper.c", HELPER, "the C site")),
        "{c}"
    );

    for (name, bytes, function, marker) in [
        ("leaks_box", 24, "site_demo::keep_box (", "the Box site"),
        ("leaks_vec", 56, "site_demo::keep_vec (", "the Vec site"),
    ] {
        let r = record(&report, name);
        assert_eq!(lost(r, "rust"), (1, bytes), "{r}");
        assert_eq!(lost(r, "c"), (0, 0), "{r}");
        let top = r["top_frame"].as_str().unwrap_or_default();
        assert!(top.starts_with(function), "{r}");
        assert!(top.ends_with(&at("src/lib.rs", LIB, marker)), "{r}");
    }
    for name in ["leaks_c", "leaks_box", "leaks_vec"] {
        let r = record(&report, name);
        assert_eq!(r["stacks_from"], "sites", "{r}");
        assert_eq!(r["detector"], "counters (sides: allocation sites)", "{r}");
        assert!(r["note"].is_null(), "{r}");
    }
    assert!(record(&report, "clean")["stacks_from"].is_null());

    // memcheck ran for the test with a thread running at exit only: the
    // scan does not read that thread's stack, so the sites cannot decide.
    let thread = record(&report, "leaks_with_a_thread_running");
    let note = thread["note"].as_str().unwrap_or_default();
    assert!(note.contains("2 threads at exit"), "{thread}");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let runs: Vec<&str> = calls.lines().filter(|l| *l != "--version").collect();
    assert!(
        !runs.is_empty()
            && runs
                .iter()
                .all(|l| l.contains("leaks_with_a_thread_running")),
        "memcheck's runs: {calls}"
    );

    // The table's last column is the same top site.
    let table = leaklab_test(&krate, &bin, &log, &["--no-doctests"]);
    let text = String::from_utf8_lossy(&table.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("tests::leaks_c "))
        .unwrap_or_else(|| panic!("no row: {text}"));
    assert!(
        row.contains(&format!(
            "helper_keep ({}",
            at("csrc/helper.c", HELPER, "the C site")
        )),
        "{row}\n{text}\n{}",
        String::from_utf8_lossy(&table.stderr)
    );
}

/// A crate whose tests link leaklab (a path dev-dependency): its test
/// binaries define `malloc` themselves, so the preloaded shim's is never
/// called, and the executable's own copy of the interposer publishes.
const LINKS_LEAKLAB_LIB: &str = r#"
/// Keeps a Vec's buffer, never dropped.
pub fn keep_vec() {
    std::mem::forget(vec![1u8; 56]); // the Vec site
}

#[cfg(test)]
mod tests {
    // Linked, so the interposer is the executable's.
    extern crate leaklab;

    #[test]
    fn leaks_vec() {
        super::keep_vec();
    }

    #[test]
    fn clean() {
        assert_eq!(vec![1u8; 10].len(), 10);
    }

    // More processes of the same binary: the runtime's own floor of
    // possibly lost blocks is told apart by their majority.
    #[test]
    fn clean_2() {
        assert_eq!(vec![2u8; 20].len(), 20);
    }

    #[test]
    fn clean_3() {
        assert_eq!(vec![3u8; 30].len(), 30);
    }
}
"#;

/// A test binary of the same crate whose global allocator is leaklab's
/// `Counting`: Rust's blocks go to the inner allocator past the C
/// counters, and the publishing interposer has its side table hold them
/// too, so the scan and the sites see them. The second test keeps a C
/// block whose only pointer lies in a Rust block (a static `Vec`'s
/// buffer): reachable, not lost, which only a scan that reads Rust's
/// blocks can tell.
const COUNTED_TEST: &str = r#"
#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
}

static KEPT: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

#[test]
fn counted_leaks_vec() {
    links_leaklab::keep_vec();
}

#[test]
fn counted_keeps_a_c_block_in_a_rust_vec() {
    // SAFETY: a plain allocation, kept reachable through KEPT.
    let p = unsafe { malloc(40) };
    KEPT.lock().unwrap().push(p as usize);
}

// A recording of allocation stacks hands out fresh blocks (never reused
// addresses): freed, they leave the side table too.
#[test]
fn counted_records_stacks_and_keeps_nothing() {
    let sites = leaklab::check::record(|| {
        let v = std::hint::black_box(vec![7u8; 100]);
        drop(v);
        Ok::<(), ()>(())
    })
    .unwrap();
    assert!(sites.is_empty(), "{sites:?}");
}

// More processes of the binary, for the runtime's floor (as above).
#[test]
fn counted_clean() {
    assert_eq!(vec![4u8; 40].len(), 40);
}

#[test]
fn counted_clean_2() {
    assert_eq!(vec![5u8; 50].len(), 50);
}
"#;

#[test]
fn a_crate_whose_tests_link_leaklab_is_decided_by_the_counters_without_memcheck() {
    require_nextest();
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("links-leaklab");
    let leaklab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../leaklab");
    write(
        &krate,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"links-leaklab\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [workspace]\n\n[dev-dependencies]\nleaklab = {{ path = {:?} }}\n",
            leaklab.display().to_string()
        ),
    );
    // The workspace's versions of leaklab's dependencies, already fetched.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
        krate.join("Cargo.lock"),
    )
    .unwrap();
    write(&krate, "src/lib.rs", LINKS_LEAKLAB_LIB);
    write(&krate, "tests/counted.rs", COUNTED_TEST);
    let (bin, log) = fake_valgrind(dir.path());

    let out = leaklab_test(&krate, &bin, &log, &["--json", "--no-doctests"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let r = record(&report, "leaks_vec");
    assert_eq!(lost(r, "rust"), (1, 56), "{report:#}");
    assert_eq!(lost(r, "c"), (0, 0), "{r}");
    assert_eq!(r["detector"], "counters (sides: allocation sites)", "{r}");
    assert_eq!(r["stacks_from"], "sites", "{r}");
    let top = r["top_frame"].as_str().unwrap_or_default();
    assert!(top.starts_with("links_leaklab::keep_vec ("), "{r}");
    assert!(
        top.ends_with(&format!(
            "src/lib.rs:{})",
            line_of(LINKS_LEAKLAB_LIB, "the Vec site")
        )),
        "{r}"
    );
    assert!(record(&report, "clean")["stacks_from"].is_null());

    // The binary whose allocator is `Counting`: decided by the counters
    // too, its Rust block named at its site, and the C block that only a
    // Rust block points to reachable.
    let named = |name: &str| {
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["test"] == name)
            .unwrap_or_else(|| panic!("no record of {name} in {report}"))
            .clone()
    };
    let counted = &named("counted_leaks_vec");
    assert_eq!(lost(counted, "rust"), (1, 56), "{counted}");
    assert_eq!(lost(counted, "c"), (0, 0), "{counted}");
    assert_eq!(counted["stacks_from"], "sites", "{counted}");
    let top = counted["top_frame"].as_str().unwrap_or_default();
    assert!(top.starts_with("links_leaklab::keep_vec ("), "{counted}");
    let kept = &named("counted_keeps_a_c_block_in_a_rust_vec");
    assert_eq!(lost(kept, "c"), (0, 0), "{kept}");
    assert_eq!(lost(kept, "rust"), (0, 0), "{kept}");
    assert_eq!(kept["ending"], "passed", "{kept}");
    let recorded = &named("counted_records_stacks_and_keeps_nothing");
    assert_eq!(recorded["ending"], "passed", "{recorded}");
    assert_eq!(lost(recorded, "c"), (0, 0), "{recorded}");
    assert_eq!(lost(recorded, "rust"), (0, 0), "{recorded}");
    // memcheck was never asked.
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let runs: Vec<&str> = calls.lines().filter(|l| *l != "--version").collect();
    assert!(runs.is_empty(), "memcheck's runs: {calls}");
}
