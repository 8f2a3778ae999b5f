//! `best-friends collected|weak [ITERATIONS]`: the source's leaky or fixed
//! run (3 iterations, as the source), one line per event on stdout.
use std::process::ExitCode;

use best_friends::Run;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let which = match args.next().as_deref() {
        Some("collected") => Run::Collected,
        Some("weak") => Run::Weak,
        _ => {
            eprintln!("usage: best-friends collected|weak [ITERATIONS]");
            return ExitCode::from(2);
        }
    };
    let iterations = match args.next().map(|n| n.parse::<u32>()) {
        None => 3,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("best-friends: ITERATIONS is a whole number");
            return ExitCode::from(2);
        }
    };
    match best_friends::run(which, iterations, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe: the reader has gone.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("best-friends: {e}");
            ExitCode::from(3)
        }
    }
}
