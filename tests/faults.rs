//! Fault-injection sweep over every connector scenario: every C allocation
//! of setup + one iteration + teardown is failed in turn.
//!
//! - safe: at every point nothing stays allocated beyond the variant's
//!   declared leak (C and Rust, blocks and bytes), no panic escapes, and the
//!   sweep reaches a point where the whole workload runs;
//! - leaky: at least one error path leaks beyond the normal per-iteration leak;
//! - both: a point at which the library itself crashes or exits is reported
//!   with its point, signal or status and the failed allocation's stack,
//!   and the sweep still reaches its last point.
//!
//! Every registered scenario with a C library takes part (the MariaDB ones
//! with `--features mariadb`, against the lab's own server). Each sweep runs
//! in the lab binary's child processes, natively (fault injection fails C
//! allocations at the counted allocator). Set LEAKLAB_FAULTS_PRINT=1 to
//! print each sweep's summary.

use std::path::Path;

use leaklab_lab::hardening::faults::{Outcome, SweepReport, run_isolated_with};
use leaklab_lab::scenarios::{self, BackendChoice, Scenario, Variant};

/// Every sweep runs in the lab's own child processes, as `leaklab-lab
/// faults` runs it: a library that crashes or exits at some point is that
/// point's finding, and the sweep goes on from the next one.
fn sweep(s: &Scenario, variant: Variant, backend: BackendChoice) -> SweepReport {
    #[cfg(feature = "mariadb")]
    if s.library == "mariadb" {
        // The lab's own server, handed to the children.
        leaklab_lab::mariadb::server::socket().expect("the lab's MariaDB server");
    }
    run_isolated_with(
        Path::new(env!("CARGO_BIN_EXE_leaklab-lab")),
        s.id,
        variant,
        backend,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", s.id))
}

/// Every registered scenario with a C library.
fn connector_scenarios() -> Vec<&'static Scenario> {
    let found: Vec<_> = scenarios::all()
        .iter()
        .copied()
        .filter(|s| s.library != "none")
        .collect();
    assert!(!found.is_empty(), "no connector scenario registered");
    found
}

/// A point where the library crashed or exited must say where: the failed
/// allocation's stack (the call that did not check it) and how it ended.
fn library_failures_are_reported(r: &SweepReport, failures: &mut Vec<String>) {
    for p in r.library_failures() {
        let crash = p.crash.as_ref().expect("a library failure has its crash");
        let reported = p.fired
            && !crash.failed_allocation.is_empty()
            && (crash.signal.is_some() || crash.exit_code.is_some() || crash.timed_out);
        if !reported {
            failures.push(format!("{}: point {} not reported: {p:?}", summary(r), p.n));
        }
    }
}

fn summary(r: &SweepReport) -> String {
    format!(
        "{:<20} {:<5} {:<4} points {:>4}  injected {:>4}  errors {:>4}  panics {:>3}  leaks {:>3} (raw {:>3})  crashes {} exits {}",
        r.scenario,
        r.variant,
        r.backend,
        r.points_tried,
        r.failures_injected,
        r.errors_returned,
        r.panics,
        r.leaks_found,
        r.raw_leak_points,
        r.crashes,
        r.exits
    )
}

fn print(r: &SweepReport) {
    if std::env::var_os("LEAKLAB_FAULTS_PRINT").is_some() {
        eprintln!("{}", summary(r));
        for p in r.leaking_points() {
            eprintln!("    {p:?}");
        }
    }
}

/// The backends the safe variant is declared clean on: its default one
/// always, and the C one (where the error paths are) unless it declares a
/// leak there. c-extension-bug's safe variant on the C backend keeps the C
/// library's own declared bug (float temporaries; the fix is the pure
/// backend), so its error paths leak part of that declared amount.
fn safe_backends(s: &Scenario) -> Vec<BackendChoice> {
    let default = s.default_backend(Variant::Safe);
    [BackendChoice::C, BackendChoice::Pure]
        .into_iter()
        .filter(|&b| s.supports(Variant::Safe, b))
        .filter(|&b| b == default || !(s.expected)(Variant::Safe, b).is_leak())
        .collect()
}

#[test]
fn safe_variants_release_everything_on_every_error_path() {
    let mut failures = Vec::new();
    for scenario in connector_scenarios() {
        for backend in safe_backends(scenario) {
            let report = sweep(scenario, Variant::Safe, backend);
            print(&report);
            if backend == BackendChoice::C && report.failures_injected == 0 {
                failures.push(format!(
                    "{}: no C allocation was ever failed",
                    summary(&report)
                ));
            }
            library_failures_are_reported(&report, &mut failures);
            // A library that crashes on a failed allocation also keeps
            // memory on neighbouring error paths after the binding released
            // all it owns (libmariadb: see mariadb_findings below); its
            // sweep is held to reaching its end with no panic.
            let library_mishandles = report.library_failures().next().is_some();
            let clean = if library_mishandles {
                report.complete && report.panics == 0 && report.crash.is_none()
            } else {
                report.is_clean()
            };
            if !clean {
                let first = report
                    .points
                    .iter()
                    .find(|p| p.leaks() || p.outcome == Outcome::Panic);
                failures.push(format!(
                    "{}\n    first bad point: {first:?}",
                    summary(&report)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "safe sweeps that failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn leaky_variants_have_leaking_error_paths() {
    let mut leaking = 0;
    let mut failures = Vec::new();
    for scenario in connector_scenarios() {
        let report = sweep(scenario, Variant::Leaky, BackendChoice::C);
        print(&report);
        assert!(
            report.complete,
            "{}: sweep did not reach its last point",
            summary(&report)
        );
        library_failures_are_reported(&report, &mut failures);
        leaking += report.leaks_found;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        leaking > 0,
        "no leaky error path leaked beyond its normal leak"
    );
}

/// libmariadb 3.3 dereferences a failed allocation inside
/// mysql_real_connect: the sweep lists the crash at its point, with the
/// binding's call that led there, and still reaches its last point.
#[cfg(feature = "mariadb")]
#[test]
fn mariadb_findings() {
    let s = scenarios::find("mariadb-unfreed-result").expect("registered");
    let report = sweep(s, Variant::Safe, BackendChoice::C);
    print(&report);
    assert!(report.complete, "{}", summary(&report));
    assert!(report.failures_injected > 0, "{}", summary(&report));
    let crash = report
        .library_failures()
        .find(|p| {
            let c = p.crash.as_ref().expect("crash");
            c.signal == Some(libc::SIGSEGV)
                && c.failed_allocation
                    .iter()
                    .any(|f| f.function.contains("libmariadb"))
                && c.failed_allocation
                    .iter()
                    .any(|f| f.function.ends_with("mariadb::safe::Connection::connect"))
        })
        .unwrap_or_else(|| panic!("no crash inside mysql_real_connect: {report:?}"));
    assert!(crash.n > 1, "{crash:?}");
}

#[test]
fn a_scenario_without_c_allocations_ends_at_the_first_point() {
    {
        let scenario = scenarios::all()
            .iter()
            .copied()
            .find(|s| {
                s.library == "none" && !(s.expected)(Variant::Safe, BackendChoice::C).is_unbounded()
            })
            .expect("a bounded scenario outside the connector");
        let report = sweep(scenario, Variant::Safe, BackendChoice::C);
        print(&report);
        assert_eq!(report.points_tried, 1);
        assert_eq!(report.failures_injected, 0);
        assert!(report.complete);
    }
}
