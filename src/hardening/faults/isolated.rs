//! Running a sweep in a child process (`leaklab __faults-child <scenario>
//! <variant> <backend>`), so that a crash at some point is reported, with
//! the signal and the last point tried, instead of killing the caller.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{SweepReport, sweep_with_progress};
use crate::scenarios::{self, BackendChoice, Variant};

/// The hidden subcommand the CLI routes to [`child_main`].
pub const CHILD_COMMAND: &str = "__faults-child";

/// Prefix of the one stdout line holding the child's JSON report (a
/// workload may print to stdout too).
pub const REPORT_MARKER: &str = "leaklab-faults-report ";

/// Prefix of the child's progress lines on stderr.
pub const PROGRESS_MARKER: &str = "point ";

/// A child that runs longer than this is killed and reported as a crash.
const TIME_LIMIT: Duration = Duration::from_secs(600);

/// How the sweep's process died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    /// The signal that killed it (SIGSEGV, SIGABRT, …), if one did.
    pub signal: Option<i32>,
    /// Its exit code, if it exited without a report.
    pub exit_code: Option<i32>,
    /// Killed by the parent after the time limit.
    pub timed_out: bool,
    /// The last point the child announced (the one that crashed).
    pub last_point: Option<u64>,
    /// The end of its stderr, progress lines left out.
    pub stderr_tail: String,
}

/// Runs in the child: sweeps and prints the report; returns the exit code.
pub fn child_main(scenario_id: &str, variant: Variant, backend: BackendChoice) -> i32 {
    let Some(scenario) = scenarios::find(scenario_id) else {
        eprintln!("leaklab faults child: unknown scenario '{scenario_id}'");
        return 2;
    };
    let report = sweep_with_progress(scenario, variant, backend, &mut |n| {
        eprintln!("{PROGRESS_MARKER}{n}");
    });
    match serde_json::to_string(&report) {
        Ok(json) => {
            println!("{REPORT_MARKER}{json}");
            0
        }
        Err(e) => {
            eprintln!("leaklab faults child: cannot encode the report: {e}");
            2
        }
    }
}

/// Runs [`super::sweep`] in a child process and reads its report. A child
/// killed by a signal (or the time limit) gives a report with `crashes = 1`
/// and the point it died at; one that exits without a report is an `Err`.
pub fn run_isolated(
    scenario_id: &str,
    variant: Variant,
    backend: BackendChoice,
) -> Result<SweepReport, String> {
    run_isolated_with(
        &crate::run::isolate::leaklab_exe(),
        scenario_id,
        variant,
        backend,
    )
}

/// [`run_isolated`] with the child executable named (tests give a stand-in).
pub fn run_isolated_with(
    exe: &Path,
    scenario_id: &str,
    variant: Variant,
    backend: BackendChoice,
) -> Result<SweepReport, String> {
    let mut child = Command::new(exe)
        .args([
            CHILD_COMMAND,
            scenario_id,
            variant.as_str(),
            backend.as_str(),
        ])
        .envs(crate::run::isolate::shared_services())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > TIME_LIMIT => {
                timed_out = true;
                let _ = child.kill();
                break child
                    .wait()
                    .map_err(|e| format!("waiting for the child: {e}"))?;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for the child: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if let Some(report) = parse_report(&stdout)?
        && status.success()
    {
        return Ok(report);
    }
    if status.signal().is_none() && !timed_out {
        return Err(format!(
            "the faults child exited with {status} and no report: {}",
            tail(&stderr)
        ));
    }
    let scenario =
        scenarios::find(scenario_id).ok_or_else(|| format!("unknown scenario '{scenario_id}'"))?;
    let mut report = SweepReport::new(scenario, variant, backend);
    let last_point = last_point(&stderr);
    report.points_tried = last_point.unwrap_or(0);
    report.crashes = 1;
    report.crash = Some(Crash {
        signal: status.signal(),
        exit_code: status.code(),
        timed_out,
        last_point,
        stderr_tail: tail(&stderr),
    });
    Ok(report)
}

fn parse_report(stdout: &str) -> Result<Option<SweepReport>, String> {
    let Some(json) = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(REPORT_MARKER))
    else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| format!("the faults child's report does not parse: {e}"))
}

/// The number of the last "point N" line.
fn last_point(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(PROGRESS_MARKER)?.trim().parse().ok())
}

/// The last lines of `stderr` that are not progress lines.
fn tail(stderr: &str) -> String {
    const KEEP: usize = 20;
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with(PROGRESS_MARKER))
        .collect();
    lines[lines.len().saturating_sub(KEEP)..].join("\n")
}

/// Reads a pipe to its end on a thread, so a chatty child cannot block.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_point_is_the_last_progress_line() {
        let stderr = "point 1\npoint 2\nsomething\npoint 17\nSegmentation fault\n";
        assert_eq!(last_point(stderr), Some(17));
        assert_eq!(last_point("nothing\n"), None);
        assert_eq!(tail(stderr), "something\nSegmentation fault");
    }

    #[test]
    fn the_report_line_is_found_among_workload_output() {
        assert_eq!(parse_report("hello\nworld\n"), Ok(None));
        assert!(parse_report(&format!("x\n{REPORT_MARKER}{{}}\n")).is_err());
    }
}
