//! leaklab on a user's crate: exact leaks derived from the code, and the
//! fixed binding clean.

use std::panic::{AssertUnwindSafe, catch_unwind};

use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// strdup's copy of "hello": its 5 bytes and the NUL, one C block.
const GREETING_COPY: i64 = light::HELLO.to_bytes_with_nul().len() as i64;

/// checksum's scratch buffer.
const SCRATCH: usize = 100;

#[leaklab::test]
fn leaky_greeting_keeps_strdups_copy_every_call() {
    assert_eq!(GREETING_COPY, 6);
    let m = check::measure(100, || assert_eq!(light::leaky::greeting(), "hello")).expect("counted");
    // One C block of 6 bytes per call; the Rust String is dropped: clean.
    m.assert_leaks(Side::C, 1, GREETING_COPY);
    m.assert_kept_at_most(Side::C, GREETING_COPY);
    m.assert_lost_at_most(Side::C, GREETING_COPY);
}

#[leaklab::test]
fn leaky_checksum_keeps_its_scratch_buffer() {
    let m = check::measure(50, || {
        assert_eq!(light::leaky::checksum(SCRATCH), 4950);
    })
    .expect("counted");
    m.assert_leaks(Side::C, 1, SCRATCH as i64);
}

#[leaklab::test]
fn the_fixed_binding_is_clean() {
    check::measure(100, || assert_eq!(light::fixed::greeting(), "hello"))
        .expect("counted")
        .assert_clean();
    check::measure(100, || assert_eq!(light::fixed::checksum(SCRATCH), 4950))
        .expect("counted")
        .assert_clean();
}

#[leaklab::test]
fn the_clean_assertion_on_the_leaky_one_names_the_side_the_bytes_and_the_stack() {
    let m = check::measure(10, || drop(light::leaky::greeting())).expect("counted");
    let message = catch_unwind(AssertUnwindSafe(|| m.assert_clean()))
        .map(|()| "passed".to_owned())
        .unwrap_or_else(|p| p.downcast_ref::<String>().cloned().unwrap_or_default());
    for part in [
        "expected no leak, but C kept 1 blocks / 6 B per call (10 blocks / 60 B in 10 calls), all lost; Rust clean",
        "light::leaky::greeting (",
        "src/lib.rs:",
    ] {
        assert!(message.contains(part), "no {part:?} in:\n{message}");
    }
}

#[leaklab::test]
fn the_lost_only_assertion_fails_on_the_leaky_one() {
    let m = check::measure(10, || drop(light::leaky::greeting())).expect("counted");
    let failed = catch_unwind(AssertUnwindSafe(|| m.assert_no_lost()));
    assert!(
        failed.is_err(),
        "a lost strdup copy passed assert_no_lost: {m}"
    );
}
