//! `cargo leaklab run` on a crate written here for the purpose, with one
//! binary per case: one that loses a `malloc(40)` (C's) and a 24-byte
//! `Box` (Rust's) before it exits, a clean one that echoes its arguments
//! and input, one with an invalid read, one that exits with status 3, one
//! that defines `malloc` itself by other means than leaklab's. The
//! sizes, sides and exit codes must be those, and the program's input,
//! output and arguments its own.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

const LEAKY: &str = r#"
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
}

#[inline(never)]
fn leak() {
    // SAFETY: a plain allocation, never freed: the C leak under test.
    let c = unsafe { malloc(40) }; // the C site
    std::hint::black_box(c);
    std::hint::black_box(Box::into_raw(Box::new([7u8; 24]))); // the Box site
}

#[inline(never)]
fn scrub() {
    // Overwrites the stack leak() used: no stale copy of its pointers
    // may keep the blocks reachable.
    std::hint::black_box([0u8; 4096]);
}

fn main() {
    leak();
    scrub();
    println!("leaky: done");
}
"#;

const THREADED: &str = r#"
fn main() {
    // Still asleep at exit: the scan does not read its stack.
    std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(3600)));
    std::mem::forget(vec![3u8; 56]);
    println!("threaded: done");
}
"#;

const CLEAN: &str = r#"
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input).unwrap();
    println!("clean: args [{}], input [{}]", args.join("|"), input.trim());
    // The symbolizer its own `leaklab::check` would use.
    eprintln!("clean: symbolizer [{}]", std::env::var("LEAKLAB_ADDR2LINE").unwrap_or_default());
}
"#;

const BAD_READ: &str = r#"
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(p: *mut u8);
}

fn main() {
    // SAFETY: not sound on purpose: reads the byte just past a 16-byte
    // block, the memory error under test.
    let v = unsafe {
        let p = malloc(16);
        let x = std::ptr::read_volatile(p.add(16));
        free(p);
        x
    };
    std::hint::black_box(v);
}
"#;

const EXIT3: &str = r#"
fn main() {
    println!("exit3: giving up");
    std::process::exit(3);
}
"#;

/// A program that defines the `malloc` family itself, by other means than
/// leaklab's interposer (forwarded to glibc's `__libc_*`, as another
/// allocator would serve them): the shim's is never called and no copy of
/// leaklab's publishes.
const OWN_MALLOC: &str = r#"
use std::ffi::c_void;
unsafe extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_free(p: *mut c_void);
}
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    unsafe { __libc_malloc(size) }
}
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    unsafe { __libc_calloc(n, size) }
}
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    unsafe { __libc_realloc(p, size) }
}
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    unsafe { __libc_free(p) }
}
fn main() {
    std::hint::black_box(Box::leak(Box::new([7u64; 3])));
    eprintln!("own_malloc: done");
}
"#;

/// The crate, written once under cargo's temporary directory (its target
/// directory shared by every test here, so each builds nothing new).
fn krate() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run-demo");
        std::fs::create_dir_all(dir.join("src/bin")).unwrap();
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"run-demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
            ),
            ("src/bin/leaky.rs", LEAKY),
            ("src/bin/threaded.rs", THREADED),
            ("src/bin/clean.rs", CLEAN),
            ("src/bin/bad_read.rs", BAD_READ),
            ("src/bin/exit3.rs", EXIT3),
            ("src/bin/own_malloc.rs", OWN_MALLOC),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            // Unchanged files keep their times: no rebuild.
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
                std::fs::write(&path, text).unwrap();
            }
        }
        dir
    })
}

/// `cargo leaklab run ARGS` in the crate, `input` on its stdin.
fn leaklab_run(args: &[&str], input: &str) -> Output {
    leaklab_run_with(args, input, &[])
}

/// [`leaklab_run`] with more environment variables.
fn leaklab_run_with(args: &[&str], input: &str, envs: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut child = common::command(env!("CARGO_BIN_EXE_cargo-leaklab"))
        .args(["leaklab", "run"])
        .envs(envs.iter().copied())
        .args(args)
        .current_dir(krate())
        .env("CARGO_TARGET_DIR", krate().join("target"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo-leaklab runs");
    let mut stdin = child.stdin.take().unwrap();
    // The program may exit before reading: a closed pipe is no failure.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn valgrind() {
    let ok = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "valgrind is not installed: apt-get install valgrind");
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
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

fn amount(v: &Value) -> (i64, i64) {
    (
        v["blocks"].as_i64().expect("blocks"),
        v["bytes"].as_i64().expect("bytes"),
    )
}

/// A `valgrind` that answers `--version` and fails anything else, each
/// call logged (its arguments, one line) to the file `$VALGRIND_LOG`.
const FAKE_VALGRIND: &str = "#!/bin/sh\n\
     echo \"$*\" >> \"$VALGRIND_LOG\"\n\
     if [ \"$1\" = --version ]; then echo valgrind-3.0.0-logged; exit 0; fi\n\
     exit 1\n";

/// The line of `text` holding `marker`, 1-based.
fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker}"))
        + 1
}

