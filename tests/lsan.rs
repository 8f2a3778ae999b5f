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

use leaklab::heap::Live;
use leaklab_lab::detect::at_exit::attribution::Side;
use leaklab_lab::detect::at_exit::expect::{self, Amount};
use leaklab_lab::detect::{Request, counters, lsan};
use leaklab_lab::run::isolate::Limits;
use leaklab_lab::scenarios::{self, Variant};

const ITERATIONS: u64 = 20;

/// The counters' children must run the leaklab binary, not this harness.
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
        let seen = report.at_exit().side(side).lost;
        assert_eq!(
            seen,
            at_exit(counted, report.workload.runs, side),
            "{id} {side:?}: LSan vs counters"
        );
    }
    (report.at_exit().c.lost, report.at_exit().rust.lost)
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

/// The instrumented leaklab, built (once per process) as the detector
/// builds it; panics with the install line if nightly is missing.
fn lsan_leaklab() -> std::path::PathBuf {
    if let Err(reason) = lsan::available() {
        panic!("{reason}");
    }
    lsan::build().unwrap_or_else(|e| panic!("{e}"))
}

/// The LSan build's own `leaklab run`: its children start (their cap is
/// on the data segment, not the address space LSan reserves) and a
/// runaway still ends on the cap, not as a crash or an exit 23.
#[test]
fn a_sanitizer_build_caps_its_children_on_data() {
    let exe = lsan_leaklab();
    let out = std::process::Command::new(&exe)
        .args(["run", "unbounded-int", "--variant", "leaky"])
        .args(["--detector", "growth", "--mem-cap", "256M", "--json"])
        .env_remove("LEAKLAB_EXE")
        .output()
        .expect("the LSan leaklab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("LeakSanitizer build") && stderr.contains("RLIMIT_DATA"),
        "no note on the cap: {stderr}"
    );
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(value["matches"], true, "{value}");
    assert!(
        value["observed"].as_str().unwrap_or("").contains("cap"),
        "{value}"
    );
}

/// The counters cannot count the C side of a sanitizer build: one line
/// saying so and where to go, exit 2, no table of errors.
#[test]
fn a_sanitizer_build_sends_the_counters_to_lsan() {
    let exe = lsan_leaklab();
    let out = std::process::Command::new(&exe)
        .args(["run", "unfreed-result"])
        .env_remove("LEAKLAB_EXE")
        .output()
        .expect("the LSan leaklab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("sanitizer build (leak)") && stderr.contains("--detector lsan"),
        "{stderr}"
    );
}

/// A sanitizer that cannot start (here: the LSan build started from this
/// normal build, which caps the address space) is its own ending, never a
/// leak, although LSan exits with its leak code 23 then.
#[test]
fn a_sanitizer_start_up_failure_is_not_a_leak() {
    use leaklab_lab::record::Ending;
    use leaklab_lab::run::isolate::run_child_of;
    use leaklab_lab::run::measure::Plan;
    let exe = lsan_leaklab();
    let scenario = scenarios::find("unfreed-result").expect("scenario");
    let plan = Plan {
        variant: Variant::Leaky,
        backend: scenario.default_backend(Variant::Leaky),
        iterations: 3,
        sample_every: 0,
        stacks: false,
    };
    let limits = Limits::default();
    let env = [("LSAN_OPTIONS", lsan::OPTIONS)];
    let run = run_child_of(&exe, &env, scenario.id, plan, limits, &[]).expect("started");
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(lsan::LEAK_EXIT_CODE),
        "{}",
        run.stderr
    );
    let record =
        leaklab_lab::detect::counters::judge(scenario, plan.variant, plan.backend, 3, limits, run);
    match &record.ending {
        Ending::SanitizerFailed { message } => {
            assert!(message.contains("LeakSanitizer"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(record.verdict, "error");
}
