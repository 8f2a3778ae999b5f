//! LeakSanitizer on the lab's instrumented build: a leaky connector
//! scenario (C side), its safe twin, and rc-cycle (a Rust cycle, which LSan
//! reports as all indirect). What LSan finds must be exactly what the
//! scenario declares and what the counters count, scaled to the whole
//! process (the priming iteration) and to `malloc` (the C header).
//!
//! The nightly toolchain, its LSan runtime and llvm-symbolizer must be
//! installed: if not, these tests fail saying what to install. The first
//! test to run builds target/lsan (about two minutes on a fresh machine).

use std::sync::Once;

use leaklab::detect::valgrind::attribution::Side;
use leaklab::detect::valgrind::expect::{self, Amount};
use leaklab::detect::{Request, counters, lsan};
use leaklab::heap::Live;
use leaklab::run::isolate::Limits;
use leaklab::scenarios::{self, Variant};

const ITERATIONS: u64 = 20;

/// The counters' children must run the leaklab binary, not this harness.
fn use_leaklab_binary() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: every test calls this first, so no test thread of this
        // process reads the environment while it is written (the others
        // wait on the Once); the harness read its own variables before
        // starting the tests.
        unsafe { std::env::set_var("LEAKLAB_EXE", env!("CARGO_BIN_EXE_leaklab")) };
    });
}

/// Runs `id`'s `variant` under LSan and the counters; returns LSan's lost
/// memory per side, after checking it against the declaration and the
/// counters.
fn check(id: &str, variant: Variant) -> (Amount, Amount) {
    use_leaklab_binary();
    if let Err(reason) = lsan::available() {
        panic!("{reason}");
    }
    let scenario = scenarios::find(id).unwrap_or_else(|| panic!("no scenario {id}"));
    let req = Request {
        scenario,
        variant,
        backend: scenario.default_backend(variant),
        iterations: ITERATIONS,
        limits: Limits::default(),
    };
    let report = lsan::report(&req).unwrap_or_else(|e| panic!("{id}: {e}"));
    let declared = (scenario.expected)(req.variant, req.backend);
    let want = lsan::expected_at_exit(expect::at_exit(&declared, ITERATIONS).expect("bounded"));
    let mismatches = lsan::check(&report, &want);
    assert!(mismatches.is_empty(), "{id}: {mismatches:?}\n{report:#?}");

    let record = counters::record(&req).unwrap_or_else(|e| panic!("{id}: counters: {e}"));
    assert_eq!(
        record.completed, ITERATIONS,
        "{id}: the counters' run ended early"
    );
    for (side, counted) in [(Side::C, record.leaked.c), (Side::Rust, record.leaked.rust)] {
        let seen = report.side(side).amounts().lost;
        assert_eq!(
            seen,
            at_exit(counted, report.runs, side),
            "{id} {side:?}: LSan vs counters"
        );
    }
    (report.c.amounts().lost, report.rust.amounts().lost)
}

/// The counters' leak over ITERATIONS as LSan should see it at exit.
fn at_exit(counted: Live, runs: u64, side: Side) -> Amount {
    let n = ITERATIONS as i64;
    assert_eq!(
        (counted.blocks % n, counted.bytes % n),
        (0, 0),
        "{side:?}: {counted:?} is not a whole number of iterations"
    );
    let per_iteration = Live {
        blocks: counted.blocks / n,
        bytes: counted.bytes / n,
    };
    expect::scaled(per_iteration, runs)
}

#[test]
fn unfreed_result_leaks_on_the_c_side() {
    let (c, rust) = check("unfreed-result", Variant::Leaky);
    assert!(c.blocks > 0, "LSan saw no C leak");
    assert!(rust.is_zero(), "LSan saw a Rust leak: {rust:?}");
}

#[test]
fn unfreed_result_safe_is_clean() {
    let (c, rust) = check("unfreed-result", Variant::Safe);
    assert!(c.is_zero() && rust.is_zero(), "C {c:?}, Rust {rust:?}");
}

#[test]
fn rc_cycle_leaks_on_the_rust_side() {
    let (c, rust) = check("rc-cycle", Variant::Leaky);
    assert!(rust.blocks > 0, "LSan saw no Rust leak");
    assert!(c.is_zero(), "LSan saw a C leak: {c:?}");
}
