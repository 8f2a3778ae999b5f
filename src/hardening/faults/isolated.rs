//! Running a sweep in child processes (`leaklab __faults-child <scenario>
//! <variant> <backend> --from <n>`): one child runs points from n on and
//! reports each as it ends; when the library crashes or calls `exit` at
//! some point, that point is recorded (its signal or status, the stack of
//! the failed allocation, the stack where it ended) and a new child goes
//! on from the next point. Clean points share a child, so a sweep costs
//! one child plus one per crash.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::crash_handler::{self, CRASH_STACK, EXIT_STACK, FAILED_STACK};
use super::{Outcome, PointCrash, PointReport, SweepReport, sweep_from};
use crate::scenarios::{self, BackendChoice, Variant};

/// The hidden subcommand the CLI routes to [`child_main`].
pub const CHILD_COMMAND: &str = "__faults-child";

/// Prefix of the one stdout line holding the child's JSON report (a
/// workload may print to stdout too).
pub const REPORT_MARKER: &str = "leaklab-faults-report ";

/// Prefix of the stdout line holding one finished point, as JSON.
pub const POINT_MARKER: &str = "leaklab-faults-point ";

/// Prefix of the child's progress lines on stderr.
pub const PROGRESS_MARKER: &str = "point ";

/// A child that runs longer than this is killed and its point reported as
/// a crash.
const TIME_LIMIT: Duration = Duration::from_secs(600);

/// New children after crashes, at most, in one sweep.
const MAX_RESTARTS: u64 = 1_000;

/// How a child died outside any point (before its first one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    /// The signal that killed it (SIGSEGV, SIGABRT, …), if one did.
    pub signal: Option<i32>,
    /// Its exit code, if it exited without a report.
    pub exit_code: Option<i32>,
    /// Killed by the parent after the time limit.
    pub timed_out: bool,
    /// The last point the child announced, if any.
    pub last_point: Option<u64>,
    /// The end of its stderr, progress lines left out.
    pub stderr_tail: String,
}

