//! The command line: `list`, `explain`, `run`, `matrix`, `faults`.
//!
//! Exit codes: 0 success; 1 a run or matrix did not match its declared
//! leaks, or a safe variant leaked or crashed under fault injection; 2 bad input (unknown scenario, flag or number) or a check that
//! cannot run here.

mod args;
mod detectors;
mod explain;
mod faults;
mod list;
mod matrix;
mod run;

pub use args::{Cli, Command};

use crate::scenarios::{self, Scenario};

/// Exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_MISMATCH: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// A failure the user must see as one line, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
}

/// Parses arguments and runs the command; returns the exit code.
pub fn main() -> i32 {
    let cli = match args::parse() {
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
        )),
        Command::Child(a) => Ok(crate::run::child::main(
            &a.scenario,
            crate::run::measure::Plan {
                variant: a.variant,
                backend: a.backend,
                iterations: a.iterations,
                sample_every: a.sample_every,
            },
            &a.record,
        )),
    }
}

/// The scenario called `id`, or the one-line error listing the known ones.
pub fn scenario(id: &str) -> Result<&'static Scenario, Failure> {
    scenarios::find(id).ok_or_else(|| {
        Failure::usage(format!(
            "unknown scenario '{id}'; known scenarios: {}",
            scenarios::ids().join(", ")
        ))
    })
}
