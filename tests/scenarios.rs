//! Every scenario through the real CLI and its child-process isolation:
//! each leaky variant leaks exactly its declared blocks and bytes per
//! iteration, on the declared side only, and each safe variant is clean on
//! both sides over 1000 iterations.

mod common;
mod in_child;

use common::{int, leaklab, leaklab_json};
use leaklab_lab::scenarios::{self, BackendChoice, Expected, Scenario, SideExpectation, Variant};
use serde_json::Value;

const ITERATIONS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    C,
    Rust,
    Both,
}

impl Side {
    /// The side a declared leak is on, from the registry's `expected`.
    fn declared(declared: &Expected) -> Option<Side> {
        let leaks = |side: &SideExpectation| side.per_iteration().is_some_and(|l| l.bytes > 0);
        match (leaks(&declared.c), leaks(&declared.rust)) {
            (true, true) => Some(Side::Both),
            (true, false) => Some(Side::C),
            (false, true) => Some(Side::Rust),
            (false, false) => None,
        }
    }
}

fn run_both(id: &str) -> (Value, Value) {
    let n = ITERATIONS.to_string();
    let records = leaklab_json(&["run", id, "--variant", "both", "--iterations", &n, "--json"]);
    let records = records.as_array().expect("an array for --variant both");
    assert_eq!(records.len(), 2, "{id}: one record per variant");
    (records[0].clone(), records[1].clone())
}

/// The side's leak in the record equals N times the declared per-iteration leak.
fn assert_side(id: &str, record: &Value, side: &str, declared: &SideExpectation) {
    let per = declared.per_iteration().expect("bounded");
    let blocks = int(record, &["leaked", side, "blocks"]);
    let bytes = int(record, &["leaked", side, "bytes"]);
    assert_eq!(
        blocks,
        per.blocks * ITERATIONS,
        "{id} {side} blocks: {record}"
    );
    assert_eq!(bytes, per.bytes * ITERATIONS, "{id} {side} bytes: {record}");
}

fn check(scenario: &Scenario) {
    let id = scenario.id;
    let declared = (scenario.expected)(Variant::Leaky, BackendChoice::C);
    let side = Side::declared(&declared)
        .unwrap_or_else(|| panic!("{id}: the leaky variant declares no leak"));
    let (leaky, safe) = run_both(id);

    assert_eq!(leaky["variant"], "leaky");
    assert_eq!(leaky["verdict"], "leak", "{id}: {leaky}");
    assert_eq!(leaky["iterations"], ITERATIONS);
    assert_side(id, &leaky, "c", &declared.c);
    assert_side(id, &leaky, "rust", &declared.rust);
    let c_leaks = int(&leaky, &["leaked", "c", "bytes"]) > 0;
    let rust_leaks = int(&leaky, &["leaked", "rust", "bytes"]) > 0;
    let observed_side = match (c_leaks, rust_leaks) {
        (true, true) => Side::Both,
        (true, false) => Side::C,
        (false, true) => Side::Rust,
        (false, false) => panic!("{id}: leaky variant leaked nothing: {leaky}"),
    };
    assert_eq!(observed_side, side, "{id} leaks on the wrong side: {leaky}");
    let per_c = leaky["per_iteration"]["c_bytes"].as_f64().unwrap();
    assert_eq!(
        per_c,
        int(&leaky, &["leaked", "c", "bytes"]) as f64 / ITERATIONS as f64
    );

    assert_eq!(safe["variant"], "safe");
    assert_eq!(safe["verdict"], "clean", "{id}: {safe}");
    for side in ["c", "rust"] {
        assert_eq!(
            int(&safe, &["leaked", side, "blocks"]),
            0,
            "{id} safe {side}"
        );
        assert_eq!(
            int(&safe, &["leaked", side, "bytes"]),
            0,
            "{id} safe {side}"
        );
    }
    assert_eq!(safe["per_iteration"]["c_bytes"], 0.0);
    assert_eq!(safe["per_iteration"]["rust_bytes"], 0.0);
}

