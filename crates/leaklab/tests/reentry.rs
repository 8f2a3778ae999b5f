//! Calls that re-enter the interposer (a signal handler's, on a thread the
//! signal interrupted in the middle of a side table update) made
//! deterministic: `as_if_interrupted` runs a closure with the thread inside
//! the interposer and holding every shard, so each of its calls finds its
//! shard held by its own thread. They must not wait (that was the hang),
//! must be recorded as untracked where they allocate, must put off the
//! frees of blocks the table knows, and must leave exact counts: no
//! phantom block, no foreign free when an untracked block is freed later.
//!
//! The figures are this thread's (libtest runs the tests side by side).

use leaklab::check::{self, CheckError};
use leaklab::heap::{c, interpose};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

#[leaklab::test]
fn an_interrupting_handlers_calls_are_untracked_and_the_counts_stay_exact() {
    // SAFETY: plain C allocations, each freed once, outside and inside the
    // simulated handler.
    unsafe {
        let tracked = libc::malloc(48);
        assert!(!tracked.is_null());
        let (live, untracked, foreign) = (
            c::thread_live(),
            c::thread_untracked(),
            c::thread_foreign_frees(),
        );
        let (p, q, a) = interpose::as_if_interrupted(|| {
            let p = libc::malloc(64);
            let q = libc::calloc(4, 8);
            let q = libc::realloc(q, 4096);
            let mut a = std::ptr::null_mut();
            assert_eq!(libc::posix_memalign(&mut a, 64, 256), 0);
            // Freed in the handler: an untracked block at once, a tracked
            // one once the interrupted call leaves.
            libc::free(libc::malloc(100));
            libc::free(tracked);
            // The put-off free has not happened yet.
            assert!(!p.is_null() && !q.is_null() && !a.is_null());
            (p, q, a)
        });
        let now = c::thread_live().since(live);
        assert_eq!(
            (now.blocks, now.bytes),
            (-1, -48),
            "only the tracked block's free is counted, once the interrupted call left"
        );
        assert_eq!(
            c::thread_untracked() - untracked,
            5,
            "malloc, calloc, realloc, posix_memalign and the block freed in the handler"
        );
        // Freed later, outside the handler: known as untracked blocks.
        libc::free(p);
        libc::free(q);
        libc::free(a);
        assert_eq!(c::thread_foreign_frees(), foreign, "no foreign free");
        let now = c::thread_live().since(live);
        assert_eq!((now.blocks, now.bytes), (-1, -48), "no phantom block");
    }
}

#[leaklab::test]
fn a_measurement_during_which_blocks_went_untracked_is_an_error_not_a_figure() {
    let err = check::measure(3, || {
        // SAFETY: a malloc/free pair, the malloc made as if by a handler.
        unsafe { libc::free(interpose::as_if_interrupted(|| libc::malloc(16))) }
    })
    .unwrap_err();
    assert_eq!(err, CheckError::Untracked { blocks: 3 });
    assert!(err.to_string().starts_with("3 C blocks untracked"), "{err}");
}

#[leaklab::test]
fn a_handlers_realloc_of_a_tracked_block_moves_it_and_frees_the_old_one_later() {
    // SAFETY: plain C allocations, each freed once; the block is written
    // and read in bounds.
    unsafe {
        let p = libc::malloc(32).cast::<u8>();
        p.write_bytes(7, 32);
        let (live, untracked, foreign) = (
            c::thread_live(),
            c::thread_untracked(),
            c::thread_foreign_frees(),
        );
        let q = interpose::as_if_interrupted(|| libc::realloc(p.cast(), 64)).cast::<u8>();
        assert!(!q.is_null());
        assert_eq!(std::slice::from_raw_parts(q, 32), &[7u8; 32]);
        // The old block's free completed when the "interrupted" call left;
        // the new one is untracked.
        let now = c::thread_live().since(live);
        assert_eq!((now.blocks, now.bytes), (-1, -32));
        assert_eq!(c::thread_untracked() - untracked, 1);
        libc::free(q.cast());
        assert_eq!(c::thread_foreign_frees(), foreign);
        assert_eq!(c::thread_live().since(live).blocks, -1);
    }
}