/// [`FAKE_VALGRIND`] as `valgrind` in a directory of its own: the
/// directory (kept while it is used), a `PATH` with it first, and the log
/// file its calls go to.
fn fake_valgrind() -> (tempfile::TempDir, std::ffi::OsString, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("valgrind");
    std::fs::write(&fake, FAKE_VALGRIND).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let log = dir.path().join("valgrind.log");
    let path = std::env::join_paths(std::iter::once(dir.path().to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    (dir, path, log)
}

#[test]
fn the_counters_name_the_malloc_and_the_box_by_their_sites_without_memcheck() {
    // memcheck, if it ran, would only log and fail: it must not run.
    let (_dir, path, log) = fake_valgrind();
    let envs = [
        ("PATH", path.as_os_str()),
        ("VALGRIND_LOG", log.as_os_str()),
    ];
    let out = leaklab_run_with(&["--bin", "leaky", "--json"], "", &envs);
    assert_exit(&out, 1);
    let report = json(&out);
    assert_eq!(amount(&report["heap_at_exit"]["lost"]), (2, 64), "{report}");
    assert_eq!(amount(&report["c"]["lost"]), (1, 40), "{report}");
    assert_eq!(amount(&report["rust"]["lost"]), (1, 24), "{report}");
    assert_eq!(report["status"], 0);
    assert_eq!(report["detector"], "counters (sides: allocation sites)");
    assert_eq!(report["stacks_from"], "sites", "{report}");
    assert!(report["note"].is_null(), "{report}");
    let at = |marker: &str| format!("leaky::leak (src/bin/leaky.rs:{})", line_of(LEAKY, marker));
    let sites = report["lost_sites"].as_array().expect("lost_sites");
    let site = |side: &str| {
        sites
            .iter()
            .find(|s| s["side"] == side)
            .unwrap_or_else(|| panic!("no {side} site in {report}"))
    };
    assert_eq!(sites.len(), 2, "{report}");
    assert_eq!(amount(&site("c")["lost"]), (1, 40), "{report}");
    assert_eq!(site("c")["frame"], at("the C site"), "{report}");
    assert_eq!(amount(&site("rust")["lost"]), (1, 24), "{report}");
    assert_eq!(site("rust")["frame"], at("the Box site"), "{report}");
    // The biggest site's frame is the top frame.
    assert_eq!(report["top_frame"], at("the C site"), "{report}");
    // One run: the program's output once, and memcheck never started.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("leaky: done").count(), 1, "{stderr}");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls.lines().all(|l| l == "--version"),
        "memcheck ran: {calls}"
    );

    // The human report lists both sites under the table.
    let out = leaklab_run_with(&["--bin", "leaky"], "", &envs);
    assert_exit(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (side, lost, marker) in [
        ("C", "1 blk / 40 B", "the C site"),
        ("Rust", "1 blk / 24 B", "the Box site"),
    ] {
        let row = format!("| {side:<4} | {lost} | {}", at(marker));
        assert!(stderr.contains(&row), "no '{row}' in:\n{stderr}");
    }
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls.lines().all(|l| l == "--version"),
        "memcheck ran: {calls}"
    );
}

#[test]
fn a_thread_alive_at_exit_leaves_the_sides_to_memcheck_and_says_why() {
    valgrind();
    let out = leaklab_run(&["--bin", "threaded", "--json"], "");
    assert_exit(&out, 1);
    let report = json(&out);
    assert_eq!(report["detector"], "counters (sides: memcheck)", "{report}");
    assert_eq!(report["stacks_from"], "memcheck", "{report}");
    let note = report["note"].as_str().unwrap_or_default();
    assert!(note.contains("2 threads at exit"), "{report}");
    assert_eq!(amount(&report["rust"]["lost"]), (1, 56), "{report}");
    assert!(
        report["top_frame"]
            .as_str()
            .is_some_and(|f| f.contains("threaded.rs")),
        "{report}"
    );
}

#[test]
fn no_sites_leaves_the_stacks_to_a_memcheck_run_after_a_loss() {
    valgrind();
    let out = leaklab_run(&["--bin", "leaky", "--no-sites", "--json"], "");
    assert_exit(&out, 1);
    let report = json(&out);
    assert_eq!(report["detector"], "counters (sides: memcheck)", "{report}");
    assert_eq!(report["stacks_from"], "memcheck", "{report}");
    let note = report["note"].as_str().unwrap_or_default();
    assert!(note.contains("--no-sites"), "{report}");
    assert_eq!(amount(&report["c"]["lost"]), (1, 40), "{report}");
    assert_eq!(amount(&report["rust"]["lost"]), (1, 24), "{report}");
}

#[test]
fn memcheck_finds_the_same_sizes_and_sides() {
    valgrind();
    let out = leaklab_run(&["--detector", "valgrind", "--bin", "leaky", "--json"], "");
    assert_exit(&out, 1);
    let report = json(&out);
    assert_eq!(amount(&report["c"]["lost"]), (1, 40), "{report}");
    assert_eq!(amount(&report["rust"]["lost"]), (1, 24), "{report}");
    assert_eq!(report["heap_at_exit"], Value::Null);
}

#[test]
fn the_program_s_output_is_stdout_and_the_report_follows_on_stderr() {
    valgrind();
    let out = leaklab_run(&["--bin", "leaky"], "");
    assert_exit(&out, 1);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "leaky: done\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let row = stderr
        .lines()
        .find(|l| l.starts_with("| leaky"))
        .unwrap_or_else(|| panic!("no row for leaky:\n{stderr}"));
    assert!(row.contains("1 blk / 40 B | 1 blk / 24 B"), "{row}");
    assert!(
        stderr.contains("leaklab run: exit 1: the program lost memory"),
        "{stderr}"
    );
}

#[test]
fn a_clean_program_gets_its_arguments_and_input_and_exits_0() {
    for detector in ["counters", "valgrind"] {
        let out = leaklab_run(
            &[
                "--detector",
                detector,
                "--bin",
                "clean",
                "--",
                "--json",
                "two words",
                "-p",
            ],
            "typed in\n",
        );
        assert_exit(&out, 0);
        // The arguments after `--` are the program's, even leaklab's own.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "clean: args [--json|two words|-p], input [typed in]\n",
            "{detector}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("exit 0: the program lost no memory"),
            "{stderr}"
        );
        // leaklab's own symbolizer, not binutils', unless one was named.
        let symbolizer = match std::env::var("LEAKLAB_ADDR2LINE") {
            Ok(named) => format!("clean: symbolizer [{named}]"),
            Err(_) => format!(
                "clean: symbolizer [{} __addr2line]",
                env!("CARGO_BIN_EXE_cargo-leaklab")
            ),
        };
        assert!(stderr.contains(&symbolizer), "{detector}: {stderr}");
    }
}