/// The scenarios checked here: every registered one with a bounded leak,
/// or only `LEAKLAB_SCENARIO`'s (an id) when set. The MariaDB scenarios
/// (the `mariadb` feature) have their own file, tests/mariadb.rs, with the
/// server they need.
fn bounded_scenarios() -> Vec<&'static Scenario> {
    let only = std::env::var("LEAKLAB_SCENARIO").ok();
    let chosen: Vec<_> = scenarios::all()
        .iter()
        .copied()
        .filter(|s| s.library != "mariadb")
        .filter(|s| !(s.expected)(Variant::Leaky, BackendChoice::C).is_unbounded())
        .filter(|s| only.as_deref().is_none_or(|id| id == s.id))
        .collect();
    assert!(
        !chosen.is_empty(),
        "no scenario to check (LEAKLAB_SCENARIO={only:?})"
    );
    chosen
}

/// Every bounded scenario of the registry, each leaky variant leaking
/// exactly its declared amount on its declared side and each safe variant
/// clean: a new scenario is checked here with no edit. The scenarios run
/// on a few threads (each through the CLI's own child processes), and
/// every failure is reported with its scenario's id.
#[test]
fn every_bounded_scenario_leaks_exactly_what_it_declares() {
    // A scenario's expectation may be a footprint measured in this
    // process from the C counters (ffi-cycle, sqlite, zlib): under
    // valgrind, where they are not live, this runs natively in a child.
    in_child::with_c_counters(
        "every_bounded_scenario_leaks_exactly_what_it_declares",
        || {
            let queue = std::sync::Mutex::new(bounded_scenarios());
            let failures = std::sync::Mutex::new(Vec::new());
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| {
                        while let Some(scenario) = queue.lock().unwrap().pop() {
                            let outcome =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    check(scenario)
                                }));
                            if let Err(panic) = outcome {
                                let message = panic
                                    .downcast_ref::<String>()
                                    .map(String::as_str)
                                    .or_else(|| panic.downcast_ref::<&str>().copied())
                                    .unwrap_or("(no message)")
                                    .to_owned();
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("{}: {message}", scenario.id));
                            }
                        }
                    });
                }
            });
            let failures = failures.into_inner().unwrap();
            assert!(
                failures.is_empty(),
                "{} scenario(s) failed (rerun one with LEAKLAB_SCENARIO=<id>):\n{}",
                failures.len(),
                failures.join("\n")
            );
        },
    );
}

/// zlib's deflate memory for windowBits 15, memLevel 8, from zconf.h's
/// formula, stated here: (1 << 17) + (1 << 17) in the window, hash chains,
/// hash heads and pending buffer, plus one private deflate_state, which on
/// a 64-bit build is a few KiB (its size is private: bounded, not stated).
#[test]
fn zlib_keeps_its_documented_deflate_memory_per_iteration() {
    let (leaky, _) = run_both("zlib-deflate-stream");
    assert_eq!(int(&leaky, &["leaked", "c", "blocks"]), 5 * ITERATIONS);
    let state = int(&leaky, &["leaked", "c", "bytes"]) / ITERATIONS - ((1 << 17) + (1 << 17));
    assert!((4096..8192).contains(&state), "deflate_state of {state} B");
    assert_eq!(int(&leaky, &["leaked", "c", "bytes"]) % ITERATIONS, 0);
}

/// libxml2's tree of `<person>alice</person>` from its public structs: the
/// document, two nodes, and "1.0", "person", "alice" with their NULs.
#[test]
fn libxml2_keeps_the_tree_per_iteration() {
    use leaklab_lab::sys::libxml2::{xmlDoc, xmlNode};
    let (leaky, _) = run_both("libxml2-document");
    let tree = std::mem::size_of::<xmlDoc>() + 2 * std::mem::size_of::<xmlNode>() + 4 + 7 + 6;
    assert_eq!(int(&leaky, &["leaked", "c", "blocks"]), 6 * ITERATIONS);
    assert_eq!(
        int(&leaky, &["leaked", "c", "bytes"]),
        tree as i64 * ITERATIONS
    );
}