/// Runs in the child: sweeps from `from` on, printing each point as it
/// ends, then the report; returns the exit code.
pub fn child_main(scenario_id: &str, variant: Variant, backend: BackendChoice, from: u64) -> i32 {
    let Some(scenario) = scenarios::find(scenario_id) else {
        eprintln!("leaklab faults child: unknown scenario '{scenario_id}'");
        return 2;
    };
    crash_handler::install();
    for line in crash_handler::objects_lines() {
        eprintln!("{line}");
    }
    let report = sweep_from(
        scenario,
        variant,
        backend,
        from,
        &mut |n| {
            eprintln!("{PROGRESS_MARKER}{n}");
            crash_handler::in_point(true);
        },
        &mut |point| {
            crash_handler::in_point(false);
            match serde_json::to_string(point) {
                Ok(json) => println!("{POINT_MARKER}{json}"),
                Err(e) => eprintln!("leaklab faults child: cannot encode point {}: {e}", point.n),
            }
        },
    );
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

/// Runs [`super::sweep`] in child processes and puts their reports
/// together: a point at which the library crashed or exited is one point
/// of the report (`crashes`, `exits`), and the sweep goes on from the next
/// one. A child that dies before its first point ends the sweep with
/// `crash` set; one that exits with no point started and no report is an
/// `Err`.
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

/// One child's run.
struct ChildRun {
    status: ExitStatus,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// [`run_isolated`] with the child executable named (tests give a stand-in).
pub fn run_isolated_with(
    exe: &Path,
    scenario_id: &str,
    variant: Variant,
    backend: BackendChoice,
) -> Result<SweepReport, String> {
    let scenario =
        scenarios::find(scenario_id).ok_or_else(|| format!("unknown scenario '{scenario_id}'"))?;
    let mut points: Vec<PointReport> = Vec::new();
    let mut from = 1;
    for _ in 0..=MAX_RESTARTS {
        let run = run_child(exe, scenario_id, variant, backend, from)?;
        let finished = point_lines(&run.stdout)?;
        let last_finished = finished.last().map(|p| p.n);
        points.extend(finished);
        if let Some(mut report) = parse_report(&run.stdout)?
            && run.status.success()
        {
            points.retain(|p| p.n < from);
            points.append(&mut report.points);
            report.points = points;
            report.recount();
            return Ok(report);
        }
        let announced = last_point(&run.stderr).filter(|&n| n >= from);
        let died_in = announced.filter(|&n| Some(n) != last_finished);
        let Some(n) = died_in else {
            if run.status.signal().is_none() && !run.timed_out && announced.is_none() {
                return Err(format!(
                    "the faults child exited with {} and no report: {}",
                    run.status,
                    tail(&run.stderr)
                ));
            }
            // Died between points, or before the first: the sweep ends.
            let mut report = SweepReport::new(scenario, variant, backend);
            report.points = points;
            report.recount();
            report.crash = Some(Crash {
                signal: run.status.signal(),
                exit_code: run.status.code(),
                timed_out: run.timed_out,
                last_point: announced,
                stderr_tail: tail(&run.stderr),
            });
            return Ok(report);
        };
        let point = died_point(n, &run);
        let fired = point.fired;
        points.push(point);
        if !fired {
            // It died with no allocation failed: the workload's own crash,
            // which the next point would meet again.
            let mut report = SweepReport::new(scenario, variant, backend);
            report.points = points;
            report.recount();
            return Ok(report);
        }
        from = n + 1;
    }
    let mut report = SweepReport::new(scenario, variant, backend);
    report.points = points;
    report.recount();
    report.skipped = Some(format!("more than {MAX_RESTARTS} crashing points"));
    Ok(report)
}

/// Starts a child from point `from` and waits for it (or the time limit).
fn run_child(
    exe: &Path,
    scenario_id: &str,
    variant: Variant,
    backend: BackendChoice,
    from: u64,
) -> Result<ChildRun, String> {
    let mut child = Command::new(exe)
        .args([
            CHILD_COMMAND,
            scenario_id,
            variant.as_str(),
            backend.as_str(),
            "--from",
            &from.to_string(),
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
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for the child: {e}")),
        }
    };
    Ok(ChildRun {
        status,
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// The point a child died in: how, and the stacks its handlers wrote,
/// named with the objects it listed.
fn died_point(n: u64, run: &ChildRun) -> PointReport {
    let objects: Vec<_> = run
        .stderr
        .lines()
        .filter_map(crash_handler::parse_object)
        .collect();
    let stack_of = |marker: &str| {
        run.stderr
            .lines()
            .rev()
            .find_map(|line| crash_handler::parse_stack(line, marker))
    };
    let failed = stack_of(FAILED_STACK).unwrap_or_default();
    let ended = stack_of(CRASH_STACK)
        .or_else(|| stack_of(EXIT_STACK))
        .unwrap_or_default();
    let frames = |stack: &[usize]| {
        if stack.is_empty() {
            return Vec::new();
        }
        // The handler's own frames are not the library's.
        let mut frames = crate::check::raw_stack_frames(&objects, stack);
        let start = frames
            .iter()
            .rposition(|f| f.function.contains("crash_handler::"))
            .map_or(0, |i| i + 1);
        frames.drain(..start);
        frames
    };
    let crash = PointCrash {
        signal: run.status.signal(),
        exit_code: run.status.code(),
        timed_out: run.timed_out,
        failed_allocation: frames(&failed),
        stack: frames(&ended),
        stderr_tail: tail(&run.stderr),
    };
    let outcome = if crash.signal.is_none() && !crash.timed_out {
        Outcome::Exit
    } else {
        Outcome::Crash
    };
    PointReport {
        n,
        fired: !failed.is_empty(),
        outcome,
        stage: None,
        iteration_ok: false,
        message: crash.how(),
        leaked: Default::default(),
        beyond_expected: Default::default(),
        sites: Vec::new(),
        crash: Some(crash),
    }
}

/// The points a child finished, in order.
fn point_lines(stdout: &str) -> Result<Vec<PointReport>, String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(POINT_MARKER))
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|e| format!("a faults child's point does not parse: {e}"))
        })
        .collect()
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

/// The last lines of `stderr` that are neither progress lines nor the
/// child's machine lines.
fn tail(stderr: &str) -> String {
    const KEEP: usize = 20;
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with(PROGRESS_MARKER) && !line.starts_with("leaklab-faults-"))
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
