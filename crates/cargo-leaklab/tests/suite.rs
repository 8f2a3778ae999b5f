//! `cargo leaklab test` on a crate written here for the purpose: one test
//! that leaks a CString into C's hands (`CString::into_raw`, never taken
//! back: Rust's allocation), one that leaks a `malloc` (C's), one clean,
//! one failing. Each detector must blame the right test, side and bytes,
//! and the exit codes must tell a leak, a failing test and a build failure
//! apart. Needs cargo-nextest (on the lab's machines; else one line says
//! how to install it and the test fails).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The string the leaking test hands over: 12 bytes and its NUL.
const NAME: &str = "twelve bytes";

const LIB: &str = r#"
use std::ffi::CString;
use std::os::raw::c_char;

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
}

/// Hands a C string over and never takes it back (CString::from_raw).
pub fn leak_name(name: &str) -> *mut c_char {
    CString::new(name).unwrap().into_raw()
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaks_a_cstring() {
        let _ = super::leak_name("NAME");
    }

    #[test]
    fn leaks_a_malloc() {
        // SAFETY: a plain allocation, never freed: the leak under test.
        let p = unsafe { super::malloc(64) };
        std::hint::black_box(p);
    }

    #[test]
    fn clean() {
        let v = vec![1u8; 100];
        assert_eq!(v.len(), 100);
    }

    #[test]
    #[ignore]
    fn ignored() {}
}
"#;

const FAILING: &str = r#"
    #[test]
    fn fails() {
        panic!("on purpose");
    }
"#;

/// A crate in a fresh directory, with its own target directory.
struct Crate {
    dir: tempfile::TempDir,
}

impl Crate {
    fn new(extra_tests: &str, lib_extra: &str) -> Crate {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"leaky-demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
        )
        .unwrap();
        let lib = LIB.replace("NAME", NAME).replace(
            "    #[test]\n    #[ignore]",
            &format!("{extra_tests}\n    #[test]\n    #[ignore]"),
        );
        std::fs::write(dir.path().join("src/lib.rs"), format!("{lib}{lib_extra}")).unwrap();
        Crate { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `cargo leaklab test ARGS` in the crate, as cargo runs the subcommand.
    fn leaklab_test(&self, args: &[&str]) -> Output {
        common::command(env!("CARGO_BIN_EXE_cargo-leaklab"))
            .args(["leaklab", "test"])
            .args(args)
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", self.path().join("target"))
            .output()
            .expect("cargo-leaklab runs")
    }
}

fn nextest() {
    let ok = Command::new(env!("CARGO"))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "cargo-nextest is not installed: cargo install cargo-nextest --locked"
    );
}

/// The run ended with `code`; its stderr says why if not.
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); exit {:?}; stderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn test<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["test"] == format!("tests::{name}"))
        .unwrap_or_else(|| panic!("no record of {name} in {report}"))
}

fn test_named<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["test"] == name)
        .unwrap_or_else(|| panic!("no record of {name} in {report}"))
}

fn lost(record: &Value, side: &str) -> (i64, i64) {
    let a = &record[side]["lost"];
    (a["blocks"].as_i64().unwrap(), a["bytes"].as_i64().unwrap())
}

/// Both detectors blame the same tests with the same figures: the CString
/// on Rust's side (its bytes and NUL), the malloc on C's.
fn check_blame(report: &Value) {
    check_blame_sizes(report);
    assert!(
        report["ignored"].to_string().contains("tests::ignored"),
        "the ignored test is named: {report}"
    );
}

/// The leaking tests' figures, and nothing on the clean one.
fn check_blame_sizes(report: &Value) {
    let bytes = NAME.len() as i64 + 1;
    let cstring = test(report, "leaks_a_cstring");
    assert_eq!(lost(cstring, "rust"), (1, bytes), "{cstring}");
    assert_eq!(lost(cstring, "c"), (0, 0), "{cstring}");
    assert!(
        cstring["top_frame"].as_str().unwrap().contains("leak_name"),
        "{cstring}"
    );
    let malloc = test(report, "leaks_a_malloc");
    assert_eq!(lost(malloc, "c"), (1, 64), "{malloc}");
    assert_eq!(lost(malloc, "rust"), (0, 0), "{malloc}");
    let clean = test(report, "clean");
    assert_eq!(
        (lost(clean, "c"), lost(clean, "rust")),
        ((0, 0), (0, 0)),
        "{clean}"
    );
}

