//! Fault sweeps: each C allocation of a call failed in turn, and what the
//! call kept at each point. [`run_point`] is the one point mechanism; the
//! lab's scenario sweeps run their points through it too.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{
    CheckError, Live, Measurement, SideLeak, Site, counted, panic_text, protocol, record, snapshot,
};
use crate::heap;

/// What happened when one C allocation of the closure failed.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let sweep = leaklab::check::fault_sweep(|| drop(vec![0u8; 1])).unwrap();
/// assert!(sweep.points.is_empty()); // no C allocation to fail
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultPoint {
    /// Which C allocation of the call failed (1 = the first).
    pub nth: u64,
    /// The closure panicked (its message), rather than returning.
    pub panic: Option<String>,
    /// What the call kept with that allocation failed; for a point that
    /// leaked, with the allocation stacks of one more such call.
    pub kept: Measurement,
}

impl FaultPoint {
    /// Kept memory on either side.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
    /// assert!(sweep.points.iter().all(|p| !p.leaked()));
    /// ```
    pub fn leaked(&self) -> bool {
        !self.kept.is_clean()
    }
}

/// Every point of a sweep.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
/// sweep.assert_no_leaks();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sweep {
    /// One per C allocation the closure makes, in order.
    pub points: Vec<FaultPoint>,
}

impl Sweep {
    /// The points where the call kept memory.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert_eq!(leaklab::check::fault_sweep(|| ()).unwrap().leaking().count(), 0);
    /// ```
    pub fn leaking(&self) -> impl Iterator<Item = &FaultPoint> {
        self.points.iter().filter(|p| p.leaked())
    }

    /// Panics, listing them, if any point leaked or panicked.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// leaklab::check::fault_sweep(|| ()).unwrap().assert_no_leaks();
    /// ```
    #[track_caller]
    pub fn assert_no_leaks(&self) {
        let bad: Vec<String> = self
            .points
            .iter()
            .filter(|p| p.leaked() || p.panic.is_some())
            .map(|p| match &p.panic {
                Some(message) => format!("  C allocation {} failed: panicked: {message}", p.nth),
                None => format!("  C allocation {} failed: {}", p.nth, p.kept),
            })
            .collect();
        if !bad.is_empty() {
            panic!(
                "{} of {} fault points went wrong:\n{}",
                bad.len(),
                self.points.len(),
                bad.join("\n")
            );
        }
    }
}

/// Fails each C allocation of one call of `f` in turn (the 1st, then the
/// 2nd, …, until a call makes no more), and records what each such call
/// kept and whether it panicked. `f` is primed once first. A failure that
/// crashes the process (a NULL the library dereferences) ends the test
/// binary: run such sweeps in a process of their own.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let sweep = leaklab::check::fault_sweep(|| {
///     // SAFETY: malloc/free pair; a failed malloc gives NULL, freed as such.
///     unsafe { libc::free(libc::malloc(16)) }
/// })
/// .unwrap();
/// assert_eq!(sweep.points.len(), 1);
/// sweep.assert_no_leaks();
/// ```
pub fn fault_sweep(mut f: impl FnMut()) -> Result<Sweep, CheckError> {
    counted()?;
    snapshot();
    protocol::guarded(&mut || {
        f();
        Ok(())
    })
    .map_err(|message| CheckError::from(protocol::Failed { call: 0, message }))?;
    let mut points = Vec::new();
    for nth in 1.. {
        let run = run_point(nth, &mut f, |_, _| ());
        if !run.fired {
            break;
        }
        let kept = |side: Live| SideLeak {
            blocks: side.blocks,
            bytes: side.bytes,
            calls: 1,
            split: None,
        };
        let mut point = FaultPoint {
            nth,
            panic: run.summary.is_none().then_some(run.message),
            kept: Measurement {
                c: kept(run.kept.c),
                rust: kept(run.kept.rust),
                foreign_frees: run.foreign_frees,
                sites: Vec::new(),
                recorded_calls: 0,
            },
        };
        if point.leaked() && point.panic.is_none() {
            point.kept.attach(record_point(nth, &mut f), 1);
        }
        points.push(point);
    }
    Ok(Sweep { points })
}

/// Most bytes of a point's error or panic message kept.
const MESSAGE_CAP: usize = 240;

/// One point of a fault sweep, as every sweep runs it (this module's and
/// the lab's): what the call kept with its `nth` C allocation failed.
#[doc(hidden)]
#[derive(Debug)]
pub struct PointRun<S> {
    /// The armed failure fired (the call made at least `nth` allocations).
    pub fired: bool,
    /// What `summarize` made of the call's result; `None`: it panicked.
    pub summary: Option<S>,
    /// The panic's message, or what `summarize` copied (at most 240 bytes).
    pub message: String,
    /// What the call kept on each side (this thread's counts).
    pub kept: heap::Snapshot,
    /// Frees of memory the C allocator never handed out, during the call.
    pub foreign_frees: u64,
}

/// Runs `f` with its `nth` C allocation failed (1 = the first), catching a
/// panic, and measures what it kept. `summarize` reads the result (and may
/// copy an error's text into the message buffer) before the result is
/// dropped: the buffer is allocated before the "before" count and the
/// result's own strings are freed before the "after" one, so a message is
/// never counted as kept.
#[doc(hidden)]
pub fn run_point<T, S>(
    nth: u64,
    f: impl FnOnce() -> T,
    summarize: impl FnOnce(&T, &mut String) -> S,
) -> PointRun<S> {
    let mut message = String::with_capacity(MESSAGE_CAP);
    let before = heap::Snapshot::now_this_thread();
    let foreign = heap::c::thread_foreign_frees();
    heap::c::fail_nth(nth, false);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let fired = heap::c::fail_pending() == 0;
    heap::c::stop_failing();
    let summary = match &outcome {
        Ok(value) => Some(summarize(value, &mut message)),
        Err(payload) => {
            keep_text(&mut message, panic_text(payload.as_ref()));
            None
        }
    };
    drop(outcome);
    PointRun {
        fired,
        summary,
        message,
        kept: heap::Snapshot::now_this_thread().since(before),
        foreign_frees: heap::c::thread_foreign_frees() - foreign,
    }
}

/// Point `nth` of `f` once more, with allocation stacks recorded: where
/// what it keeps comes from.
#[doc(hidden)]
pub fn record_point(nth: u64, f: impl FnOnce()) -> Vec<Site> {
    record(|| {
        heap::c::fail_nth(nth, false);
        let outcome = catch_unwind(AssertUnwindSafe(f));
        heap::c::stop_failing();
        drop(outcome);
        Ok::<(), ()>(())
    })
    .unwrap_or_default()
}

/// Copies as much of `text` as fits into `buffer`, cut at a char boundary,
/// without reallocating it.
#[doc(hidden)]
pub fn keep_text(buffer: &mut String, text: &str) {
    let room = buffer.capacity() - buffer.len();
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buffer.push_str(&text[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_text_never_grows_the_buffer() {
        let mut b = String::with_capacity(MESSAGE_CAP);
        let capacity = b.capacity();
        keep_text(&mut b, &"é".repeat(MESSAGE_CAP));
        assert_eq!(b.capacity(), capacity);
        assert!(b.len() <= MESSAGE_CAP && b.len() >= MESSAGE_CAP - 1);
        assert!(b.chars().all(|c| c == 'é'));
    }
}