#[test]
fn an_invalid_read_is_a_memory_error_with_its_line() {
    valgrind();
    let out = leaklab_run(
        &["--detector", "valgrind", "--bin", "bad_read", "--json"],
        "",
    );
    assert_exit(&out, 6);
    let report = json(&out);
    let error = &report["memory_errors"][0];
    assert_eq!(error["kind"], "InvalidRead", "{report}");
    assert!(
        error["at"]
            .as_str()
            .is_some_and(|f| f.contains("bad_read.rs:12")),
        "{report}"
    );
    assert!(
        error["allocated_at"]
            .as_str()
            .is_some_and(|f| f.contains("bad_read.rs:11")),
        "{report}"
    );
}

#[test]
fn a_program_that_exits_3_is_a_failure_with_its_status() {
    let out = leaklab_run(&["--bin", "exit3", "--json"], "");
    assert_exit(&out, 4);
    let report = json(&out);
    assert_eq!(report["status"], 3, "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exit3: giving up"));
}

#[test]
fn no_binary_named_or_several_to_choose_from_is_one_line_and_exit_2() {
    let out = leaklab_run(&[], "");
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("several binaries (") && stderr.contains("choose one with --bin NAME"),
        "{stderr}"
    );
    let out = leaklab_run(&["--bin", "nope"], "");
    assert_exit(&out, 2);
    let out = leaklab_run(&["--detector", "lsan"], "");
    assert_exit(&out, 2);
}

#[test]
fn a_program_whose_malloc_is_neither_the_shims_nor_leaklabs_goes_to_memcheck_and_says_so() {
    // The logging fake: memcheck is asked, and cannot stand in.
    let (_dir, path, log) = fake_valgrind();
    let envs = [
        ("PATH", path.as_os_str()),
        ("VALGRIND_LOG", log.as_os_str()),
    ];
    let out = leaklab_run_with(&["--bin", "own_malloc", "--json"], "", &envs);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("the counters cannot see this program (its malloc is neither"),
        "{text}"
    );
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls
            .lines()
            .any(|l| l != "--version" && l.contains("own_malloc")),
        "memcheck was not asked: {calls}"
    );
}
