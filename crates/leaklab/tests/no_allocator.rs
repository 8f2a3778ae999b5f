//! Bad input: a test binary without the `#[global_allocator]` line. The
//! Rust side is not counted, so every measurement is an error naming the
//! line to add: never a zero, never a panic, and the closure never runs.
//! (Plain `#[test]`s: `#[leaklab::test]` would look for a counted child,
//! which cannot count either.)

use leaklab::check::{self, CheckError, Side};

#[track_caller]
fn names_the_fix(err: &CheckError) {
    assert!(
        matches!(
            err,
            CheckError::NotCounted {
                side: Side::Rust,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    for part in [
        "the Rust side is not counted in this process",
        "#[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();",
        "leaklab::Counting::new(MyAlloc)",
    ] {
        assert!(text.contains(part), "no {part:?} in: {text}");
    }
}

#[test]
fn measure_without_the_allocator_line_is_not_counted_and_names_the_line() {
    let mut calls = 0;
    let result = check::measure(10, || {
        calls += 1;
        std::mem::forget(vec![0u8; 40]);
    });
    names_the_fix(&result.unwrap_err());
    assert_eq!(calls, 0, "the closure must not run when nothing counts it");
}

#[test]
fn measure_counts_and_fault_sweep_say_the_same() {
    names_the_fix(&check::measure_counts(3, || ()).unwrap_err());
    names_the_fix(&check::fault_sweep(|| ()).unwrap_err());
}

#[test]
fn zero_calls_is_still_its_own_error() {
    assert_eq!(check::measure(0, || ()).unwrap_err(), CheckError::NoCalls);
}
