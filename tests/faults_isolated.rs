//! `run_isolated_with` against stand-in children (shell scripts): a child
//! that dies by a signal is reported as a crash at its last announced
//! point; a child that prints a report gives that report back; a child that
//! exits without one is an error.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use leaklab_lab::hardening::faults::{
    CHILD_COMMAND, PROGRESS_MARKER, REPORT_MARKER, run_isolated_with, sweep,
};
use leaklab_lab::scenarios::{self, BackendChoice, Variant};

/// The tests of this file take turns: writing an executable while another
/// thread forks a child can leave the write descriptor open in that child
/// for a moment, and exec'ing the file then fails with "Text file busy".
static TURNS: Mutex<()> = Mutex::new(());

/// Writes an executable script whose body runs only when called as the
/// faults child with the expected arguments (else it exits 3).
fn script(name: &str, body: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("leaklab-faults-{}-{name}.sh", std::process::id()));
    let text = format!(
        "#!/bin/sh\n[ \"$1 $2 $3 $4\" = \"{CHILD_COMMAND} failed-connect safe c\" ] || exit 3\n{body}\n"
    );
    std::fs::write(&path, text).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn run(exe: &Path) -> Result<leaklab_lab::hardening::faults::SweepReport, String> {
    run_isolated_with(exe, "failed-connect", Variant::Safe, BackendChoice::C)
}

fn turn() -> MutexGuard<'static, ()> {
    TURNS.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_child_killed_by_a_signal_is_a_crash_at_its_last_point() {
    let _turn = turn();
    let exe = script(
        "segv",
        &format!(
            "echo '{PROGRESS_MARKER}1' >&2\necho '{PROGRESS_MARKER}2' >&2\necho 'about to crash' >&2\nkill -SEGV $$"
        ),
    );
    let report = run(&exe).expect("a crash is a report");
    std::fs::remove_file(&exe).ok();
    assert_eq!(report.crashes, 1);
    let crash = report.crash.expect("crash details");
    assert_eq!(crash.signal, Some(libc::SIGSEGV));
    assert_eq!(crash.last_point, Some(2));
    assert_eq!(crash.stderr_tail, "about to crash");
    assert!(!report.complete);
}

#[test]
fn a_child_report_comes_back_whole() {
    let _turn = turn();
    let scenario = scenarios::find("failed-connect").expect("scenario");
    let expected = sweep(scenario, Variant::Safe, BackendChoice::C);
    let json = serde_json::to_string(&expected).expect("encode");
    let exe = script(
        "report",
        &format!("echo 'workload output'\necho '{REPORT_MARKER}{json}'"),
    );
    let report = run(&exe);
    std::fs::remove_file(&exe).ok();
    assert_eq!(report, Ok(expected));
}

#[test]
fn a_child_exiting_without_a_report_is_an_error() {
    let _turn = turn();
    let exe = script("silent", "echo 'cannot sweep' >&2\nexit 2");
    let outcome = run(&exe);
    std::fs::remove_file(&exe).ok();
    let error = outcome.expect_err("no report");
    assert!(error.contains("cannot sweep"), "{error}");
}
