//! The measurement protocol's calls, shared by [`super::measure`] (a
//! closure on this thread) and the lab's scenario runs (a workload in a
//! child process): each call guarded against panics, the calls made in
//! order until one fails, a hook after each.
//!
//! The protocol around them is the same in both: one priming call first,
//! so one-time lazy allocations are not counted; a snapshot; N calls; a
//! snapshot; and, if anything was kept, a few more calls with allocation
//! stacks recorded ([`super::record`]).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::panic_text;

/// A call that failed: its number (0: the priming call) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// Which call.
    pub call: u64,
    /// The error it returned, or "panicked: " and the panic's message.
    pub message: String,
}

/// One call: its own error, or a panic caught and turned into one.
pub fn guarded(f: &mut dyn FnMut() -> Result<(), String>) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(format!("panicked: {}", panic_text(payload.as_ref()))),
    }
}

/// Calls `f` for each number of `calls` in order, each [`guarded`], until
/// one fails; `after(n)` runs after call `n` succeeded. Returns how many
/// succeeded, or the failure.
pub fn repeat<E>(
    calls: std::ops::RangeInclusive<u64>,
    f: &mut dyn FnMut() -> Result<(), String>,
    mut after: impl FnMut(u64) -> Result<(), E>,
) -> Result<Result<u64, Failed>, E> {
    let mut done = 0;
    for n in calls {
        if let Err(message) = guarded(f) {
            return Ok(Err(Failed { call: n, message }));
        }
        done += 1;
        after(n)?;
    }
    Ok(Ok(done))
}
