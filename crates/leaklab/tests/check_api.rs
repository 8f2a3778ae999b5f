//! The public leak-check API (leaklab::check) as a user's test sees it:
//! per-side counts, the lost/reachable split and the allocation stacks of
//! what leaked, and the bad inputs.

use std::sync::Mutex;

use leaklab::check::{self, CheckError, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// A cache that keeps what it is given: every block stays reachable.
#[allow(clippy::vec_box)] // one block per call is the point
static CACHE: Mutex<Vec<Box<[u8; 48]>>> = Mutex::new(Vec::new());

#[inline(never)]
fn forget_a_vec() {
    std::mem::forget(vec![0u8; 40]);
}

#[leaklab::test]
fn a_forgotten_vec_is_lost_and_its_stack_names_the_function() {
    let m = check::measure(20, forget_a_vec).expect("counted");
    m.assert_leaks(Side::Rust, 1, 40);
    let split = m.rust.split.expect("recorded");
    assert_eq!(
        (split.lost_blocks, split.lost_bytes, split.reachable_blocks),
        (check::RECORDED_CALLS, 40 * check::RECORDED_CALLS, 0)
    );
    assert_eq!(m.sites.len(), 1, "{m}");
    let first = &m.sites[0].frames[0];
    assert!(first.function.ends_with("forget_a_vec"), "{m}");
    assert!(
        first.yours && first.file.as_deref() == Some("tests/check_api.rs"),
        "{m}"
    );
}

#[leaklab::test]
fn a_growing_cache_is_reachable_not_lost() {
    let m = check::measure(20, || CACHE.lock().unwrap().push(Box::new([1; 48]))).expect("counted");
    // The Vec's own buffer grows now and then: the per-call figure is not
    // whole, but every kept block is reachable through the static.
    assert!(m.rust.blocks >= 20, "{m}");
    let split = m.rust.split.expect("recorded");
    assert_eq!(split.lost_blocks, 0, "{m}");
    assert!(split.reachable_blocks >= check::RECORDED_CALLS, "{m}");
    assert!(m.to_string().contains("all still reachable"), "{m}");
}

#[leaklab::test]
fn a_c_block_kept_in_a_static_is_reachable_and_a_dropped_one_lost() {
    static HELD: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let m = check::measure(10, || {
        // SAFETY: plain mallocs, one kept by address in HELD, one dropped.
        unsafe {
            HELD.lock().unwrap().push(libc::malloc(32) as usize);
            let lost = libc::malloc(16);
            std::hint::black_box(lost);
        }
    })
    .expect("counted");
    assert_eq!(m.c.per_call(), Some((2, 48)), "{m}");
    let split = m.c.split.expect("recorded");
    let calls = check::RECORDED_CALLS;
    assert_eq!(
        (
            split.lost_blocks,
            split.lost_bytes,
            split.reachable_blocks,
            split.reachable_bytes
        ),
        (calls, 16 * calls, calls, 32 * calls),
        "{m}"
    );
}

#[leaklab::test]
fn measure_counts_records_nothing() {
    let mut calls = 0;
    let m = check::measure_counts(5, || {
        calls += 1;
        forget_a_vec();
    })
    .expect("counted");
    assert_eq!(calls, 6, "one priming call and five measured");
    assert!(m.sites.is_empty() && m.rust.split.is_none());
    m.assert_leaks(Side::Rust, 1, 40);
}

#[leaklab::test]
fn a_clean_closure_is_called_exactly_n_plus_one_times() {
    let mut calls = 0;
    check::measure(7, || calls += 1)
        .expect("counted")
        .assert_clean();
    assert_eq!(calls, 8);
}

#[leaklab::test]
fn zero_calls_and_a_panicking_closure_are_errors() {
    assert_eq!(check::measure(0, || ()).unwrap_err(), CheckError::NoCalls);
    let mut n = 0;
    let err = check::measure(5, || {
        n += 1;
        if n == 3 {
            panic!("boom at call {n}");
        }
    })
    .unwrap_err();
    assert_eq!(
        err,
        CheckError::Panicked {
            call: 2,
            message: "boom at call 3".into()
        }
    );
}

#[leaklab::test]
fn a_panic_in_a_recorded_call_is_an_error_too() {
    let mut n = 0;
    let err = check::measure(3, || {
        n += 1;
        forget_a_vec();
        assert!(n <= 4, "recorded call panics");
    })
    .unwrap_err();
    assert!(matches!(err, CheckError::Panicked { call: 4, .. }), "{err}");
}

#[leaklab::test]
fn freeing_rust_memory_with_c_free_is_never_clean() {
    let m = check::measure(4, || {
        let block = Box::into_raw(Box::new(0u64));
        // SAFETY: deliberately wrong pairing, made safe for the test by the
        // allocator: the lab's Rust allocator forwards to malloc, so
        // free() releases the block correctly; what is measured is that
        // the C counters see a free of memory they never handed out.
        unsafe { libc::free(block.cast()) };
    })
    .expect("counted");
    assert!(!m.is_clean());
    assert!(m.foreign_frees >= 4, "{m}");
    assert!(m.to_string().contains("not reliable"), "{m}");
}

/// A C block whose only copy is in this function's frame, gone when it
/// returns: lost, as long as no other scan's copy of this stack counts.
#[inline(never)]
fn lose_a_c_block() {
    // SAFETY: a plain allocation, never freed: the leak under test.
    let block = unsafe { libc::malloc(4096) };
    std::hint::black_box(block);
}

#[leaklab::test]
fn scans_on_several_threads_at_once_still_call_a_lost_block_lost() {
    // Each thread's scan copies the others' memory into its buffer;
    // those copies hold the others' stale pointers and must never
    // count as roots for them.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..10 {
                    let m = check::measure(3, lose_a_c_block).expect("counted");
                    let split = m.c.split.expect("recorded");
                    assert_eq!(split.reachable_blocks, 0, "{m}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread failed");
    }
}
