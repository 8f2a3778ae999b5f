//! Allocation stacks in the lab's human output: `run` (counters),
//! `run --detector valgrind` and `faults` name where leaked blocks came
//! from, and `run --json` carries the sites with the lost/reachable split.

mod common;

use common::{leaklab, leaklab_json};

fn stdout(args: &[&str]) -> String {
    let out = leaklab(args);
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn run_names_the_leaking_frames_of_a_leaky_variant_and_none_for_a_clean_one() {
    let text = stdout(&["run", "unfreed-result", "--iterations", "20"]);
    assert!(
        text.contains("unfreed-result leaky: allocation stacks of what 2 more iterations kept"),
        "{text}"
    );
    assert!(
        text.contains("C: 2 blocks / 96 B, lost, allocated at:"),
        "{text}"
    );
    assert!(
        text.contains(
            "leaklab_lab::connector::leaky::LeakyConnection::store (src/connector/leaky.rs:"
        ),
        "{text}"
    );
    assert!(
        !text.contains("unfreed-result safe: allocation stacks"),
        "{text}"
    );
}

#[test]
fn run_json_carries_the_sites_and_tells_a_reachable_cache_from_a_lost_cycle() {
    let sites = |scenario: &str| {
        let record = leaklab_json(&[
            "run",
            scenario,
            "--variant",
            "leaky",
            "--iterations",
            "20",
            "--json",
        ]);
        record["sites"].as_array().cloned().unwrap_or_default()
    };
    let cache = sites("growing-cache");
    assert!(!cache.is_empty());
    assert!(
        cache
            .iter()
            .all(|s| s["lost_blocks"] == 0 && s["blocks"].as_u64() > Some(0)),
        "{cache:?}"
    );
    let cycle = sites("rc-cycle");
    assert!(!cycle.is_empty());
    assert!(
        cycle.iter().all(|s| s["lost_blocks"] == s["blocks"]),
        "{cycle:?}"
    );
    assert_eq!(cycle[0]["side"], "Rust");
}

#[test]
fn faults_shows_the_stack_of_a_leaking_error_path() {
    let text = stdout(&["faults", "unfreed-result", "--variant", "leaky"]);
    assert!(
        text.contains("kept beyond the normal leak C 1 blk / 664 B"),
        "{text}"
    );
    assert!(
        text.contains("lc_init (csrc/connector/connector.c:"),
        "{text}"
    );
    assert!(
        text.contains(
            "leaklab_lab::connector::leaky::LeakyConnection::connect (src/connector/leaky.rs:"
        ),
        "{text}"
    );
}

#[test]
fn valgrind_output_shows_the_biggest_loss_records_with_their_stacks() {
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "valgrind is missing in CI"
        );
        eprintln!("SKIPPED: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    let text = stdout(&[
        "run",
        "unfreed-result",
        "--variant",
        "leaky",
        "--iterations",
        "5",
        "--detector",
        "valgrind",
    ]);
    assert!(
        text.contains("C: 5 blocks / 240 B definitely lost, allocated at:"),
        "{text}"
    );
    assert!(
        text.contains("lc_result_metadata (csrc/connector/result.c:"),
        "{text}"
    );
}
