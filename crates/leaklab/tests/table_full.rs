//! A side table that cannot grow (its `mmap` refused, as under a tight
//! `RLIMIT_AS`): the blocks that do not fit are handed out untracked, and
//! `check::measure` then refuses to give a figure. Before, it called a
//! closure that kept 500,000 blocks "C clean". A process of its own: the
//! refusal is process-wide.

use leaklab::check::{self, CheckError};
use leaklab::heap::{c, interpose};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

#[leaklab::test]
fn a_side_table_that_cannot_grow_makes_measure_an_error_not_clean() {
    const PER_CALL: usize = 300_000;
    let mut kept: Vec<*mut libc::c_void> = Vec::with_capacity(2 * PER_CALL);
    let before = c::stats();
    interpose::table::refuse_growth(true);
    let outcome = check::measure(1, || {
        for _ in 0..PER_CALL {
            // SAFETY: a plain malloc, freed below.
            kept.push(unsafe { libc::malloc(32) });
        }
    });
    interpose::table::refuse_growth(false);
    let untracked = c::stats().untracked - before.untracked;
    for &p in &kept {
        // SAFETY: each block once.
        unsafe { libc::free(p) };
    }
    assert!(untracked > 0, "the table filled up");
    match outcome {
        Err(CheckError::Untracked { blocks }) => assert!(blocks > 0 && blocks <= untracked),
        other => panic!("expected an untracked error, got {other:?}"),
    }
}
