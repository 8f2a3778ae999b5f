//! Running one test of this test binary in a child process: the one
//! mechanism behind [`super::in_a_counted_process`] (a child where the C
//! allocator is counted, when this process does not count it) and the
//! lab's "measure this in a child" tests (a child always, so the parent
//! leaks nothing under memcheck).
//!
//! The rusty-fork pattern: the test re-executes its own binary filtered to
//! itself (`--exact`), with [`ENV`] naming it; the child runs the body and
//! prints its one-line report after a marker; the parent reads it back.
//! valgrind does not follow the child (no `--trace-children`), so the child
//! runs natively.

use std::process::Command;

use super::counted;

/// Names the test a child process runs.
pub const ENV: &str = "LEAKLAB_COUNTED_CHILD";

/// Starts the child's report line.
const REPORT: &str = "leaklab-child-report:";

/// When the body runs in a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only when this process does not count both sides (under valgrind).
    NotCounted,
    /// Always: the parent runs none of the body.
    Always,
}

/// Whether this process is the child running `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(ENV).as_deref() == Ok(test)
}

/// Runs `body` (the whole of the test called `test`, as `--exact` matches
/// it) here or in a child as `when` says, and returns its report (one
/// line, no newline). A child must succeed, be counted, and report exactly
/// once; else the test fails: it never passes unchecked. A child's panic
/// fails the test with the child's message and location first.
#[track_caller]
pub fn run(test: &str, when: When, body: impl FnOnce() -> String) -> String {
    if is_child(test) {
        if let Err(e) = counted() {
            panic!("{test} needs the counters, and its child process is not counted either: {e}");
        }
        let report = body();
        assert!(!report.contains('\n'), "a child report is one line");
        // On its own line: libtest has printed "test <name> ... " before it.
        println!("\n{REPORT}{report}");
        return report;
    }
    if when == When::NotCounted && counted().is_ok() {
        return body();
    }
    let exe = std::env::current_exe().expect("this test binary's path");
    let out = Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, test)
        .output()
        .unwrap_or_else(|e| panic!("cannot re-run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!(
            "{}the child process running {test} failed ({}):\n{stdout}\n{stderr}",
            child_panic(&stderr)
                .map(|p| format!("{p}\n\n"))
                .unwrap_or_default(),
            out.status
        );
    }
    let reports: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(REPORT))
        .collect();
    match reports[..] {
        [report] => report.to_owned(),
        _ => panic!(
            "the child process running {test} made {} reports, not 1 (was the test name \
             right, as `--exact` matches it?):\n{stdout}",
            reports.len()
        ),
    }
}

/// The child's panic, "panicked at FILE:LINE:COL:" and its message, from
/// its stderr.
fn child_panic(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let text = &stderr[start..];
    let end = text.find("\nnote:").unwrap_or(text.len());
    Some(format!("child {}", text[..end].trim_end()))
}

/// A stack of its own for this thread's signal handlers, so that a stack
/// overflow reaches them too: 256 KiB, mapped once and never unmapped (if
/// the mapping fails, handlers run on the thread's stack). For the fault
/// sweeps' children, this crate's and the lab's.
pub fn alternate_signal_stack() {
    const ALT_SIZE: usize = 256 * 1024;
    // SAFETY: a fresh anonymous private mapping; checked for failure.
    let alt = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ALT_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if alt != libc::MAP_FAILED {
        let stack = libc::stack_t {
            ss_sp: alt,
            ss_flags: 0,
            ss_size: ALT_SIZE,
        };
        // SAFETY: `stack` describes the mapping above, never unmapped.
        unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
    }
}
