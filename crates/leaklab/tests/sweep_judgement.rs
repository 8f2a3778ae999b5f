//! What a fault sweep calls a leak: memory a failing point's call loses.
//! One-time per-thread state an error path makes (as OpenSSL's error
//! queue), and blocks still reachable, are reported, never flagged.

use std::cell::Cell;

use leaklab::check;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

thread_local! {
    /// A library's per-thread error state: made by the first error, kept
    /// for the thread's life (reachable from here).
    static ERROR_STATE: Cell<usize> = const { Cell::new(0) };
}

/// Two C allocations; when either fails, the error path records the error
/// in the per-thread state, made on first use.
fn library_call(lose_on_error: bool) {
    // SAFETY: plain mallocs and frees; NULL results are checked.
    unsafe {
        let a = libc::malloc(32);
        let b = libc::malloc(64);
        if a.is_null() || b.is_null() {
            if ERROR_STATE.with(Cell::get) == 0 {
                let state = libc::malloc(584);
                assert!(!state.is_null());
                ERROR_STATE.with(|s| s.set(state as usize));
            }
            if lose_on_error {
                // The bug: the block that did get allocated is dropped.
                std::hint::black_box(if a.is_null() { b } else { a });
                return;
            }
        }
        libc::free(a);
        libc::free(b);
    }
}

#[leaklab::test]
fn per_thread_state_made_on_an_error_path_is_not_a_leak() {
    let sweep = check::fault_sweep(|| library_call(false)).expect("counted");
    assert_eq!(sweep.points.len(), 2, "{sweep}");
    // The first failing point made the state: its first call kept it,
    // its repeat nothing.
    let first = &sweep.points[0];
    assert!(first.one_time(), "{sweep}");
    assert_eq!(
        (first.first.c.blocks, first.first.c.bytes),
        (1, 584),
        "{sweep}"
    );
    assert!(first.kept.is_clean(), "{sweep}");
    assert_eq!(sweep.leaking().count(), 0, "{sweep}");
    sweep.assert_no_leaks();
}

#[leaklab::test]
fn an_error_path_that_loses_a_block_is_flagged_with_its_bytes() {
    let sweep = check::fault_sweep(|| library_call(true)).expect("counted");
    assert_eq!(sweep.points.len(), 2, "{sweep}");
    // Point 1: `a` failed, `b` (64 B) lost; point 2: `b` failed, `a` (32 B) lost.
    let lost: Vec<(u64, u64, u64)> = sweep
        .leaking()
        .map(|p| (p.nth, p.lost_blocks(), p.lost_bytes()))
        .collect();
    assert_eq!(lost, vec![(1, 1, 64), (2, 1, 32)], "{sweep}");
    // The per-thread state is not among what is lost.
    assert!(sweep.points.iter().all(|p| p.kept.c.bytes < 584), "{sweep}");
    let message = std::panic::catch_unwind(|| sweep.assert_no_leaks())
        .expect_err("flagged")
        .downcast::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("2 of 2 fault points went wrong"),
        "{message}"
    );
    assert!(message.contains("lost 1 blocks / 64 B"), "{message}");
}

#[leaklab::test]
fn a_block_kept_reachable_on_an_error_path_is_reported_not_flagged() {
    static QUEUE: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let sweep = check::fault_sweep(|| {
        // SAFETY: a malloc whose failure queues an error string, kept
        // reachable in QUEUE; a success is freed.
        unsafe {
            let p = libc::malloc(16);
            if p.is_null() {
                QUEUE
                    .lock()
                    .unwrap()
                    .push(libc::strdup(c"error".as_ptr()) as usize);
            } else {
                libc::free(p);
            }
        }
    })
    .expect("counted");
    assert_eq!(sweep.leaking().count(), 0, "{sweep}");
    let kept: Vec<_> = sweep.kept_not_lost().collect();
    assert_eq!(kept.len(), 1, "{sweep}");
    let split = kept[0].kept.c.split.expect("recorded");
    assert_eq!(
        (split.lost_blocks, split.reachable_blocks),
        (0, 1),
        "{sweep}"
    );
    assert!(
        kept[0].to_string().contains("still reachable, not a leak"),
        "{sweep}"
    );
    sweep.assert_no_leaks();
}