#[test]
fn the_counters_blame_each_leaking_test_and_its_side() {
    nextest();
    let krate = Crate::new("", "");
    let out = krate.leaklab_test(&["--json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    check_blame(&report);
    // The counters' own scan found the same lost blocks memcheck confirmed.
    let heap = &test(&report, "leaks_a_malloc")["heap_at_exit"]["lost"];
    assert_eq!(
        (heap["blocks"].as_i64(), heap["bytes"].as_i64()),
        (Some(1), Some(64))
    );
    // A clean test is not run again under memcheck.
    assert_eq!(test(&report, "clean")["detector"], "counters");

    let table = krate.leaklab_test(&[]);
    let text = String::from_utf8_lossy(&table.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("tests::leaks_a_cstring"))
        .unwrap_or_else(|| panic!("no row: {text}"));
    assert!(
        row.contains(&format!("1 blk / {} B", NAME.len() + 1)),
        "{row}"
    );
    assert!(text.contains("2 lost memory"), "{text}");
}

#[test]
fn memcheck_blames_the_same_and_its_suppressions_round_trip() {
    nextest();
    let krate = Crate::new("", "");
    let out = krate.leaklab_test(&[
        "--detector",
        "valgrind",
        "--json",
        "--gen-suppressions",
        "found.supp",
    ]);
    assert_exit(&out, 1);
    check_blame(&json(&out));
    let supp = krate.path().join("found.supp");
    let text = std::fs::read_to_string(&supp).expect("suppressions written");
    assert_eq!(text.matches("Memcheck:Leak").count(), 2, "{text}");
    // Read back, they silence exactly what they were made from.
    let again = krate.leaklab_test(&[
        "--detector",
        "valgrind",
        "--json",
        "--suppressions",
        "found.supp",
    ]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn leak_sanitizer_blames_the_same() {
    nextest();
    let krate = Crate::new("", "");
    // Built with -Zsanitizer=leak on the nightly toolchain (the lab's CI
    // installs it; without it the command says so and this fails), under
    // the crate's target directory as cargo reports it: run here from a
    // subdirectory, with CARGO_TARGET_DIR elsewhere, nothing is built in
    // ./target (nor in the checkout this binary was built from).
    let target_dir = krate.path().join("elsewhere");
    let out = common::command(env!("CARGO_BIN_EXE_cargo-leaklab"))
        .args(["leaklab", "test", "--detector", "lsan", "--json"])
        .current_dir(krate.path().join("src"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .expect("cargo-leaklab runs");
    assert_exit(&out, 1);
    check_blame(&json(&out));
    assert!(target_dir.join("leaklab-lsan").is_dir());
    for stray in ["src/target", "target"] {
        assert!(!krate.path().join(stray).exists(), "{stray} was made");
    }
}

#[test]
fn a_failing_test_and_a_broken_build_have_their_own_exit_codes() {
    nextest();
    let failing = Crate::new(FAILING, "");
    let out = failing.leaklab_test(&["--json"]);
    assert_exit(&out, 4);
    let report = json(&out);
    assert_eq!(test(&report, "fails")["ending"]["failed"], 101, "{report}");
    // The leaks are still reported.
    assert_eq!(lost(test(&report, "leaks_a_malloc"), "c"), (1, 64));

    let broken = Crate::new("", "\nfn broken() -> u8 { \"not a number\" }\n");
    let out = broken.leaklab_test(&[]);
    assert_exit(&out, 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not build"));
}

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    let krate = Crate::new("", "");
    for args in [
        &["--fail-on", "sometimes"][..],
        &["--detector", "helgrind"][..],
        &["--fail-on", "possible"][..],
    ] {
        let out = krate.leaklab_test(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}

/// Two memory errors and no leak of their own: a read of a freed `Box`
/// through a raw pointer (cargo-valgrind's issue-74 shape), and a block
/// given to `free` twice.
const MEMORY_ERRORS: &str = r#"
    #[test]
    fn reads_a_freed_box() {
        let b = Box::new(42u64);
        let p: *const u64 = &*b;
        drop(b);
        // SAFETY: none: a read of freed memory, the error under test.
        let v = unsafe { std::ptr::read_volatile(p) };
        std::hint::black_box(v);
    }

    unsafe extern "C" {
        fn free(p: *mut u8);
    }

    #[test]
    fn frees_twice() {
        // SAFETY: none: the second free is the error under test.
        unsafe {
            let p = super::malloc(32);
            free(p);
            free(std::hint::black_box(p));
        }
    }
"#;

fn memory_errors(record: &Value) -> &Vec<Value> {
    record["memory_errors"].as_array().expect("memory_errors")
}

#[test]
fn memcheck_s_memory_errors_fail_the_run_with_their_frames() {
    nextest();
    let krate = Crate::new(MEMORY_ERRORS, "");
    let out = krate.leaklab_test(&["--detector", "valgrind", "--json"]);
    assert_exit(&out, 6);
    let report = json(&out);
    let read = test(&report, "reads_a_freed_box");
    let errors = memory_errors(read);
    assert_eq!(errors.len(), 1, "{read}");
    assert_eq!(errors[0]["kind"], "InvalidRead", "{read}");
    for frame in ["at", "freed_at", "allocated_at"] {
        assert!(
            errors[0][frame]
                .as_str()
                .is_some_and(|f| f.contains("reads_a_freed_box") && f.contains("src/lib.rs")),
            "{frame}: {read}"
        );
    }
    let twice = test(&report, "frees_twice");
    let errors = memory_errors(twice);
    assert_eq!(errors[0]["kind"], "InvalidFree", "{twice}");
    assert!(
        errors[0]["allocated_at"]
            .as_str()
            .is_some_and(|f| f.contains("frees_twice"))
    );
    assert!(memory_errors(test(&report, "clean")).is_empty());
    // The leaks are still there.
    assert_eq!(lost(test(&report, "leaks_a_malloc"), "c"), (1, 64));

    // The table's row and the summary say it.
    let table = krate.leaklab_test(&["--detector", "valgrind"]);
    assert_exit(&table, 6);
    let text = String::from_utf8_lossy(&table.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("tests::reads_a_freed_box"))
        .unwrap_or_else(|| panic!("no row: {text}"));
    assert!(row.contains("memory error: InvalidRead"), "{row}");
    assert!(row.contains("allocated at"), "{row}");
    assert!(text.contains("2 memory errors"), "{text}");
}

#[test]
fn glibc_s_abort_on_a_double_free_is_a_memory_error_under_the_counters() {
    nextest();
    let krate = Crate::new(MEMORY_ERRORS, "");
    let out = krate.leaklab_test(&["--json"]);
    assert_exit(&out, 6);
    let report = json(&out);
    let twice = test(&report, "frees_twice");
    assert_eq!(twice["ending"]["signal"], 6, "{twice}");
    // Run again under memcheck, which names the frames.
    let errors = memory_errors(twice);
    assert_eq!(errors.len(), 1, "{twice}");
    assert_eq!(errors[0]["kind"], "InvalidFree", "{twice}");
    assert!(
        errors[0]["at"]
            .as_str()
            .is_some_and(|f| f.contains("frees_twice"))
    );
    // Narrowed away, the crash is still a failure.
    let narrowed = krate.leaklab_test(&["--fail-on", "lost,no-errors"]);
    assert_exit(&narrowed, 4);
    let text = String::from_utf8_lossy(&narrowed.stdout);
    assert!(text.contains("memory error: InvalidFree"), "{text}");
}

#[test]
fn a_hanging_test_is_stopped_at_the_time_limit_and_fails() {
    nextest();
    let hangs = r#"
    #[test]
    fn hangs() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
"#;
    let krate = Crate::new(hangs, "");
    // A harness = false target that hangs whatever its arguments, --list
    // included.
    let manifest = krate.path().join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[[test]]\nname = \"stuck\"\nharness = false\n");
    std::fs::write(&manifest, toml).unwrap();
    std::fs::create_dir(krate.path().join("tests")).unwrap();
    std::fs::write(
        krate.path().join("tests/stuck.rs"),
        "fn main() {\n    loop {\n        std::thread::sleep(std::time::Duration::from_secs(1));\n    }\n}\n",
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = krate.leaklab_test(&["--timeout", "5", "--json"]);
    assert_exit(&out, 4);
    let report = json(&out);
    assert_eq!(test(&report, "hangs")["ending"]["timed-out"], 5, "{report}");
    let stuck = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["binary"].as_str().unwrap().starts_with("stuck-"))
        .unwrap_or_else(|| panic!("no record of the stuck binary: {report}"));
    assert_eq!(stuck["ending"]["timed-out"], 5, "{report}");
    // The other tests ran and were measured.
    assert_eq!(lost(test(&report, "leaks_a_malloc"), "c"), (1, 64));
    let summary =
        String::from_utf8_lossy(&krate.leaklab_test(&["--timeout", "5"]).stdout).into_owned();
    assert!(summary.contains("2 failed (2 timed out)"), "{summary}");

    // Under memcheck, the hanging test alone (the lib's binary, filtered).
    let table = krate.leaklab_test(&[
        "--timeout",
        "8",
        "--detector",
        "valgrind",
        "--lib",
        "-E",
        "test(=tests::hangs)",
    ]);
    assert_exit(&table, 4);
    let text = String::from_utf8_lossy(&table.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("tests::hangs"))
        .unwrap_or_else(|| panic!("no row: {text}"));
    assert!(row.contains("TIMED OUT (after 8 s)"), "{row}");
    assert!(text.contains("1 failed (1 timed out)"), "{text}");
    // Stopped at the limits, not hung.
    assert!(start.elapsed().as_secs() < 150, "{:?}", start.elapsed());
}

/// A crate with what nextest leaves out or cannot list: a doctest that
/// leaks 12 bytes, a
/// `harness = false` target that prints (and leaks 40 bytes), one that is
/// silent, and a test target with no tests.
fn odd_targets() -> Crate {
    let krate = Crate::new(
        "",
        "\n/// Adds.\n///\n/// ```\n/// assert_eq!(leaky_demo::add(1, 2), 3);\n/// let kept: &mut [u8; 12] = Box::leak(Box::new([1u8; 12]));\n/// std::hint::black_box(kept);\n/// ```\npub fn add(a: u8, b: u8) -> u8 {\n    a + b\n}\n",
    );
    let manifest = krate.path().join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str(
        "\n[[test]]\nname = \"custom\"\nharness = false\n\n[[test]]\nname = \"silent\"\nharness = false\n\n[[test]]\nname = \"empty\"\n",
    );
    std::fs::write(&manifest, toml).unwrap();
    let tests = krate.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    std::fs::write(
        tests.join("custom.rs"),
        "fn main() {\n    println!(\"my own harness: 3 checks\");\n    let kept: &mut [u8; 40] = Box::leak(Box::new([0u8; 40]));\n    std::hint::black_box(kept);\n    println!(\"all good\");\n}\n",
    )
    .unwrap();
    std::fs::write(tests.join("silent.rs"), "fn main() {}\n").unwrap();
    std::fs::write(tests.join("empty.rs"), "pub fn helper() {}\n").unwrap();
    krate
}

#[test]
fn harness_false_targets_run_whole_and_nothing_is_skipped_silently() {
    nextest();
    let krate = odd_targets();
    let out = krate.leaklab_test(&["--json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    let whole = |stem: &str| {
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["test"] == "leaklab::whole-binary"
                    && t["binary"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("{stem}-"))
            })
            .unwrap_or_else(|| panic!("no record of {stem}: {report}"))
    };
    // The printing one ran, measured: its 40 bytes are Rust's, lost.
    assert_eq!(lost(whole("custom"), "rust"), (1, 40), "{report}");
    assert_eq!(whole("silent")["ending"], "passed");
    // The unit tests still ran.
    assert_eq!(lost(test(&report, "leaks_a_malloc"), "c"), (1, 64));
    let empty = report["empty_binaries"].as_array().unwrap();
    assert_eq!(empty.len(), 1, "{report}");
    assert!(empty[0].as_str().unwrap().starts_with("empty-"), "{report}");
    // The doctest ran under the detector (cargo hands rustdoc the target
    // runner), and its leak is found, on Rust's side.
    assert_eq!(report["doctests"]["not_run"], 0, "{report}");
    let doctest = test_named(&report, "doctest");
    assert_eq!(doctest["binary"], "doctests", "{doctest}");
    assert_eq!(lost(doctest, "rust"), (1, 12), "{doctest}");

    let table = krate.leaklab_test(&[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines().any(
            |l| l.contains("custom (harness = false, run whole)") && l.contains("1 blk / 40 B")
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "doctests: run under counters by `cargo test --doc`, rows \"doctest\" (1 process"
        ),
        "{text}"
    );
    assert!(text.contains("1 test binaries list no tests"), "{text}");

    // Left out on request, they are still counted and named.
    let skipped = krate.leaklab_test(&["--no-doctests"]);
    let text = String::from_utf8_lossy(&skipped.stdout);
    assert!(
        text.contains("doctests: 1 not run (--no-doctests)"),
        "{text}"
    );
    assert!(!text.contains("| doctest "), "{text}");
}

#[test]
fn leaklab_s_options_are_its_own_anywhere_and_nextest_s_refusals_are_exit_2() {
    nextest();
    let krate = Crate::new("", "");
    // After a nextest argument, --json and --timeout are still leaklab's.
    let out = krate.leaklab_test(&["--release", "--json", "--timeout", "60"]);
    assert_exit(&out, 1);
    assert_eq!(lost(test(&json(&out), "leaks_a_malloc"), "c"), (1, 64));
    // A flag nextest does not know: its refusal, exit 2, not "a test failed".
    let out = krate.leaklab_test(&["--release", "--no-such-flag"]);
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
    assert!(err.contains("cargo nextest refused"), "{err}");
    // A bad value of leaklab's own option after nextest's: clap's one line.
    let out = krate.leaklab_test(&["--release", "--detector", "helgrind"]);
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("helgrind"), "{err}");
}

/// Tests for one memcheck per binary: a leak of 24 bytes made 150 calls
/// deep (past the 40 frames memcheck keeps, so no test frame places
/// it), one that aborts the process, and one failing, beside the two
/// leaking ones and the clean one.
const PER_BINARY: &str = r#"
    #[inline(never)]
    fn deep(n: u32) -> usize {
        if n == 0 {
            // SAFETY: a plain allocation, never freed: the leak under test.
            return unsafe { super::malloc(24) } as usize;
        }
        std::hint::black_box(deep(std::hint::black_box(n - 1))) + 1
    }

    #[test]
    fn leaks_deep_down() {
        std::hint::black_box(deep(150));
    }

    #[test]
    fn aborts() {
        std::process::abort();
    }

    #[test]
    fn fails() {
        let kept = vec![7u8; 10];
        assert_eq!(kept.len(), 11, "on purpose");
    }
"#;

#[test]
fn one_memcheck_per_binary_blames_each_record_on_its_test_and_reruns_what_it_cannot_place() {
    nextest();
    let krate = Crate::new(PER_BINARY, "");
    let out = krate.leaklab_test(&["--detector", "valgrind", "--jobs", "1", "--json"]);
    assert_exit(&out, 4);
    let err = String::from_utf8_lossy(&out.stderr);
    // One process ran the binary's tests (libtest counts the ignored one)...
    assert!(err.contains("running 7 tests"), "{err}");
    let report = json(&out);
    // ... and each leak is on its own test's row, its size and side.
    check_blame(&report);
    assert_eq!(lost(test(&report, "fails"), "c"), (0, 0));
    assert_eq!(test(&report, "fails")["ending"]["failed"], 101, "{report}");
    // The abort cut that run short: it ran alone (SIGABRT is its own), the
    // others again in one process without it.
    assert_eq!(test(&report, "aborts")["ending"]["signal"], 6, "{report}");
    assert!(err.contains("running 5 tests"), "{err}");
    // The deep leak has no test frame on its 40-frame stack: the tests ran
    // again one memcheck each, which blames it on its test.
    assert!(err.contains("one memcheck per test"), "{err}");
    let deep = test(&report, "leaks_deep_down");
    assert_eq!(lost(deep, "c"), (1, 24), "{deep}");
    let blamed: Vec<&Value> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| lost(t, "c") != (0, 0) || lost(t, "rust") != (0, 0))
        .collect();
    assert_eq!(blamed.len(), 3, "{report}");

    // One process per test, as nextest runs them, blames the same.
    let out = krate.leaklab_test(&["--detector", "valgrind", "--memcheck-per-test", "--json"]);
    assert_exit(&out, 4);
    let again = json(&out);
    check_blame(&again);
    assert_eq!(lost(test(&again, "leaks_deep_down"), "c"), (1, 24));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("running 7 tests"));
}

#[test]
fn one_memcheck_per_binary_puts_a_memory_error_on_its_test_s_row() {
    nextest();
    let krate = Crate::new(MEMORY_ERRORS, "");
    let out = krate.leaklab_test(&["--detector", "valgrind", "--jobs", "1", "--json"]);
    assert_exit(&out, 6);
    let err = String::from_utf8_lossy(&out.stderr);
    // Its five tests and the ignored one, in one process.
    assert!(err.contains("running 6 tests"), "{err}");
    assert!(!err.contains("one memcheck per test"), "{err}");
    let report = json(&out);
    let read = test(&report, "reads_a_freed_box");
    let errors = memory_errors(read);
    assert_eq!(errors.len(), 1, "{read}");
    assert_eq!(errors[0]["kind"], "InvalidRead", "{read}");
    for frame in ["at", "freed_at", "allocated_at"] {
        assert!(
            errors[0][frame]
                .as_str()
                .is_some_and(|f| f.contains("reads_a_freed_box")),
            "{frame}: {read}"
        );
    }
    assert_eq!(
        memory_errors(test(&report, "frees_twice"))[0]["kind"],
        "InvalidFree"
    );
    for other in ["clean", "leaks_a_malloc", "leaks_a_cstring"] {
        assert!(
            memory_errors(test(&report, other)).is_empty(),
            "{other}: {report}"
        );
    }
    check_blame_sizes(&report);
}

#[test]
fn a_block_reached_only_inside_gets_memcheck_s_second_look() {
    nextest();
    // A block whose only pointer points 8 bytes into it: the scan cannot
    // call it lost or reachable (memcheck: "possibly lost").
    let krate = Crate::new(
        r#"
    static INSIDE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[test]
    fn keeps_an_interior_pointer() {
        // SAFETY: a plain allocation, kept only through a pointer inside it.
        // 40 bytes: not the size of the runtime's own possibly lost 48-byte
        // block, which some test processes free before exit (see the
        // limits in docs/cargo-leaklab-test.md).
        let p = unsafe { super::malloc(40) };
        INSIDE.store(p as usize + 8, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn clean_too() {}

    #[test]
    fn clean_as_well() {}
"#,
        "",
    );
    // Three clean processes beside it, so that the runtime's own amount is
    // the most frequent one (with two processes the floor is a tie, and
    // every process with a possibly lost block gets the second look).
    let out = krate.leaklab_test(&[
        "--json",
        "-E",
        "test(keeps_an_interior_pointer) | test(clean)",
    ]);
    let report = json(&out);
    let record = test(&report, "keeps_an_interior_pointer");
    assert_eq!(
        record["detector"], "counters (possibly lost: memcheck)",
        "{record}"
    );
    let possible = &record["c"]["possible"];
    assert_eq!(
        (possible["blocks"].as_i64(), possible["bytes"].as_i64()),
        (Some(1), Some(40)),
        "{record}"
    );
    // A clean test is clean, with or without a second look (it gets one
    // when a runtime block it had freed made its amount the odd one out).
    let clean_rows = |report: &Value| {
        for clean in ["clean", "clean_too", "clean_as_well"] {
            let record = test(report, clean);
            for side in ["c", "rust"] {
                for kind in ["lost", "possible"] {
                    assert_eq!(record[side][kind]["blocks"], 0, "{record}");
                }
            }
        }
    };
    clean_rows(&report);

    // Under one memcheck per binary, a possibly lost block may be a lost
    // one that another test's leftovers point into: its test runs again
    // alone, and the row is that run's.
    let out = krate.leaklab_test(&[
        "--detector",
        "valgrind",
        "--jobs",
        "1",
        "--json",
        "-E",
        "test(keeps_an_interior_pointer) | test(clean)",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keeps_an_interior_pointer (")
            && err.contains("a possibly lost block in the shared process; running it again alone"),
        "{err}"
    );
    let report = json(&out);
    let record = test(&report, "keeps_an_interior_pointer");
    let possible = &record["c"]["possible"];
    assert_eq!(
        (possible["blocks"].as_i64(), possible["bytes"].as_i64()),
        (Some(1), Some(40)),
        "{record}"
    );
    assert_eq!(lost(record, "c"), (0, 0), "{record}");
    clean_rows(&report);
}