/// Sizes stated from the C header and the query, not from the registry.
#[test]
fn failed_connect_leaks_one_handle_per_iteration() {
    let (leaky, _) = run_both("failed-connect");
    assert_eq!(int(&leaky, &["leaked", "c", "blocks"]), ITERATIONS);
    assert_eq!(
        int(&leaky, &["leaked", "c", "bytes"]),
        std::mem::size_of::<leaklab_lab::sys::LC>() as i64 * ITERATIONS
    );
}

#[test]
fn c_extension_bug_is_fixed_by_the_pure_backend_not_by_the_safe_wrapper() {
    let n = ITERATIONS.to_string();
    let on_c = leaklab_json(&[
        "run",
        "c-extension-bug",
        "--variant",
        "safe",
        "--backend",
        "c",
        "--iterations",
        &n,
        "--json",
    ]);
    let doubles_per_scan =
        leaklab_lab::scenarios::footprint::data_of("SELECT name, score FROM people")
            .rows
            .len() as i64;
    assert_eq!(on_c["verdict"], "leak", "{on_c}");
    assert_eq!(
        int(&on_c, &["leaked", "c", "blocks"]),
        doubles_per_scan * ITERATIONS
    );
    assert_eq!(
        int(&on_c, &["leaked", "c", "bytes"]),
        doubles_per_scan * leaklab_lab::sys::LC_DOUBLE_BUF_SIZE as i64 * ITERATIONS
    );
    let on_pure = leaklab_json(&[
        "run",
        "c-extension-bug",
        "--variant",
        "safe",
        "--backend",
        "pure",
        "--iterations",
        &n,
        "--json",
    ]);
    assert_eq!(on_pure["backend"], "pure");
    assert_eq!(on_pure["verdict"], "clean", "{on_pure}");
}

#[test]
fn unbounded_int_hits_the_memory_cap_and_the_safe_variant_refuses() {
    let records = leaklab_json(&[
        "run",
        "unbounded-int",
        "--iterations",
        "5",
        "--mem-cap",
        "256M",
        "--json",
    ]);
    let leaky = &records[0];
    assert_eq!(leaky["ending"]["kind"], "hit-cap", "{leaky}");
    assert_eq!(int(leaky, &["ending", "cap_bytes"]), 256 << 20);
    assert_eq!(leaky["completed"], 0);
    assert!(leaky["ending"]["failed_allocation_bytes"].as_i64().unwrap() > 0);
    assert_eq!(leaky["matches_expected"], true);
    assert_eq!(records[1]["verdict"], "clean", "{}", records[1]);
}

#[test]
fn rc_cycle_prints_drop_messages_only_when_fixed() {
    let out = leaklab(&[
        "run",
        "rc-cycle",
        "--variant",
        "safe",
        "--iterations",
        "3",
        "--json",
    ]);
    let printed = String::from_utf8_lossy(&out.stderr);
    let drops: Vec<&str> = printed
        .lines()
        .filter(|l| l.ends_with("is being dropped"))
        .collect();
    // One priming iteration runs before the 3 measured ones (see run::measure).
    let expected: Vec<&str> = ["Alice is being dropped", "Bob is being dropped"].repeat(1 + 3);
    assert_eq!(
        drops, expected,
        "the safe variant drops Alice, then Bob, at the end of every iteration"
    );
    let out = leaklab(&[
        "run",
        "rc-cycle",
        "--variant",
        "leaky",
        "--iterations",
        "3",
        "--json",
    ]);
    let printed = String::from_utf8_lossy(&out.stderr);
    assert!(
        !printed.contains("is being dropped"),
        "the leaky variant never drops anyone, not even at exit: {printed}"
    );
}
