//! Running a test that leaks on purpose in a child process, so that the
//! test process itself leaks nothing and runs clean under memcheck
//! (`cargo leaklab test --detector valgrind`), and a test whose checks read
//! the C counters (which valgrind's malloc replaces) natively: both through
//! the user crate's one child-process mechanism (`leaklab::check::child`).

#![allow(dead_code)] // each test binary uses the part it needs

use leaklab::check::child::{self, When};
use leaklab::heap::Snapshot;

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
/// returns what it left live on each heap, as the child measured it.
pub fn leaked_in_child(test: &str, body: impl FnOnce()) -> Snapshot {
    let report = child::run(test, When::Always, || {
        let before = Snapshot::now_this_thread();
        body();
        let leaked = Snapshot::now_this_thread().since(before);
        serde_json::to_string(&leaked).expect("a snapshot serializes")
    });
    serde_json::from_str(&report).unwrap_or_else(|e| panic!("{test}: {report}: {e}"))
}
