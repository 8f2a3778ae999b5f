//! Fault sweeps: each C allocation of a call failed in turn, and what the
//! call kept at each point. [`run_point`] is the one point mechanism; the
//! lab's scenario sweeps run their points through it too.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use std::fmt;

use super::{
    CheckError, Frame, Live, Measurement, RecordedSites, SideLeak, Site, counted, panic_text,
    protocol, record, record_counted, snapshot,
};
use crate::heap;

/// What happened when one C allocation of the closure failed.
///
/// Each point is run twice before it is judged: the first failing call
/// primes the point's error path (a library's lazily made per-thread error
/// state, first allocated there, is kept by that call alone: see
/// [`FaultPoint::first`]), and a repeat of the same point is what is
/// measured. If the repeat kept anything, one more call is made with
/// allocation stacks recorded, and the point's figures, its stacks and its
/// lost/reachable split all come from that one call. A point leaks when
/// that call *lost* memory: blocks still reachable (a cache, a static, a
/// per-thread error queue) and negative figures (a call that freed what an
/// earlier one kept) are reported, never called leaks.
///
/// Before any of that, the point is run once in a child process of its
/// own ([`fault_sweep`]): if the library crashed, called `exit` or hung
/// there, the point is that finding ([`FaultPoint::ended`]) and is not run
/// in the test process at all.
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
    /// What the measured call kept with that allocation failed (a repeat
    /// of the point, or when that kept anything, one more call with its
    /// allocation stacks recorded: then `sites` and each side's `split`
    /// describe the very call the figures are of).
    pub kept: Measurement,
    /// What the first call with that allocation failed kept (counts only,
    /// not judged): memory kept here and not on the repeat is one-time
    /// state the error path made ([`FaultPoint::one_time`]).
    pub first: Measurement,
    /// The call never returned: the library crashed, called `exit`, or
    /// ran past the time limit, in the child process the point ran in
    /// first. Then nothing was measured (`kept` and `first` are zero).
    /// `None`: it returned (or panicked) and was measured as above.
    pub ended: Option<PointEnd>,
}

/// How a point's call ended when it never returned, in the child process
/// the point ran in first. Each carries the stack of the allocation that
/// was failed (the call that received the NULL and did not check it is
/// among its first frames) and the stack where the process ended, both
/// innermost first, named like leak sites ([`Frame`]). A stack is empty
/// when none arrived (the library replaced the signal handlers, or ended
/// with `_exit`, which no handler sees).
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use leaklab::check::{fault_sweep, PointEnd};
/// let sweep = fault_sweep(|| {
///     // SAFETY: a library that exits when its allocation fails.
///     unsafe {
///         let p = libc::malloc(16);
///         if p.is_null() {
///             libc::exit(3);
///         }
///         libc::free(p);
///     }
/// })
/// .unwrap();
/// # #[cfg(target_os = "linux")]
/// assert!(matches!(sweep.points[0].ended, Some(PointEnd::Exited { status: 3, .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PointEnd {
    /// The library crashed: a fatal signal (SIGSEGV, SIGBUS, SIGABRT,
    /// SIGFPE, SIGILL, or any other that killed the process).
    #[non_exhaustive]
    Crashed {
        /// The signal's number ([`signal_name`] names it).
        signal: i32,
        /// The failed allocation's stack.
        failed_allocation: Vec<Frame>,
        /// The stack at the signal.
        stack: Vec<Frame>,
    },
    /// The library ended the process itself (`exit`, `_exit`).
    #[non_exhaustive]
    Exited {
        /// The exit status.
        status: i32,
        /// The failed allocation's stack.
        failed_allocation: Vec<Frame>,
        /// The stack at the `exit` call (empty for `_exit`).
        stack: Vec<Frame>,
    },
    /// The call ran past the time limit and was stopped.
    #[non_exhaustive]
    TimedOut {
        /// The limit it ran past.
        limit: Duration,
        /// The failed allocation's stack.
        failed_allocation: Vec<Frame>,
        /// Where it was when stopped.
        stack: Vec<Frame>,
    },
}

