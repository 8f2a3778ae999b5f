//! Running a test that leaks on purpose in a child process, so that the
//! test process itself leaks nothing and runs clean under memcheck
//! (scripts/memcheck-tests.sh). The rusty-fork pattern: the test
//! re-executes its own test binary, filtered to itself (`--exact`), with
//! `LEAKLAB_IN_CHILD` naming it; that child runs the body, measures what
//! it left on both heaps and prints it on one line; the parent reads the
//! line back, and the test asserts on it, in both processes.
//!
//! valgrind does not follow the child (no --trace-children): it runs
//! natively, with the C allocator interposed and counted.

use std::process::Command;

use leaklab::heap::Snapshot;

/// Names the test the child process runs.
pub const ENV: &str = "LEAKLAB_IN_CHILD";

const REPORT: &str = "leaklab-in-child-leaked:";

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
