//! The child side: `leaklab __child …` runs one scenario variant and writes
//! its record lines to a file the parent created (exclusively, under a
//! random name) and named. Standard output is left to
//! the scenario (rc-cycle's Drop messages go there).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use super::measure::{Plan, measure};
use crate::heap::scrub_stack;
use crate::scenarios;

/// Runs in the child process; returns its exit code.
pub fn main(scenario_id: &str, plan: Plan, record_path: &std::path::Path) -> i32 {
    let Some(scenario) = scenarios::find(scenario_id) else {
        eprintln!("leaklab child: unknown scenario '{scenario_id}'");
        return 2;
    };
    // Workloads that panic on purpose (panic-unwind) catch their panics;
    // the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    // Opened, never created: the parent made the file; a missing one or a
    // symlink in its place is an error, not something to write through.
    let opened = OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(record_path);
    let mut out = match opened {
        Ok(file) => file,
        Err(e) => {
            eprintln!("leaklab child: cannot write {}: {e}", record_path.display());
            return 2;
        }
    };
    let measured = measure(scenario, plan, &mut out);
    scrub_stack();
    match measured {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("leaklab child: cannot write the record: {e}");
            2
        }
    }
}