impl PointEnd {
    /// "crashed (SIGSEGV)", "exited with status 3", "timed out (stopped
    /// after 60 s)".
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| {
    ///     // SAFETY: a library that exits when its allocation fails.
    ///     unsafe { if libc::malloc(1).is_null() { libc::exit(2) } }
    /// })
    /// .unwrap();
    /// # #[cfg(target_os = "linux")]
    /// assert_eq!(sweep.points[0].ended.as_ref().unwrap().how(), "exited with status 2");
    /// ```
    pub fn how(&self) -> String {
        match self {
            PointEnd::Crashed { signal, .. } => format!("crashed ({})", signal_name(*signal)),
            PointEnd::Exited { status, .. } => format!("exited with status {status}"),
            PointEnd::TimedOut { limit, .. } => {
                format!("timed out (stopped after {})", seconds(*limit))
            }
        }
    }

    /// The failed allocation's stack, innermost first, the allocator's
    /// own frames cut off: its first frame is the C function that asked
    /// for the memory, and the call that did not check the NULL is at or
    /// right after it.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| {
    ///     // SAFETY: a library that exits when its allocation fails.
    ///     unsafe { if libc::malloc(1).is_null() { libc::exit(2) } }
    /// })
    /// .unwrap();
    /// if let Some(end) = &sweep.points[0].ended {
    ///     for frame in end.failed_allocation() {
    ///         println!("{frame}");
    ///     }
    /// }
    /// ```
    pub fn failed_allocation(&self) -> &[Frame] {
        match self {
            PointEnd::Crashed {
                failed_allocation, ..
            }
            | PointEnd::Exited {
                failed_allocation, ..
            }
            | PointEnd::TimedOut {
                failed_allocation, ..
            } => failed_allocation,
        }
    }

    /// The stack where the process ended (the signal, the `exit` call, or
    /// where it was stopped), innermost first.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| {
    ///     // SAFETY: a library that exits when its allocation fails.
    ///     unsafe { if libc::malloc(1).is_null() { libc::exit(2) } }
    /// })
    /// .unwrap();
    /// # #[cfg(target_os = "linux")]
    /// assert!(!sweep.points[0].ended.as_ref().unwrap().stack().is_empty());
    /// ```
    pub fn stack(&self) -> &[Frame] {
        match self {
            PointEnd::Crashed { stack, .. }
            | PointEnd::Exited { stack, .. }
            | PointEnd::TimedOut { stack, .. } => stack,
        }
    }
}

/// A duration as "60 s" or "250 ms".
fn seconds(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Frames shown of each stack of a point that never returned.
const SHOWN_FRAMES: usize = 6;

impl fmt::Display for PointEnd {
    /// "crashed (SIGSEGV)", then the failed allocation's first frames and
    /// the stack where it ended, a frame a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.how())?;
        let place = match self {
            PointEnd::Crashed { .. } => "crashed at",
            PointEnd::Exited { .. } => "exit called at",
            PointEnd::TimedOut { .. } => "was at",
        };
        for (title, frames) in [
            ("the failed allocation, made at", self.failed_allocation()),
            (place, self.stack()),
        ] {
            write!(f, "\n      {title}:")?;
            if frames.is_empty() {
                write!(f, " (no stack arrived)")?;
            }
            for frame in frames.iter().take(SHOWN_FRAMES) {
                write!(f, "\n        {frame}")?;
            }
            if frames.len() > SHOWN_FRAMES {
                write!(f, "\n        … {} more frames", frames.len() - SHOWN_FRAMES)?;
            }
        }
        Ok(())
    }
}

/// A signal's name ("SIGSEGV"), or "signal N".
///
/// ```
/// assert_eq!(leaklab::check::signal_name(libc::SIGSEGV), "SIGSEGV");
/// assert_eq!(leaklab::check::signal_name(77), "signal 77");
/// ```
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.into()
}

