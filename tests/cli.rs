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
    for id in leaklab_lab::scenarios::ids() {
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
    assert_eq!(list.len(), leaklab_lab::scenarios::all().len());
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
fn explain_shows_every_scenarios_mistake_and_fix() {
    for s in leaklab_lab::scenarios::all() {
        assert!(
            !s.code.leaky.is_empty() && !s.code.safe.is_empty(),
            "{} names no leaky or no safe code",
            s.id
        );
        let out = leaklab(&["explain", s.id]);
        assert_eq!(out.status.code(), Some(0), "explain {}", s.id);
        let text = String::from_utf8(out.stdout).unwrap();
        for (what, items) in [("mistake", s.code.leaky), ("fix", s.code.safe)] {
            for item in items {
                let (path, code) = item.resolve(&s.file()).unwrap();
                if item.is_workload() {
                    // Shown as the workloads' diff, each line marked.
                    for line in code.lines().filter(|l| !l.is_empty()) {
                        let marked = ["  ", "- ", "+ "].map(|m| format!("{m}{line}\n"));
                        assert!(
                            marked.iter().any(|m| text.contains(m.as_str())),
                            "{}: no {line:?} in\n{text}",
                            s.id
                        );
                    }
                    continue;
                }
                let shown = format!("The {what} ({path}):\n\n{code}");
                assert!(text.contains(&shown), "{}: no {shown}\nin\n{text}", s.id);
            }
        }
    }
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
    assert_eq!(records.len(), 2 * leaklab_lab::scenarios::all().len());
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
    assert_eq!(rows.len(), 2 * leaklab_lab::scenarios::all().len());
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
    Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
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
        let out = Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
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
fn bare_leaklab_lab_prints_the_usage() {
    let out = leaklab(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: leaklab-lab <COMMAND>"), "{stderr}");
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

/// Runs `leaklab args` with `env` added to its environment.
fn leaklab_env(env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_leaklab-lab"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the leaklab binary runs")
}

/// One line on stderr, nothing on stdout, exit 2.
fn one_line_error_env(env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> String {
    let out = leaklab_env(env, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{env:?} {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{env:?} {args:?}");
    assert_eq!(stderr.lines().count(), 1, "{env:?} {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_bad_leak_size_is_refused_before_any_child_starts() {
    use std::os::unix::ffi::OsStrExt;
    let bad: [&std::ffi::OsStr; 6] = [
        "garbage".as_ref(),
        "".as_ref(),
        "-64".as_ref(),
        "1.5".as_ref(),
        std::ffi::OsStr::from_bytes(b"6\xff4"),
        "18446744073709551615".as_ref(),
    ];
    for value in bad {
        let env = [("LEAKLAB_LEAK_BYTES", value)];
        // A child that started would be "wrote no record": /bin/true is
        // never reached if the parent refuses first.
        let exe = ("LEAKLAB_EXE", "/bin/true".as_ref());
        for args in [
            &["run", "sized-leak", "--iterations", "2"][..],
            &["faults", "sized-leak"],
            &["matrix", "--iterations", "1"],
        ] {
            let err = one_line_error_env(&[env[0], exe], args);
            assert!(
                err.contains("LEAKLAB_LEAK_BYTES"),
                "{value:?} {args:?}: {err}"
            );
        }
    }
    let huge = [("LEAKLAB_LEAK_BYTES", "18446744073709551615".as_ref())];
    let err = one_line_error_env(&huge, &["run", "sized-leak"]);
    assert!(err.contains("larger than any allocation"), "{err}");
    assert!(!err.contains("capacity overflow"), "{err}");
}

#[test]
fn a_run_stopped_by_the_cap_with_nothing_kept_is_not_a_leak() {
    let env = [("LEAKLAB_LEAK_BYTES", "1073741824".as_ref())];
    let out = leaklab_env(
        &env,
        &[
            "run",
            "sized-leak",
            "--variant",
            "safe",
            "--iterations",
            "3",
            "--json",
        ],
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON record");
    assert_eq!(record["ending"]["kind"], "hit-cap", "{record}");
    assert_eq!(record["verdict"], "hit-cap", "{record}");
    assert_eq!(record["matches_expected"], false, "{record}");
    assert_eq!(out.status.code(), Some(1));
    // A leak that grows until the cap is still a leak: growing-cache keeps
    // 64 B per iteration until 80 MiB run out, and the samples (every
    // 100000 iterations) show the heap growing before that.
    let record = common::leaklab_json(&[
        "run",
        "growing-cache",
        "--variant",
        "leaky",
        "--iterations",
        "2000000",
        "--mem-cap",
        "80M",
        "--json",
    ]);
    assert_eq!(record["ending"]["kind"], "hit-cap", "{record}");
    assert_eq!(record["verdict"], "leak", "{record}");
}

#[test]
fn a_memory_cap_too_small_for_a_child_is_refused() {
    for cap in ["1", "1K", "1M", "63M"] {
        let err = one_line_error(&["run", "rc-cycle", "--mem-cap", cap]);
        assert!(err.contains("at least 64M"), "{cap}: {err}");
        one_line_error(&["matrix", "--mem-cap", cap]);
    }
    let out = leaklab(&["run", "rc-cycle", "--mem-cap", "64M", "--iterations", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn faults_with_nothing_to_inject_says_so() {
    for args in [
        &["faults", "rc-cycle"][..],
        &["faults", "rc-cycle", "--json"],
        &[
            "faults",
            "c-extension-bug",
            "--variant",
            "safe",
            "--backend",
            "pure",
        ],
    ] {
        let err = one_line_error(args);
        assert!(err.contains("nothing to inject"), "{args:?}: {err}");
    }
    // One variant with C allocations: the sweep runs, the other is noted.
    let out = leaklab(&["faults", "c-extension-bug", "--backend", "pure"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("c-extension-bug safe on pure: no C allocation, nothing injected"),
        "{text}"
    );
}

#[test]
fn a_child_that_writes_no_record_is_not_a_crash() {
    let env = [("LEAKLAB_EXE", "/bin/true".as_ref())];
    let out = leaklab_env(&env, &["run", "rc-cycle", "--iterations", "2", "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON records");
    for record in records.as_array().expect("both variants") {
        assert_eq!(record["ending"]["kind"], "no-record", "{record}");
        assert_eq!(record["verdict"], "error", "{record}");
    }
    assert_eq!(out.status.code(), Some(1));
    let out = leaklab_env(&env, &["run", "rc-cycle", "--iterations", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("wrote no record (exit status: 0)"), "{text}");
    assert!(!text.contains("crashed"), "{text}");
}

#[test]
fn a_child_never_writes_through_a_symlink_or_creates_its_record() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = dir.path().join("target");
    std::fs::write(&target, "untouched").unwrap();
    let link = dir.path().join("record.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let missing = dir.path().join("missing.jsonl");
    for record in [&link, &missing] {
        let out = leaklab(&[
            "__child",
            "rc-cycle",
            "safe",
            "c",
            "1",
            "0",
            record.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{record:?}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert!(!missing.exists());
}

#[test]
fn a_detector_that_skips_an_unbounded_run_reports_not_run_never_a_match() {
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("valgrind is not installed: nothing to check here");
        return;
    }
    let args = [
        "run",
        "unbounded-int",
        "--variant",
        "leaky",
        "--detector",
        "valgrind",
    ];
    let out = leaklab(&[&args[..], &["--json"]].concat());
    let cell: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(cell.get("matches").is_none(), "{cell}");
    assert_eq!(cell["by_design"], true, "{cell}");
    assert!(
        cell["reason"]
            .as_str()
            .unwrap()
            .starts_with("skipped: unbounded"),
        "{cell}"
    );
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&leaklab(&args).stdout).into_owned();
    assert!(text.contains("not run: skipped: unbounded"), "{text}");
    assert!(!text.contains("match"), "{text}");
}
