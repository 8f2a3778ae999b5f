//! The command line of `leaklab` and `cargo leaklab`: `watch` (any
//! program), `test` (any crate's tests) and `run` (one binary of a crate,
//! see [`run::code`] for its exit codes).
//!
//! Exit codes: 0 success (for `watch`: the program was watched and its
//! memory is flat, or it ran too briefly to judge); 1 a watched program's
//! memory grows (for `test`, see [`crate::suite::report::code`]); 2 bad
//! input (an unknown flag or number, a program `watch` cannot start) or a
//! check that cannot run here; 3 standard output could not be written (a
//! full device, an I/O error); 4 for `watch`, the program crashed. A closed pipe is not an error: the rest of
//! the output is dropped and the exit code is the command's own.
//!
//! Every command prints through `outln!` / [`write_out`], which return
//! `io::Result`: nothing here panics on a failing stdout.

/// `println!` through [`write_out`]: an `io::Result` to `?`, never a panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod args;
pub mod run;
mod test;
mod watch;

pub use args::{Cli, Command};

use std::ffi::OsString;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_MISMATCH: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_OUTPUT: i32 = 3;
/// `watch`: the program (or a process of its tree) crashed, and its memory
/// was not seen to grow (as `test`'s 4: a test crashed).
pub const EXIT_CRASHED: i32 = 4;

/// Set once stdout turned out to be a closed pipe: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. A closed pipe (EPIPE) is not an error: the reader has
/// gone, so this and all later output is dropped and the command carries
/// on to its own exit code. Any other failure (ENOSPC on `> /dev/full`)
/// comes back, for the caller to `?` into a [`Failure`] with
/// [`EXIT_OUTPUT`].
pub fn write_out(args: std::fmt::Arguments<'_>) -> io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// A failure the user must see as one line, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

/// Standard output failed (not a closed pipe, which [`write_out`] absorbs).
impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure {
            message: format!("cannot write to standard output: {e}"),
            code: EXIT_OUTPUT,
        }
    }
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
    run_with(std::env::args_os().collect())
}

/// As `cargo-leaklab`, run by cargo as `cargo-leaklab leaklab ARGS`.
pub fn cargo_main() -> i32 {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "leaklab") {
        args.remove(1);
    }
    run_with(args)
}

/// `__addr2line`: the symbolizer's server, or its version.
fn addr2line(a: args::Addr2lineArgs) -> Result<i32, Failure> {
    if a.version {
        outln!("leaklab {} (addr2line protocol)", env!("CARGO_PKG_VERSION"))?;
        return Ok(EXIT_OK);
    }
    let exe = a
        .exe
        .ok_or_else(|| Failure::usage("__addr2line needs -e FILE"))?;
    crate::symbolize::serve(&exe, io::stdin().lock(), io::stdout().lock())?;
    Ok(EXIT_OK)
}

/// Points this process's symbolizer (`leaklab::check`'s, which watch and
/// the test runner name sites with) at this executable's `__addr2line`,
/// unless the user named a tool. The tests and programs `test` and `run`
/// start get it in their environment (`symbolize::export_to`).
fn use_own_symbolizer() {
    if std::env::var_os(leaklab::check::SYMBOL_TOOL_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    leaklab::check::use_symbol_tool(
        exe.to_string_lossy().into_owned(),
        vec![crate::symbolize::SUBCOMMAND.to_owned()],
    );
}

fn run_with(argv: Vec<OsString>) -> i32 {
    use_own_symbolizer();
    let cli: Cli = match args::parse(argv) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let outcome = match cli.command {
        Command::Watch(a) => watch::run(a),
        Command::Test(a) => test::run(a),
        Command::Run(a) => run::run(a),
        Command::TestRunner(a) => Ok(crate::suite::runner::main(a.binary, a.args)),
        Command::Addr2line(a) => addr2line(a),
    };
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("leaklab: {}", failure.message);
            failure.code
        }
    }
}