impl FaultPoint {
    /// The measured call lost memory: blocks no pointer reaches any more,
    /// on either side. Without a recorded split (recording unavailable),
    /// any block kept counts as lost. Reachable blocks and negative
    /// figures are not leaks.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
    /// assert!(sweep.points.iter().all(|p| !p.leaked()));
    /// ```
    pub fn leaked(&self) -> bool {
        self.lost_bytes() > 0 || self.lost_blocks() > 0
    }

    /// Blocks the measured call lost, both sides.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| {
    ///     // SAFETY: malloc/free pair; a failed malloc gives NULL, freed as such.
    ///     unsafe { libc::free(libc::malloc(8)) }
    /// })
    /// .unwrap();
    /// assert_eq!(sweep.points[0].lost_blocks(), 0);
    /// ```
    pub fn lost_blocks(&self) -> u64 {
        lost(&self.kept.c).0 + lost(&self.kept.rust).0
    }

    /// Bytes the measured call lost, both sides.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
    /// assert_eq!(sweep.points.iter().map(|p| p.lost_bytes()).sum::<u64>(), 0);
    /// ```
    pub fn lost_bytes(&self) -> u64 {
        lost(&self.kept.c).1 + lost(&self.kept.rust).1
    }

    /// The first failing call kept memory and the repeat kept none: state
    /// the error path makes once (a per-thread error queue), not a leak.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
    /// assert!(sweep.points.iter().all(|p| !p.one_time()));
    /// ```
    pub fn one_time(&self) -> bool {
        let grew = |s: &SideLeak| s.blocks > 0 || s.bytes > 0;
        (grew(&self.first.c) || grew(&self.first.rust))
            && self.kept.c.is_clean()
            && self.kept.rust.is_clean()
    }

    /// Nothing to report: the measured call kept nothing, freed no foreign
    /// memory, did not panic, and the first call kept nothing either.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let sweep = leaklab::check::fault_sweep(|| ()).unwrap();
    /// assert!(sweep.points.iter().all(|p| p.is_clean()));
    /// ```
    pub fn is_clean(&self) -> bool {
        self.ended.is_none()
            && self.panic.is_none()
            && self.kept.is_clean()
            && self.first.is_clean()
    }
}

/// Lost (blocks, bytes) of one side: its split's, or without one, what it
/// kept if positive.
fn lost(side: &SideLeak) -> (u64, u64) {
    match side.split {
        Some(split) => (split.lost_blocks, split.lost_bytes),
        None => (side.blocks.max(0) as u64, side.bytes.max(0) as u64),
    }
}

impl fmt::Display for FaultPoint {
    /// "C allocation 3 failed: lost: C kept 1 blocks / 24 B per call (…)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C allocation {} failed: ", self.nth)?;
        if let Some(end) = &self.ended {
            return write!(f, "the call never returned: {end}");
        }
        if let Some(message) = &self.panic {
            return write!(f, "panicked: {message}");
        }
        let verdict = if self.leaked() {
            format!(
                "lost {} blocks / {} B",
                self.lost_blocks(),
                self.lost_bytes()
            )
        } else if self.one_time() {
            "one-time state (kept by the first failing call only), not a leak".into()
        } else if self.kept.is_clean() {
            "clean".into()
        } else if self.kept.c.blocks < 0 || self.kept.rust.blocks < 0 {
            "freed more than it allocated (memory an earlier call kept), not a leak".into()
        } else {
            "kept memory still reachable, not a leak".into()
        };
        write!(f, "{verdict}")?;
        if !self.kept.is_clean() {
            write!(f, "; {}", self.kept)?;
        } else if !self.first.is_clean() {
            write!(f, "; the first failing call: {}", self.first)?;
        }
        Ok(())
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
    /// The points where the measured call lost memory.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert_eq!(leaklab::check::fault_sweep(|| ()).unwrap().leaking().count(), 0);
    /// ```
    pub fn leaking(&self) -> impl Iterator<Item = &FaultPoint> {
        self.points.iter().filter(|p| p.leaked())
    }

