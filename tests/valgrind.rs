//! valgrind's memcheck against the exact counters, on every scenario of
//! every C library: what memcheck finds lost (or still reachable) at exit
//! on each side is what the counters count, scaled to the whole process
//! (the priming iteration) and nothing else; safe variants are clean, and
//! no variant has a memcheck error. Under memcheck the interposer steps
//! aside (memcheck replaces the allocator), so the two counts come from two
//! independent mechanisms.
//!
//! valgrind must be installed: a missing valgrind fails these tests with
//! the package to install, it does not skip them.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use leaklab::heap::Live;
use leaklab_lab::detect::at_exit::attribution::Side;
use leaklab_lab::detect::at_exit::expect::{self, Amount, SideAmounts};
use leaklab_lab::detect::valgrind;
use leaklab_lab::detect::{Request, counters};
use leaklab_lab::run::isolate::Limits;
use leaklab_lab::scenarios::{self, LeakKind, Scenario, SideExpectation, Variant};

/// Few iterations: memcheck's cost is mostly start-up and the final scan.
const ITERATIONS: u64 = 20;

/// Children must run the leaklab binary, not this test harness.
fn use_leaklab_binary() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: every test calls this first, so no test thread of this
        // process reads the environment while it is written (the others
        // wait on the Once); the harness read its own variables before
        // starting the tests.
        unsafe { std::env::set_var("LEAKLAB_EXE", env!("CARGO_BIN_EXE_leaklab-lab")) };
    });
}

#[test]
fn valgrind_is_installed() {
    use_leaklab_binary();
    if let Err(reason) = valgrind::available() {
        panic!("{reason}");
    }
}

#[test]
fn c_library_scenarios_agree_with_the_counters() {
    use_leaklab_binary();
    if let Err(reason) = valgrind::available() {
        panic!("{reason}");
    }
    let cases: Vec<(&'static Scenario, Variant)> = scenarios::all()
        .iter()
        .filter(|s| s.library != "none")
        .flat_map(|s| [(*s, Variant::Leaky), (*s, Variant::Safe)])
        .collect();
    assert!(!cases.is_empty(), "no C library scenario registered");
    let failures = run_in_parallel(&cases);
    assert!(
        failures.is_empty(),
        "valgrind disagrees with the counters:\n{}",
        failures.join("\n")
    );
}

/// Checks every case on two threads (valgrind runs are single-threaded and
/// slow); returns the failures.
fn run_in_parallel(cases: &[(&'static Scenario, Variant)]) -> Vec<String> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut failures = Vec::new();
                    while let Some(&(s, v)) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                        failures.extend(
                            check(s, v)
                                .into_iter()
                                .map(|f| format!("{} {}: {f}", s.id, v.as_str())),
                        );
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect()
    })
}

/// One scenario variant: counters and memcheck over the same iterations.
fn check(scenario: &'static Scenario, variant: Variant) -> Vec<String> {
    let req = Request {
        scenario,
        variant,
        backend: scenario.default_backend(variant),
        iterations: ITERATIONS,
        limits: Limits::default(),
    };
    let record = match counters::record(&req) {
        Ok(r) if r.completed == ITERATIONS => r,
        Ok(r) => return vec![format!("the counters' run ended early: {:?}", r.ending)],
        Err(e) => return vec![format!("the counters' run failed: {e}")],
    };
    let report = match valgrind::report(&req) {
        Ok(r) => r,
        Err(e) => return vec![format!("valgrind failed: {e}")],
    };
    let mut failures = Vec::new();
    if !report.child.success || report.child.completed != ITERATIONS {
        failures.push(format!(
            "the child under valgrind did not finish: {:?}",
            report.child
        ));
    }
    if report.errors.count > 0 {
        failures.push(format!(
            "{} memcheck errors: {:?}",
            report.errors.count, report.errors.first
        ));
    }
    let expected = (scenario.expected)(req.variant, req.backend);
    if expected.is_leak()
        && record.leaked.c == Live::default()
        && record.leaked.rust == Live::default()
    {
        failures.push(
            "declared leaky, but the counters saw nothing: the comparison would be empty".into(),
        );
    }
    for (side, counted, declared) in [
        (Side::C, record.leaked.c, expected.c),
        (Side::Rust, record.leaked.rust, expected.rust),
    ] {
        let want = match scaled_to_exit(counted, report.workload.runs, side, declared) {
            Ok(want) => want,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        // memcheck's "possibly lost" part of `lost` is not compared: a stale
        // interior pointer (an old frame's slot) makes a lost block
        // "possibly" in some runs and not others.
        let seen = SideAmounts {
            possibly_lost: Default::default(),
            ..*report.at_exit().side(side)
        };
        if seen != want {
            failures.push(format!(
                "{side:?}: memcheck saw {seen:?}, the counters make it {want:?}"
            ));
        }
    }
    if variant == Variant::Safe && report.total != Default::default() {
        failures.push(format!("the safe variant is not clean: {:?}", report.total));
    }
    failures
}

/// The counters' leak over `ITERATIONS`, as memcheck should see it at exit:
/// per iteration, times the runs (priming included), in the class (lost or reachable) the scenario declares.
fn scaled_to_exit(
    counted: Live,
    runs: u64,
    side: Side,
    declared: SideExpectation,
) -> Result<SideAmounts, String> {
    let n = ITERATIONS as i64;
    if counted.blocks % n != 0 || counted.bytes % n != 0 {
        return Err(format!(
            "{side:?}: the counters' leak {counted:?} is not a whole number of iterations"
        ));
    }
    let per_iteration = Live {
        blocks: counted.blocks / n,
        bytes: counted.bytes / n,
    };
    let amount: Amount = expect::scaled(per_iteration, runs);
    let reachable = matches!(
        declared,
        SideExpectation::Exact {
            memory: LeakKind::Reachable,
            ..
        }
    );
    Ok(if reachable {
        SideAmounts {
            reachable: amount,
            ..SideAmounts::default()
        }
    } else {
        SideAmounts {
            lost: amount,
            ..SideAmounts::default()
        }
    })
}
