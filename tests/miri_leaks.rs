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

use leaklab_lab::scenarios::{self, BackendChoice, Variant};

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

/// The other scenarios the model can run, each as a leaky case (ignored:
/// it leaks on purpose; `leaklab matrix --detectors miri` runs it alone) and
/// its safe twin (an ordinary test, run by scripts/miri.sh's clean suite).
macro_rules! cases {
    ($($leaky:ident, $safe:ident => $id:literal;)*) => {$(
        #[test]
        #[ignore = "leaks on purpose: run alone under Miri, which must report it"]
        fn $leaky() {
            run_once($id, Variant::Leaky);
        }

        #[test]
        fn $safe() {
            run_once($id, Variant::Safe);
        }
    )*};
}

cases! {
    unfreed_c_string_leaky, unfreed_c_string_safe => "unfreed-c-string";
    early_return_leaky, early_return_safe => "early-return";
    panic_unwind_leaky, panic_unwind_safe => "panic-unwind";
    callback_box_leaky, callback_box_safe => "callback-box";
    forget_owner_leaky, forget_owner_safe => "forget-owner";
    prepared_statement_leaky, prepared_statement_safe => "prepared-statement";
    statement_refcount_leaky, statement_refcount_safe => "statement-refcount";
    escape_buffer_leaky, escape_buffer_safe => "escape-buffer";
    ffi_cycle_leaky, ffi_cycle_safe => "ffi-cycle";
    growing_cache_leaky, growing_cache_safe => "growing-cache";
    sized_leak_leaky, sized_leak_safe => "sized-leak";
}

/// unbounded-int's safe variant refuses the power before allocating it; its
/// leaky variant has no case: it grows until memory runs out.
#[test]
fn unbounded_int_safe() {
    run_once("unbounded-int", Variant::Safe);
}
