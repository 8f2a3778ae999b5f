//! `leaklab faults` through the real binary, over every scenario with a C library:
//! each sweep runs in its own child process, so a crash would show.

mod common;

use common::{leaklab, leaklab_json};
use leaklab_lab::scenarios::{self, BackendChoice, Variant};

#[test]
fn safe_variants_survive_every_failed_allocation_and_leaky_ones_leak_on_some() {
    let mut leaky_leaking_points = 0;
    // Not the MariaDB scenarios: libmariadb itself crashes on a failed
    // allocation inside mysql_real_connect (tests/faults.rs says where).
    for s in scenarios::all()
        .iter()
        .filter(|s| s.library != "none" && s.library != "mariadb")
    {
        // The safe variant on the C backend, where its leak is declared clean.
        let safe_clean =
            (s.expected)(Variant::Safe, BackendChoice::C) == scenarios::Expected::CLEAN;
        let reports = leaklab_json(&[
            "faults",
            s.id,
            "--variant",
            "both",
            "--backend",
            "c",
            "--json",
        ]);
        let [leaky, safe] = [&reports[0], &reports[1]];
        assert_eq!(leaky["crashes"], 0, "{}: {leaky}", s.id);
        assert_eq!(safe["crashes"], 0, "{}: {safe}", s.id);
        assert_eq!(safe["panics"], 0, "{}: {safe}", s.id);
        assert_eq!(safe["complete"], true, "{}", s.id);
        assert!(
            safe["failures_injected"].as_u64().unwrap() > 0,
            "{}: nothing injected",
            s.id
        );
        if safe_clean {
            assert_eq!(safe["leaks_found"], 0, "{}: {safe}", s.id);
            assert_eq!(safe["raw_leak_points"], 0, "{}: {safe}", s.id);
        }
        leaky_leaking_points += leaky["leaks_found"].as_u64().unwrap();
    }
    assert!(leaky_leaking_points > 0, "no leaky error path leaked");
}

#[test]
fn faults_exit_code_and_table() {
    let out = leaklab(&["faults", "unfreed-result"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("leaking points"), "{text}");
    assert!(text.contains("error paths that leak"), "{text}");
}
