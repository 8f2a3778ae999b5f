//! The threshold and lost-only assertions as a user's test sees them:
//! `assert_kept_at_most` (a budget per call, pytest-memray's `limit_leaks`
//! shape) and `assert_lost_at_most` / `assert_no_lost` (lost fails,
//! reachable growth does not). Each failing case is checked for its
//! message: the side, the bytes per call, the limit and the stacks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use leaklab::check::{self, Measurement, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

#[inline(never)]
fn forget_forty_bytes() {
    std::mem::forget(vec![0u8; 40]);
}

/// A plain malloc never freed: 24 B lost per call.
#[inline(never)]
fn lose_twenty_four_c_bytes() {
    // SAFETY: a plain allocation, never freed: the leak under test.
    std::hint::black_box(unsafe { libc::malloc(24) });
}

/// A cache that keeps what it is given: every block stays reachable.
#[allow(clippy::vec_box)] // one block per call is the point
static CACHE: Mutex<Vec<Box<[u8; 48]>>> = Mutex::new(Vec::new());

fn cache_one() {
    CACHE.lock().unwrap().push(Box::new([7; 48]));
}

/// The assertion's panic message, or a failure if it passed.
#[track_caller]
fn failure(assertion: impl FnOnce()) -> String {
    match catch_unwind(AssertUnwindSafe(assertion)) {
        Ok(()) => panic!("the assertion passed; it should have failed"),
        Err(payload) => check::panic_text(&*payload).to_owned(),
    }
}

#[track_caller]
fn contains_all(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "no {part:?} in:\n{message}");
    }
}

fn forgotten_vec() -> Measurement {
    check::measure(10, forget_forty_bytes).expect("counted")
}

#[leaklab::test]
fn a_leak_over_the_limit_fails_naming_side_bytes_per_call_limit_and_stack() {
    let m = forgotten_vec();
    let message = failure(|| m.assert_kept_at_most(Side::Rust, 32));
    contains_all(
        &message,
        &[
            "expected Rust to keep at most 32 B per call, but it kept 40 B per call (rounded up), \
             over the limit by 8 B",
            "Rust kept 1 blocks / 40 B per call (10 blocks / 400 B in 10 calls), all lost",
            "allocation stacks of what 2 more recorded calls kept",
            "forget_forty_bytes (",
            "tests/limits.rs:",
        ],
    );
}

#[leaklab::test]
fn a_leak_at_or_below_the_limit_passes_and_the_other_side_is_not_judged() {
    let m = forgotten_vec();
    m.assert_kept_at_most(Side::Rust, 40);
    m.assert_kept_at_most(Side::Rust, 4096);
    m.assert_kept_at_most(Side::C, 0);
    // C is judged alone: the Rust leak beside it does not count.
    let c = check::measure(10, || {
        lose_twenty_four_c_bytes();
        forget_forty_bytes();
    })
    .expect("counted");
    c.assert_kept_at_most(Side::C, 24);
    let message = failure(|| c.assert_kept_at_most(Side::C, 23));
    contains_all(
        &message,
        &[
            "expected C to keep at most 23 B per call, but it kept 24 B per call",
            "lose_twenty_four_c_bytes (",
            "tests/limits.rs:",
        ],
    );
}

#[leaklab::test]
fn a_byte_every_other_call_rounds_up_to_a_byte_per_call() {
    let mut n = 0u32;
    let m = check::measure(10, || {
        n += 1;
        if n.is_multiple_of(2) {
            std::mem::forget(Box::new(1u8));
        }
    })
    .expect("counted");
    assert_eq!((m.rust.blocks, m.rust.bytes), (5, 5), "{m}");
    m.assert_kept_at_most(Side::Rust, 1);
    let message = failure(|| m.assert_kept_at_most(Side::Rust, 0));
    contains_all(&message, &["it kept 1 B per call (rounded up)"]);
}

#[leaklab::test]
fn a_measurement_without_stacks_says_where_to_get_them() {
    let m = check::measure_counts(10, forget_forty_bytes).expect("counted");
    let message = failure(|| m.assert_kept_at_most(Side::Rust, 0));
    contains_all(
        &message,
        &[
            "it kept 40 B per call",
            "check::measure_counts records none",
        ],
    );
}

#[leaklab::test]
fn a_reachable_cache_passes_the_lost_only_assertions_but_not_a_budget() {
    let m = check::measure(20, cache_one).expect("counted");
    let split = m.rust.split.expect("recorded");
    assert_eq!(split.lost_blocks, 0, "{m}");
    assert!(split.reachable_bytes >= 48 * check::RECORDED_CALLS, "{m}");
    m.assert_no_lost();
    m.assert_lost_at_most(Side::Rust, 0);
    m.assert_lost_at_most(Side::C, 0);
    // It is kept all the same: a budget sees it.
    let message = failure(|| m.assert_kept_at_most(Side::Rust, 0));
    contains_all(&message, &["all still reachable"]);
}

#[leaklab::test]
fn a_forgotten_vec_fails_the_lost_only_assertions() {
    let m = forgotten_vec();
    let message = failure(|| m.assert_no_lost());
    contains_all(
        &message,
        &[
            "expected nothing lost, but on the Rust side the 2 recorded calls lost 2 blocks / \
             80 B (40 B per call, rounded up)",
            "forget_forty_bytes (",
            "tests/limits.rs:",
        ],
    );
    m.assert_lost_at_most(Side::Rust, 40);
    m.assert_lost_at_most(Side::C, 0);
    let message = failure(|| m.assert_lost_at_most(Side::Rust, 39));
    contains_all(
        &message,
        &["expected Rust to lose at most 39 B per call, but the 2 recorded calls lost"],
    );
}

#[leaklab::test]
fn lost_and_reachable_c_blocks_are_told_apart() {
    static HELD: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let m = check::measure(10, || {
        // SAFETY: a plain malloc kept by address in HELD (reachable).
        HELD.lock()
            .unwrap()
            .push(unsafe { libc::malloc(32) } as usize);
        lose_twenty_four_c_bytes();
    })
    .expect("counted");
    m.assert_kept_at_most(Side::C, 56);
    m.assert_lost_at_most(Side::C, 24);
    let message = failure(|| m.assert_lost_at_most(Side::C, 23));
    contains_all(&message, &["lost 2 blocks / 48 B (24 B per call"]);
    let message = failure(|| m.assert_no_lost());
    contains_all(&message, &["on the C side the 2 recorded calls lost"]);
}

#[leaklab::test]
fn the_lost_only_assertions_refuse_a_leaking_measurement_with_nothing_recorded() {
    let m = check::measure_counts(10, cache_one).expect("counted");
    for message in [
        failure(|| m.assert_no_lost()),
        failure(|| m.assert_lost_at_most(Side::Rust, 1 << 20)),
        failure(|| m.assert_lost_at_most(Side::C, 0)),
    ] {
        contains_all(
            &message,
            &[
                "cannot judge lost memory: no call was recorded",
                "check::measure_counts",
            ],
        );
    }
}

#[leaklab::test]
fn a_clean_measurement_passes_every_limit() {
    for m in [
        check::measure(10, || drop(vec![0u8; 40])).expect("counted"),
        check::measure_counts(10, || drop(vec![0u8; 40])).expect("counted"),
    ] {
        m.assert_kept_at_most(Side::C, 0);
        m.assert_kept_at_most(Side::Rust, 0);
        m.assert_lost_at_most(Side::Rust, 0);
        m.assert_no_lost();
    }
}
