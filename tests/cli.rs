//! The command line as a user meets it: list, explain, matrix, and bad input
//! answered with one line and exit code 2.

mod common;

use common::{leaklab, leaklab_json};

fn one_line_error(args: &[&str]) -> String {
    let out = leaklab(args);
    assert_eq!(out.status.code(), Some(2), "leaklab {args:?} should exit 2");
    assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line for {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    let err = one_line_error(&["run", "no-such-leak"]);
    assert!(err.contains("unknown scenario 'no-such-leak'"), "{err}");
    for id in leaklab::scenarios::ids() {
        assert!(err.contains(id), "{id} missing from: {err}");
    }
    one_line_error(&["explain", "no-such-leak"]);
}

#[test]
fn bad_flags_and_numbers_exit_2_with_one_line() {
    one_line_error(&["run", "rc-cycle", "--frobnicate"]);
    one_line_error(&["run", "rc-cycle", "--iterations", "many"]);
    one_line_error(&["run", "rc-cycle", "--iterations", "0"]);
    one_line_error(&["run", "rc-cycle", "--iterations", "-5"]);
    one_line_error(&["run", "rc-cycle", "--variant", "sometimes"]);
    one_line_error(&["run", "rc-cycle", "--mem-cap", "lots"]);
    one_line_error(&["matrix", "--iterations", "99999999999999999999999"]);
    one_line_error(&["no-such-command"]);
    let err = one_line_error(&["run", "early-return", "--backend", "pure"]);
    assert!(err.contains("no safe variant on the pure backend"), "{err}");
}

#[test]
fn help_is_not_an_error() {
    let out = leaklab(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("matrix"));
}

#[test]
fn list_json_has_every_scenario_with_both_variants() {
    let list = leaklab_json(&["list", "--json"]);
    let list = list.as_array().unwrap();
    assert!(list.len() >= 14, "{} scenarios", list.len());
    assert_eq!(list.len(), leaklab::scenarios::all().len());
    for s in list {
        assert_eq!(s["variants"], serde_json::json!(["leaky", "safe"]), "{s}");
        for key in [
            "id",
            "title",
            "origin",
            "pattern",
            "fix",
            "expected_per_iteration",
        ] {
            assert!(!s[key].is_null(), "{key} missing in {s}");
        }
    }
    for source in [
        "python-leak-1",
        "python-leak-2",
        "python-leak-3",
        "rust-binding",
    ] {
        assert!(
            list.iter().any(|s| s["origin"]["source"] == source),
            "no scenario from {source}"
        );
    }
}

#[test]
fn explain_marks_the_lines_that_differ() {
    let out = leaklab(&["explain", "rc-cycle"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Origin (python-leak-2)"), "{text}");
    assert!(
        text.contains("Fix: make the back reference a Weak"),
        "{text}"
    );
    let removed: Vec<&str> = text.lines().filter(|l| l.starts_with("- ")).collect();
    let added: Vec<&str> = text.lines().filter(|l| l.starts_with("+ ")).collect();
    assert!(
        removed
            .iter()
            .any(|l| l.contains("Friend::Strong(Rc::clone(&alice))")),
        "{text}"
    );
    assert!(
        added
            .iter()
            .any(|l| l.contains("Friend::Weak(Rc::downgrade(&alice))")),
        "{text}"
    );
}

#[test]
fn matrix_matches_every_declared_cell() {
    let out = leaklab(&["matrix", "--iterations", "50", "--mem-cap", "256M"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = leaklab_json(&[
        "matrix",
        "--iterations",
        "50",
        "--mem-cap",
        "256M",
        "--json",
    ]);
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2 * leaklab::scenarios::all().len());
    assert!(records.iter().all(|r| r["matches_expected"] == true));
    assert!(
        records
            .iter()
            .filter(|r| r["variant"] == "safe")
            .all(|r| r["verdict"] == "clean")
    );
}

#[test]
fn detector_matrix_with_growth_and_an_html_report() {
    let html = std::env::temp_dir().join(format!("leaklab-test-{}.html", std::process::id()));
    let html_arg = html.display().to_string();
    let rows = leaklab_json(&[
        "matrix",
        "--detectors",
        "counters,growth",
        "--growth-iterations",
        "2000",
        "--html",
        &html_arg,
        "--json",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2 * leaklab::scenarios::all().len());
    for row in rows {
        for detector in ["counters", "growth"] {
            let cell = &row["detectors"][detector];
            assert_eq!(cell["matches"], true, "{detector}: {row}");
        }
    }
    let page = std::fs::read_to_string(&html).unwrap();
    std::fs::remove_file(&html).unwrap();
    assert!(
        page.contains("<svg"),
        "the page carries its growth plots inline"
    );
    assert!(page.contains("rc-cycle"));
}

#[test]
fn growth_plot_is_written() {
    let svg = std::env::temp_dir().join(format!("leaklab-test-{}.svg", std::process::id()));
    let svg_arg = svg.display().to_string();
    let out = leaklab(&[
        "run",
        "cstring-into-raw",
        "--detector",
        "growth",
        "--iterations",
        "2000",
        "--plot",
        &svg_arg,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cstring-into-raw leaky [growth]: leak"),
        "{text}"
    );
    assert!(
        text.contains("cstring-into-raw safe [growth]: clean"),
        "{text}"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(picture.starts_with("<svg") || picture.contains("<svg"));
}

/// Runs `leaklab args` with its stdout a pipe whose reader is gone.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the leaklab binary runs")
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_commands_own_code() {
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["explain", "rc-cycle"],
        &["--help"],
    ] {
        let out = with_closed_stdout(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "leaklab {args:?}: {stderr}");
        assert!(stderr.is_empty(), "leaklab {args:?}: {stderr}");
    }
    // The exit code is still the command's own: bad input stays 2.
    let out = with_closed_stdout(&["run", "rc-cycle", "--iterations", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = with_closed_stdout(&["run", "rc-cycle", "--variant", "safe", "--iterations", "3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_full_stdout_is_one_line_and_exit_3() {
    use std::process::{Command, Stdio};
    for args in [&["list"][..], &["explain", "rc-cycle"], &["--help"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let out = Command::new(env!("CARGO_BIN_EXE_leaklab"))
            .args(args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .expect("the leaklab binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "leaklab {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{stderr}"
        );
    }
}

#[test]
fn bare_leaklab_prints_the_usage() {
    let out = leaklab(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: leaklab <COMMAND>"), "{stderr}");
    for command in ["list", "explain", "run", "matrix", "faults"] {
        assert!(stderr.contains(command), "{command} missing: {stderr}");
    }
}

#[test]
fn a_missing_scenario_is_named() {
    for command in ["run", "explain", "faults"] {
        let err = one_line_error(&[command]);
        assert!(err.contains("<SCENARIO>"), "leaklab {command}: {err}");
    }
}
