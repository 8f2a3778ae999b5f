//! Leaks that Miri must catch, each beside its safe twin, run through the
//! scenario registry so Miri checks the very code the lab measures.
//!
//! Miri reports leaks only when the process ends, as an error that fails
//! the whole run, so each leaky test is `#[ignore]`d and run alone, in its
//! own Miri process, by scripts/miri.sh, which expects that process to
//! fail with "memory leaked" and the allocation site of that leak. The safe
//! twins are ordinary tests: they must pass under Miri with no leak (and
//! natively, against the C library).
//!
//! Each workload runs one iteration: one leaked object is enough for Miri,
//! and Miri is slow.

use leaklab::scenarios::{self, BackendChoice, Variant};

/// Runs one iteration of scenario `id`'s `variant` on its default backend,
/// then tears the workload down (so only the leak itself is left).
fn run_once(id: &str, variant: Variant) {
    let scenario = scenarios::find(id).unwrap_or_else(|| panic!("no scenario {id}"));
    let backend: BackendChoice = scenario.default_backend(variant);
    let mut iteration = (scenario.setup(variant))(backend).expect("setup");
    iteration().expect("iteration");
}

#[test]
#[ignore = "leaks on purpose: scripts/miri.sh runs it alone under Miri and expects a leak"]
fn rc_cycle_leaky() {
    run_once("rc-cycle", Variant::Leaky);
}

#[test]
fn rc_cycle_safe() {
    run_once("rc-cycle", Variant::Safe);
}

#[test]
#[ignore = "leaks on purpose: scripts/miri.sh runs it alone under Miri and expects a leak"]
fn unfreed_result_leaky() {
    run_once("unfreed-result", Variant::Leaky);
}

#[test]
fn unfreed_result_safe() {
    run_once("unfreed-result", Variant::Safe);
}

#[test]
#[ignore = "leaks on purpose: scripts/miri.sh runs it alone under Miri and expects a leak"]
fn cstring_into_raw_leaky() {
    run_once("cstring-into-raw", Variant::Leaky);
}

#[test]
fn cstring_into_raw_safe() {
    run_once("cstring-into-raw", Variant::Safe);
}

#[test]
#[ignore = "leaks on purpose: scripts/miri.sh runs it alone under Miri and expects a leak"]
fn failed_connect_leaky() {
    run_once("failed-connect", Variant::Leaky);
}

#[test]
fn failed_connect_safe() {
    run_once("failed-connect", Variant::Safe);
}

#[test]
#[ignore = "leaks on purpose: scripts/miri.sh runs it alone under Miri and expects a leak"]
fn c_extension_bug_leaky() {
    run_once("c-extension-bug", Variant::Leaky);
}

#[test]
fn c_extension_bug_safe() {
    run_once("c-extension-bug", Variant::Safe);
}
