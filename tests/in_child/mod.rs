//! Running a test that leaks on purpose in a child process, so that the
//! test process itself leaks nothing and runs clean under memcheck
//! (`cargo leaklab test --detector valgrind`). The rusty-fork pattern: the test
//! re-executes its own test binary, filtered to itself (`--exact`), with
//! `LEAKLAB_IN_CHILD` naming it; that child runs the body, measures what
//! it left on both heaps and prints it on one line; the parent reads the
//! line back, and the test asserts on it, in both processes.
//!
//! valgrind does not follow the child (no --trace-children): it runs
//! natively, with the C allocator interposed and counted. That is also how
//! a test whose checks read the C counters runs under memcheck
//! ([`with_c_counters`]): valgrind's malloc replaces the interposer, the
//! counters read zero there (`leaklab::heap::c::is_counted` is false), so the test
//! re-executes itself natively and passes only if it passed there.

#![allow(dead_code)] // each test binary uses the part it needs

use std::process::Command;

use leaklab::heap::Snapshot;

/// Names the test the child process runs.
pub const ENV: &str = "LEAKLAB_IN_CHILD";

const REPORT: &str = "leaklab-in-child-leaked:";

/// Runs `body`, the whole of the test called `test` (the caller, named as
/// `--exact` matches it), where the C allocator is counted: in this
/// process when it is, and otherwise (under valgrind) natively in a child
/// process that must report running it to the end
/// ([`leaklab::check::in_a_counted_process`]); it never passes unchecked.
pub fn with_c_counters(test: &str, body: impl FnOnce()) {
    leaklab::check::in_a_counted_process(test, body);
}

/// Runs `body` in a child process (the test called `test`, which must be
/// the caller: its path in the test binary, as `--exact` matches it) and
/// returns what it left live on each heap. In the child itself it runs
/// `body`, prints the measure and returns it.
pub fn leaked_in_child(test: &str, body: impl FnOnce()) -> Snapshot {
    if std::env::var(ENV).as_deref() == Ok(test) {
        let before = Snapshot::now_this_thread();
        body();
        let leaked = Snapshot::now_this_thread().since(before);
        let line = serde_json::to_string(&leaked).expect("a snapshot serializes");
        // On its own line: libtest has printed "test <name> ... " before it.
        println!("\n{REPORT}{line}");
        return leaked;
    }
    let stdout = run_child(test);
    let reports: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(REPORT))
        .collect();
    let [report] = reports[..] else {
        panic!(
            "the child running {test} printed {} reports:\n{stdout}",
            reports.len()
        );
    };
    serde_json::from_str(report).unwrap_or_else(|e| panic!("{test}: {report}: {e}"))
}

/// Re-executes this test binary on `test` alone, with [`ENV`] naming it,
/// and returns its standard output; panics if it failed.
fn run_child(test: &str) -> String {
    let exe = std::env::current_exe().expect("this test binary's path");
    let out = Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, test)
        .output()
        .unwrap_or_else(|e| panic!("cannot re-run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the child running {test} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout.into_owned()
}
