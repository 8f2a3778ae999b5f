//! The lab's command line: `list`, `explain`, `run`, `matrix`, `faults`
//! (`leaklab watch` and `cargo leaklab test`, for anyone's code, are the
//! cargo-leaklab crate's).
//!
//! Exit codes: 0 success (for `watch`: the program was watched and its
//! memory is flat, or it ran too briefly to judge); 1 a run or matrix did
//! not match its declared leaks, a safe variant leaked or panicked under
//! fault injection, or a watched program's memory grows; 2 bad
//! input (unknown scenario, flag or number, a program `watch` cannot
//! start) or a check that cannot run here; 3 standard output could not be written (a full device, an I/O
//! error); 7 (`faults`) the binding held but the C library crashed or
//! called `exit` at some point. A closed pipe (`leaklab list | head -1`) is not an error: the
//! rest of the output is dropped and the exit code is the command's own.
//!
//! Every command prints through `outln!` / [`write_out`], which return
//! `io::Result`: nothing here panics on a failing stdout.

/// `println!` through [`write_out`]: an `io::Result` to `?`, never a panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod args;
mod detectors;
mod explain;
mod faults;
mod list;
mod matrix;
mod run;

pub use args::{Cli, Command};
pub use cargo_leaklab::cli::{EXIT_MISMATCH, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE, Failure, write_out};

use std::ffi::OsString;

use crate::scenarios::{self, Scenario};

/// Parses arguments and runs the command; returns the exit code.
pub fn main() -> i32 {
    run_with(std::env::args_os().collect())
}

fn run_with(argv: Vec<OsString>) -> i32 {
    let cli = match args::parse(argv) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("leaklab: {}", failure.message);
            failure.code
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::List(a) => list::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Run(a) => run::run(a),
        Command::Matrix(a) => matrix::run(a),
        Command::Faults(a) => faults::run(a),
        Command::FaultsChild(a) => Ok(crate::hardening::faults::child_main(
            &a.scenario,
            a.variant,
            a.backend,
            a.from,
        )),
        Command::Child(a) => Ok(crate::run::child::main(
            &a.scenario,
            crate::run::measure::Plan {
                variant: a.variant,
                backend: a.backend,
                iterations: a.iterations,
                sample_every: a.sample_every,
                stacks: a.stacks,
            },
            &a.record,
        )),
    }
}

/// The environment `s`'s children will read is usable (one line, exit 2,
/// before any child starts, if not).
pub fn check_environment(s: &Scenario) -> Result<(), Failure> {
    scenarios::check_environment(s).map_err(Failure::usage)
}

/// The counters need the C side counted, which a sanitizer build cannot
/// do (no interposer: the sanitizer owns malloc): one line, exit 2, before
/// any child starts, pointing at the detector that counts it there.
pub fn check_counted() -> Result<(), Failure> {
    match crate::run::sanitizer::build_sanitizers() {
        Some(sanitizers) if !crate::heap::c::is_counted() => Err(Failure::usage(
            crate::run::sanitizer::uncounted_message(Some(sanitizers)),
        )),
        _ => Ok(()),
    }
}

/// The scenario called `id`, or the one-line error listing the known ones.
pub fn scenario(id: &str) -> Result<&'static Scenario, Failure> {
    if cfg!(not(feature = "mariadb")) && id.starts_with("mariadb-") {
        return Err(Failure::usage(format!(
            "'{id}' is one of the MariaDB scenarios, which this build leaves out: build with \
             --features mariadb (and apt-get install {})",
            scenarios::fidelity::MARIADB_PACKAGES
        )));
    }
    scenarios::find(id).ok_or_else(|| {
        Failure::usage(format!(
            "unknown scenario '{id}'; known scenarios: {}",
            scenarios::ids().join(", ")
        ))
    })
}