    /// The points that kept memory without losing any (still reachable,
    /// one-time state, negative figures): reported, not leaks.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert_eq!(leaklab::check::fault_sweep(|| ()).unwrap().kept_not_lost().count(), 0);
    /// ```
    pub fn kept_not_lost(&self) -> impl Iterator<Item = &FaultPoint> {
        self.points
            .iter()
            .filter(|p| p.ended.is_none() && p.panic.is_none() && !p.leaked() && !p.is_clean())
    }

    /// The points whose call never returned: the library crashed, called
    /// `exit`, or ran past the time limit ([`FaultPoint::ended`]).
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert_eq!(leaklab::check::fault_sweep(|| ()).unwrap().ended().count(), 0);
    /// ```
    pub fn ended(&self) -> impl Iterator<Item = &FaultPoint> {
        self.points.iter().filter(|p| p.ended.is_some())
    }

    /// Panics, listing them with the failed allocation's and the end's
    /// first frames, if the call never returned at some point (the
    /// library crashed, exited or hung): leaks and panics are not looked
    /// at ([`Sweep::assert_no_leaks`] fails on all three).
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// leaklab::check::fault_sweep(|| {
    ///     // SAFETY: a NULL is checked; the leak on the error path is not
    ///     // what this assertion looks at.
    ///     unsafe {
    ///         let a = libc::malloc(8);
    ///         let b = libc::malloc(8);
    ///         if !a.is_null() && !b.is_null() {
    ///             libc::free(a);
    ///             libc::free(b);
    ///         }
    ///     }
    /// })
    /// .unwrap()
    /// .assert_no_crashes();
    /// ```
    #[track_caller]
    pub fn assert_no_crashes(&self) {
        let ended: Vec<String> = self.ended().map(|p| format!("  {p}")).collect();
        if !ended.is_empty() {
            panic!(
                "{} of {} fault points never returned (the library crashed, exited or hung \
                 with that allocation failed):\n{}",
                ended.len(),
                self.points.len(),
                ended.join("\n")
            );
        }
    }

    /// Panics, listing them, if any point lost memory, panicked, or never
    /// returned (the library crashed, exited or hung: a finding too, with
    /// the failed allocation's and the end's first frames); the points
    /// that kept memory without losing it are listed after them.
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
            .filter(|p| p.leaked() || p.panic.is_some() || p.ended.is_some())
            .map(|p| format!("  {p}"))
            .collect();
        if !bad.is_empty() {
            let mut message = format!(
                "{} of {} fault points went wrong:\n{}",
                bad.len(),
                self.points.len(),
                bad.join("\n")
            );
            let kept: Vec<String> = self.kept_not_lost().map(|p| format!("  {p}")).collect();
            if !kept.is_empty() {
                message.push_str(&format!(
                    "\n{} more points kept memory without losing any (not leaks):\n{}",
                    kept.len(),
                    kept.join("\n")
                ));
            }
            panic!("{message}");
        }
    }
}

impl fmt::Display for Sweep {
    /// "12 fault points: 1 lost memory, 0 panicked, 1 never returned
    /// (crashed, exited or hung), 2 kept memory without losing any", then
    /// each point that is not clean.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fault points: {} lost memory, {} panicked, {} never returned (crashed, exited \
             or hung), {} kept memory without losing any",
            self.points.len(),
            self.leaking().count(),
            self.points.iter().filter(|p| p.panic.is_some()).count(),
            self.ended().count(),
            self.kept_not_lost().count()
        )?;
        for point in self.points.iter().filter(|p| !p.is_clean()) {
            write!(f, "\n  {point}")?;
        }
        Ok(())
    }
}

