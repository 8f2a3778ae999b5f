//! `run_isolated_with` against stand-in children (shell scripts): a child
//! that dies by a signal is one crashed point (its last announced one) and
//! a new child goes on from the next; a child that prints a report gives
//! that report back; a child that exits without one is an error.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use leaklab_lab::hardening::faults::{
    CHILD_COMMAND, Outcome, PROGRESS_MARKER, REPORT_MARKER, run_isolated_with, sweep,
};
use leaklab_lab::scenarios::{self, BackendChoice, Variant};

mod in_child;

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
fn a_child_killed_by_a_signal_is_one_crashed_point_and_the_sweep_goes_on() {
    // The sweep it compares with fails allocations through the
    // interposer, which memcheck replaces: natively, in a child if need be.
    in_child::with_c_counters(
        "a_child_killed_by_a_signal_is_one_crashed_point_and_the_sweep_goes_on",
        || {
            let _turn = turn();
            let scenario = scenarios::find("failed-connect").expect("scenario");
            let mut rest = sweep(scenario, Variant::Safe, BackendChoice::C);
            assert!(rest.points.len() >= 2, "{rest:?}");
            rest.points.retain(|p| p.n >= 2);
            let rest = serde_json::to_string(&rest).expect("encode");
            // The first child announces point 1, says which allocation failed and
            // dies in it; the next one, started from point 2, reports the rest.
            let exe = script(
                "segv",
                &format!(
                    "if [ \"$5 $6\" = \"--from 2\" ]; then echo '{REPORT_MARKER}{rest}'; exit 0; fi\n\
                 [ \"$5 $6\" = \"--from 1\" ] || exit 4\n\
                 echo '{PROGRESS_MARKER}1' >&2\n\
                 echo 'leaklab-faults-failed-stack 1234' >&2\n\
                 echo 'about to crash' >&2\nkill -SEGV $$"
                ),
            );
            let report = run(&exe).expect("a crash is one point of a report");
            std::fs::remove_file(&exe).ok();
            assert_eq!(report.crashes, 1, "{report:?}");
            assert!(report.complete, "the sweep went on to its last point");
            let crashed = report.points.iter().find(|p| p.n == 1).expect("point 1");
            assert_eq!(crashed.outcome, Outcome::Crash);
            assert!(crashed.fired);
            let crash = crashed.crash.as_ref().expect("crash details");
            assert_eq!(crash.signal, Some(libc::SIGSEGV));
            assert_eq!(crash.stderr_tail, "about to crash");
            assert_eq!(crash.failed_allocation.len(), 1, "{crash:?}");
            assert!(report.points.iter().any(|p| p.n == 2));
            assert_eq!(report.points_tried, report.points.len() as u64);
        },
    );
}

#[test]
fn a_child_report_comes_back_whole() {
    // The sweep it compares with fails allocations through the
    // interposer, which memcheck replaces: natively, in a child if need be.
    in_child::with_c_counters("a_child_report_comes_back_whole", || {
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
    });
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
