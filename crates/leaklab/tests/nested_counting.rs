//! Bad input: two counting allocators, one inside the other. Every Rust
//! allocation would pass through both and be counted twice; the first
//! measurement fails instead, with one message naming the fix (on the
//! test's thread: never a panic inside the allocator, which goes on
//! serving this binary's allocations).

use std::alloc::System;
use std::panic::{AssertUnwindSafe, catch_unwind};

use leaklab::Counting;
use leaklab::check::{self, Measurement};

#[global_allocator]
static ALLOC: Counting<Counting<System>> = Counting::new(Counting::system());

/// The error's text, from `Err` or a panic: a measurement is never `Ok`.
#[track_caller]
fn refusal(attempt: impl FnOnce() -> Result<Measurement, check::CheckError>) -> String {
    match catch_unwind(AssertUnwindSafe(attempt)) {
        Ok(Ok(m)) => panic!("nested Countings were measured: {m}"),
        Ok(Err(e)) => e.to_string(),
        Err(payload) => check::panic_text(&*payload).to_owned(),
    }
}

#[track_caller]
fn names_the_nesting_and_the_fix(text: &str) {
    for part in [
        "two leaklab::Counting allocators are nested",
        "counted twice",
        "#[global_allocator] static ALLOC: leaklab::Counting<MyAlloc> = leaklab::Counting::new(MyAlloc);",
    ] {
        assert!(text.contains(part), "no {part:?} in: {text}");
    }
}

#[test]
fn measuring_under_nested_countings_fails_once_naming_the_fix() {
    let mut calls = 0;
    let text = refusal(|| {
        check::measure(10, || {
            calls += 1;
            std::mem::forget(vec![0u8; 40]);
        })
    });
    names_the_nesting_and_the_fix(&text);
    assert_eq!(calls, 0, "nothing runs under counts that cannot be trusted");
}

#[test]
fn every_entry_point_refuses_the_same_way() {
    names_the_nesting_and_the_fix(&refusal(|| check::measure_counts(3, || ())));
    let sweep = catch_unwind(|| check::fault_sweep(|| ()).map(|_| ()));
    let text = match sweep {
        Ok(Ok(())) => panic!("a fault sweep ran under nested Countings"),
        Ok(Err(e)) => e.to_string(),
        Err(payload) => check::panic_text(&*payload).to_owned(),
    };
    names_the_nesting_and_the_fix(&text);
}

#[test]
fn the_allocator_keeps_serving_allocations() {
    // Nesting is an error at measurement time only: the program runs.
    let v: Vec<u64> = (0..10_000).collect();
    assert_eq!(v.iter().sum::<u64>(), 49_995_000);
    assert!(leaklab::heap::rust::nesting_error().is_some());
}