/// How long one point may run in its child process before it is stopped
/// and reported as [`PointEnd::TimedOut`] ([`fault_sweep`]'s; pass another
/// to [`fault_sweep_within`]).
///
/// ```
/// assert_eq!(leaklab::check::POINT_TIME_LIMIT.as_secs(), 60);
/// ```
pub const POINT_TIME_LIMIT: Duration = Duration::from_secs(60);

/// Fails each C allocation of one call of `f` in turn (the 1st, then the
/// 2nd, …, until a call makes no more), and records what each such call
/// kept, whether it panicked, and whether it returned at all. `f` is
/// primed once first (in this process: it must not crash with nothing
/// failed). Threads `f` creates count with it, as in [`super::measure`].
///
/// Each point runs first in a child process, forked from the calling
/// thread, which runs the point once and ends with `_exit` (no exit
/// handler, no flush of this process's buffers). If the library crashes
/// there (it used the NULL it got: SIGSEGV, or SIGBUS, SIGABRT, SIGFPE,
/// SIGILL), calls `exit`, or runs past [`POINT_TIME_LIMIT`], the point is
/// recorded as such ([`FaultPoint::ended`]), with the stack of the
/// allocation that was failed and the stack where the child ended, and
/// the sweep goes on with the next point. A point whose child returned is
/// then run and measured here, as [`FaultPoint`] describes. Cost: one
/// `fork` and one extra run of `f` per point.
///
/// On Linux only; elsewhere, and under Miri, points run in this process
/// alone (a crash ends it).
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
///
/// A library that does not check its allocation crashes at that point;
/// the sweep reports it and reaches the points after it:
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use leaklab::check::PointEnd;
/// let sweep = leaklab::check::fault_sweep(|| {
///     // SAFETY: the first block is checked, the second is not (the bug
///     // the sweep finds); both are freed.
///     unsafe {
///         let checked = libc::malloc(8);
///         let unchecked = libc::malloc(8).cast::<u8>();
///         if !checked.is_null() {
///             std::ptr::write_volatile(unchecked, 1);
///         }
///         libc::free(unchecked.cast());
///         libc::free(checked);
///     }
/// })
/// .unwrap();
/// # #[cfg(target_os = "linux")] {
/// assert_eq!(sweep.points.len(), 2);
/// assert!(sweep.points[0].is_clean());
/// assert!(matches!(
///     sweep.points[1].ended,
///     Some(PointEnd::Crashed { signal: libc::SIGSEGV, .. })
/// ));
/// assert!(std::panic::catch_unwind(|| sweep.assert_no_leaks()).is_err());
/// # }
/// ```
pub fn fault_sweep(f: impl FnMut()) -> Result<Sweep, CheckError> {
    fault_sweep_within(POINT_TIME_LIMIT, f)
}

/// [`fault_sweep`] with another time limit for each point's child.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use std::time::Duration;
/// let sweep = leaklab::check::fault_sweep_within(Duration::from_secs(5), || {
///     // SAFETY: malloc/free pair; a failed malloc gives NULL, freed as such.
///     unsafe { libc::free(libc::malloc(16)) }
/// })
/// .unwrap();
/// sweep.assert_no_leaks();
/// ```
pub fn fault_sweep_within(limit: Duration, mut f: impl FnMut()) -> Result<Sweep, CheckError> {
    counted()?;
    let _group = heap::group::open();
    snapshot();
    protocol::guarded(&mut || {
        f();
        Ok(())
    })
    .map_err(|message| CheckError::from(protocol::Failed { call: 0, message }))?;
    #[cfg(all(target_os = "linux", not(miri)))]
    super::isolate::prepare();
    let mut points = Vec::new();
    for nth in 1.. {
        match in_a_child(nth, &mut f, limit)? {
            Child::Returned { fired: false } => break,
            Child::Returned { fired: true } => {}
            Child::Ended { end, fired } => {
                let zero = || counts(heap::Snapshot::default(), 0);
                points.push(FaultPoint {
                    nth,
                    panic: None,
                    kept: zero(),
                    first: zero(),
                    ended: Some(end),
                });
                if fired {
                    continue;
                }
                // It ended with nothing failed yet: `f`'s own end, which
                // every later point would meet again.
                break;
            }
        }
        let first = run_point(nth, &mut f, |_, _| ());
        if !first.fired {
            break;
        }
        let repeat = run_point(nth, &mut f, |_, _| ());
        let panic = match (first.summary, repeat.summary) {
            (None, _) => Some(first.message),
            (_, None) => Some(repeat.message),
            _ => None,
        };
        let mut point = FaultPoint {
            nth,
            panic,
            kept: counts(repeat.kept, repeat.foreign_frees),
            first: counts(first.kept, first.foreign_frees),
            ended: None,
        };
        let kept_any = !(point.kept.c.is_clean() && point.kept.rust.is_clean());
        if kept_any && point.panic.is_none() {
            let (kept, foreign, sites) = recorded_point(nth, &mut f);
            point.kept = counts(kept, foreign);
            point.kept.attach(sites, 1);
        }
        points.push(point);
    }
    Ok(Sweep { points })
}

/// How a point's run in its child ended.
#[cfg_attr(not(all(target_os = "linux", not(miri))), allow(dead_code))]
enum Child {
    /// It returned (or panicked): measured here next.
    Returned { fired: bool },
    /// It never returned.
    Ended { end: PointEnd, fired: bool },
}

/// Point `nth` of `f` in a child process of its own.
#[cfg(all(target_os = "linux", not(miri)))]
fn in_a_child(nth: u64, f: &mut dyn FnMut(), limit: Duration) -> Result<Child, CheckError> {
    use super::isolate::Ran;
    match super::isolate::run(nth, f, limit) {
        Ok(Ran::Returned { fired }) => Ok(Child::Returned { fired }),
        Ok(Ran::Ended { end, fired }) => Ok(Child::Ended { end, fired }),
        Err(why) => Err(CheckError::Isolation { point: nth, why }),
    }
}

/// No child processes here: every point runs in this process alone.
#[cfg(not(all(target_os = "linux", not(miri))))]
fn in_a_child(_nth: u64, _f: &mut dyn FnMut(), _limit: Duration) -> Result<Child, CheckError> {
    Ok(Child::Returned { fired: true })
}

/// One call's figures as a measurement of one call, with no sites.
fn counts(kept: heap::Snapshot, foreign_frees: u64) -> Measurement {
    let side = |side: Live| SideLeak {
        blocks: side.blocks,
        bytes: side.bytes,
        calls: 1,
        split: None,
    };
    Measurement {
        c: side(kept.c),
        rust: side(kept.rust),
        foreign_frees,
        sites: Vec::new(),
        recorded_calls: 0,
        unrecorded_blocks: 0,
    }
}

/// Point `nth` of `f` once more, counted and with allocation stacks
/// recorded: what that one call kept, its foreign frees, and the sites.
fn recorded_point(nth: u64, f: impl FnOnce()) -> (heap::Snapshot, u64, RecordedSites) {
    let mut kept = heap::Snapshot::default();
    let mut foreign_frees = 0;
    let recorded = record_counted(|| {
        let before = heap::Snapshot::now_this_thread();
        let foreign = heap::c::thread_foreign_frees();
        heap::c::fail_nth(nth, false);
        let outcome = catch_unwind(AssertUnwindSafe(f));
        heap::c::stop_failing();
        drop(outcome);
        kept = heap::Snapshot::now_this_thread().since(before);
        foreign_frees = heap::c::thread_foreign_frees() - foreign;
        Ok::<(), ()>(())
    })
    .unwrap_or_default();
    (kept, foreign_frees, recorded)
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
