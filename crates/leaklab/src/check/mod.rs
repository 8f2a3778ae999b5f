//! Leak checks for your own binding, in your own tests: measure a closure
//! over N calls and get its leak per call on each side of the boundary,
//! exactly, or sweep it with a failing C allocation at every point.
//!
//! Set-up: none beyond the dev-dependency. Every binary that links leaklab
//! gets its counting global allocator (Rust side) and its C allocator
//! interposer (C side: every `malloc` family call of the process, whichever
//! C library makes it). A test binary that has its own `#[global_allocator]`
//! cannot link leaklab. [`measure`] refuses to report when a side is not
//! being counted (an `uncounted` build, a sanitizer build, under valgrind),
//! so a zero always means zero.
//!
//! **The rule to know**: what is counted is what the *calling thread*, and
//! the threads it creates while it measures, allocate minus what they free
//! while the closure runs. libtest runs tests on several threads at once;
//! their allocations never show up in another test's measurement. A thread
//! the closure spawns counts with it (so `thread::spawn(..).join()` keeps
//! nothing); memory handed to a thread that existed before (a pool's
//! worker) and freed there is seen as kept. Allocation stacks and the
//! lost/reachable split cover the calling thread's blocks only.
//!
//! The protocol is the lab's: one priming call first, so one-time lazy
//! allocations (a library's global set-up, a first-use cache) are not
//! counted; then N calls between two snapshots.
//!
//! ```
//! # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
//! use leaklab::check::{self, Side};
//!
//! // A clean closure: what it allocates it frees.
//! check::measure(100, || drop(vec![0u8; 64]))
//!     .expect("counted")
//!     .assert_clean();
//!
//! // A leaky one: one C block of 24 bytes per call.
//! let leaked = check::measure(100, || {
//!     // SAFETY: a plain malloc, deliberately never freed.
//!     let p = unsafe { libc::malloc(24) };
//!     assert!(!p.is_null());
//! })
//! .expect("counted");
//! leaked.assert_leaks(Side::C, 1, 24);
//! assert!(leaked.rust.is_clean());
//! ```

#[doc(hidden)]
pub mod child;
mod fault;
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) mod isolate;
mod limits;
#[doc(hidden)]
pub mod protocol;
mod sites;
mod symbols;

use std::fmt;

use crate::heap;

pub use crate::heap::{Live, Side};
pub use fault::{
    FaultPoint, POINT_TIME_LIMIT, PointEnd, Sweep, fault_sweep, fault_sweep_within, signal_name,
};
#[doc(hidden)]
pub use fault::{PointRun, keep_text, record_point, run_point};
pub use sites::{Frame, Site};
#[doc(hidden)]
pub use sites::{describe as describe_sites, shown_frames};
#[doc(hidden)]
pub use {
    sites::raw_stack_frames,
    symbols::{
        Object as LoadedObject, TOOL_VAR as SYMBOL_TOOL_VAR, loaded_objects,
        resolve_in as resolve_symbols_in, tool as symbol_tool, use_tool as use_symbol_tool,
    },
};

/// Extra calls recorded, after a measurement that found a leak, for the
/// allocation stacks and the lost/reachable split of what they keep.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let mut calls = 0;
/// leaklab::check::measure(3, || { calls += 1; std::mem::forget(Box::new(1u8)) }).unwrap();
/// assert_eq!(calls, 1 + 3 + leaklab::check::RECORDED_CALLS);
/// ```
pub const RECORDED_CALLS: u64 = 2;

/// What one side kept over the measured calls.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let kept = leaklab::check::measure(10, || ()).unwrap().c;
/// assert_eq!((kept.blocks, kept.bytes), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SideLeak {
    /// Blocks allocated and not freed, over all the calls (negative: the
    /// closure freed memory it did not allocate in the window).
    pub blocks: i64,
    /// Their requested bytes.
    pub bytes: i64,
    /// Calls measured.
    pub calls: u64,
    /// Lost vs still reachable, from the recorded calls (`None`: nothing
    /// was recorded: a clean side, or [`measure_counts`]).
    pub split: Option<Split>,
}

/// What the recorded calls kept on one side, lost and still reachable: a
/// block is reachable while a pointer to it is somewhere in memory (a
/// cache, a static, a live structure), and lost when none is, as memcheck
/// and LeakSanitizer classify at exit.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let m = leaklab::check::measure(5, || std::mem::forget(vec![0u8; 8])).unwrap();
/// let split = m.rust.split.unwrap();
/// assert_eq!((split.lost_blocks, split.reachable_blocks), (split.calls, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Split {
    /// Recorded calls the figures are over.
    pub calls: u64,
    /// Blocks no pointer in memory reaches any more.
    pub lost_blocks: u64,
    /// Their requested bytes.
    pub lost_bytes: u64,
    /// Blocks still pointed to (a cache, a static, a live structure).
    pub reachable_blocks: u64,
    /// Their requested bytes.
    pub reachable_bytes: u64,
}

impl Split {
    fn of(side: Side, sites: &[Site], calls: u64) -> Option<Split> {
        let mut split = Split {
            calls,
            ..Split::default()
        };
        for site in sites.iter().filter(|s| s.side == side) {
            split.lost_blocks += site.lost_blocks;
            split.lost_bytes += site.lost_bytes;
            split.reachable_blocks += site.blocks - site.lost_blocks;
            split.reachable_bytes += site.bytes - site.lost_bytes;
        }
        (split.lost_blocks + split.reachable_blocks > 0).then_some(split)
    }

    /// "all lost", "all still reachable", or "per recorded call: 2 blocks /
    /// 64 B lost, 1 block / 8 B reachable".
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let m = leaklab::check::measure(2, || std::mem::forget(Box::new(0u8))).unwrap();
    /// assert_eq!(m.rust.split.unwrap().describe(), "all lost");
    /// ```
    pub fn describe(&self) -> String {
        match (self.lost_blocks, self.reachable_blocks) {
            (_, 0) => "all lost".into(),
            (0, _) => "all still reachable".into(),
            _ => format!(
                "over {} recorded calls: {} blocks / {} B lost, {} blocks / {} B reachable",
                self.calls,
                self.lost_blocks,
                self.lost_bytes,
                self.reachable_blocks,
                self.reachable_bytes
            ),
        }
    }
}

impl SideLeak {
    /// Nothing kept.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert!(leaklab::check::measure(5, || ()).unwrap().rust.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.blocks == 0 && self.bytes == 0
    }

    /// `(blocks, bytes)` per call, if every call kept the same amount.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let m = leaklab::check::measure(4, || std::mem::forget(Box::new([0u8; 8]))).unwrap();
    /// assert_eq!(m.rust.per_call(), Some((1, 8)));
    /// ```
    pub fn per_call(&self) -> Option<(i64, i64)> {
        let n = self.calls as i64;
        (n > 0 && self.blocks % n == 0 && self.bytes % n == 0)
            .then(|| (self.blocks / n, self.bytes / n))
    }

    /// "3 blocks / 96 B per call (300 blocks / 9600 B in 100 calls)".
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// let m = leaklab::check::measure(2, || ()).unwrap();
    /// assert_eq!(m.c.describe(), "clean");
    /// ```
    pub fn describe(&self) -> String {
        if self.is_clean() {
            return "clean".into();
        }
        let total = format!(
            "{} blocks / {} B in {} calls",
            self.blocks, self.bytes, self.calls
        );
        let amount = match self.per_call() {
            Some((blocks, bytes)) => format!("{blocks} blocks / {bytes} B per call ({total})"),
            None => format!("not a whole number per call: {total}"),
        };
        match self.split {
            Some(split) => format!("{amount}, {}", split.describe()),
            None => amount,
        }
    }
}

/// Both sides of one measurement.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let m = leaklab::check::measure(3, || ()).unwrap();
/// assert!(m.is_clean());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Measurement {
    /// What the C allocator (every `malloc` family call) kept.
    pub c: SideLeak,
    /// What the Rust global allocator kept.
    pub rust: SideLeak,
    /// Frees, by this thread in the window, of pointers no C allocation
    /// handed out: another allocator's memory given to `free` (Rust memory
    /// freed by a C library, say). Non-zero makes the C figures unreliable.
    pub foreign_frees: u64,
    /// Where the kept blocks came from, biggest first: the blocks that
    /// [`RECORDED_CALLS`] more calls kept, with their allocation stacks.
    /// Empty when nothing leaked or nothing was recorded.
    pub sites: Vec<Site>,
    /// Calls recorded for `sites` (0: none).
    pub recorded_calls: u64,
    /// Blocks the recorded calls allocated past the stack recorder's
    /// capacity (65,536 blocks per recording): not followed, so neither
    /// in `sites` nor in the split, and named in the message.
    pub unrecorded_blocks: u64,
}

impl Measurement {
    /// The side's figures.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use leaklab::check::{measure, Side};
    /// assert!(measure(1, || ()).unwrap().side(Side::C).is_clean());
    /// ```
    pub fn side(&self, side: Side) -> &SideLeak {
        match side {
            Side::C => &self.c,
            Side::Rust => &self.rust,
        }
    }

    /// Nothing kept on either side, and no foreign frees.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// assert!(leaklab::check::measure(3, || ()).unwrap().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.c.is_clean() && self.rust.is_clean() && self.foreign_frees == 0
    }

    /// Panics, naming the side, the blocks and bytes per call, unless the
    /// closure kept nothing.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// leaklab::check::measure(10, || drop(String::from("x"))).unwrap().assert_clean();
    /// ```
    #[track_caller]
    pub fn assert_clean(&self) {
        if !self.is_clean() {
            panic!("expected no leak, but {self}");
        }
    }

    /// Panics unless `side` kept exactly `blocks` blocks of `bytes` bytes
    /// per call and the other side kept nothing.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use leaklab::check::{measure, Side};
    /// measure(8, || std::mem::forget(vec![0u64; 4]))
    ///     .unwrap()
    ///     .assert_leaks(Side::Rust, 1, 32);
    /// ```
    #[track_caller]
    pub fn assert_leaks(&self, side: Side, blocks: i64, bytes: i64) {
        let other = side.other();
        let ok = self.side(side).per_call() == Some((blocks, bytes))
            && self.side(other).is_clean()
            && self.foreign_frees == 0;
        if !ok {
            panic!(
                "expected {side} to keep {blocks} blocks / {bytes} B per call and {other} nothing, but {self}"
            );
        }
    }
}

impl fmt::Display for Measurement {
    /// "C kept 1 blocks / 24 B per call (…); Rust clean".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |name: &str, leak: &SideLeak| {
            if leak.is_clean() {
                format!("{name} clean")
            } else {
                format!("{name} kept {}", leak.describe())
            }
        };
        write!(f, "{}; {}", side("C", &self.c), side("Rust", &self.rust))?;
        if self.foreign_frees > 0 {
            write!(
                f,
                "; {} frees of memory the C allocator never handed out (another allocator's \
                 blocks given to free): the C figures are not reliable",
                self.foreign_frees
            )?;
        }
        if !self.sites.is_empty() || self.unrecorded_blocks > 0 {
            writeln!(f)?;
            let recorded = format!("{} more recorded calls", self.recorded_calls);
            sites::describe_with(&self.sites, &recorded, self.unrecorded_blocks, f)?;
        }
        Ok(())
    }
}

/// Why a measurement could not be made.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use leaklab::check::{measure, CheckError};
/// assert_eq!(measure(0, || ()).unwrap_err(), CheckError::NoCalls);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// N was 0: nothing would be measured.
    NoCalls,
    /// A side is not being counted in this process, so it cannot be
    /// measured (and a zero would be a lie).
    NotCounted {
        /// The side that is not counted.
        side: Side,
        /// Why, and what fixes it.
        why: &'static str,
    },
    /// The closure panicked (in the priming call or a measured one).
    Panicked {
        /// Which call (0: the priming call).
        call: u64,
        /// The panic's message.
        message: String,
    },
    /// C blocks this thread allocated during the measured calls were not
    /// recorded (the interposer's side table could not grow, or a signal
    /// handler allocated while the thread was inside the allocator), so the
    /// C figures would not be exact: no verdict, rather than a wrong one.
    Untracked {
        /// Blocks handed out unrecorded during the measured calls.
        blocks: u64,
    },
    /// A fault sweep could not run a point in a child process of its own
    /// (`fork` failed, or the child could not be waited for): the sweep
    /// stops there rather than run the point unprotected or skip it.
    Isolation {
        /// The point (1 = the first C allocation failed).
        point: u64,
        /// What failed, with the system's error.
        why: String,
    },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NoCalls => f.write_str("measure needs at least one call (N = 0)"),
            CheckError::NotCounted { side, why } => {
                write!(f, "the {side} side is not counted in this process: {why}")
            }
            CheckError::Panicked { call, message } => {
                write!(f, "the closure panicked in call {call}: {message}")
            }
            CheckError::Untracked { blocks } => write!(
                f,
                "{blocks} C blocks untracked during the measured calls (the C allocator's side \
                 table could not record them: it could not grow, or a signal handler allocated \
                 inside the allocator): the C figures would not be exact"
            ),
            CheckError::Isolation { point, why } => write!(
                f,
                "fault point {point} could not be run in a child process of its own ({why}): \
                 the sweep stops there, no point is skipped unchecked"
            ),
        }
    }
}

impl std::error::Error for CheckError {}

/// Both counting mechanisms are live in this process, or why not.
fn counted() -> Result<(), CheckError> {
    if let Some(why) = heap::rust::nesting_error() {
        return Err(CheckError::NotCounted {
            side: Side::Rust,
            why,
        });
    }
    if !heap::rust::is_counted() {
        return Err(CheckError::NotCounted {
            side: Side::Rust,
            why: "no `leaklab::Counting` global allocator in this binary: add \
                  `#[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();` \
                  (or wrap your own: `leaklab::Counting::new(MyAlloc)`)",
        });
    }
    if !heap::c::is_counted() {
        return Err(CheckError::NotCounted {
            side: Side::C,
            why: "the C allocator is not interposed here (under valgrind, which replaces it, \
                  mark the test `#[leaklab::test]` to run it in a counted child; or a \
                  sanitizer build, a non-glibc target, or leaklab's `uncounted` feature)",
        });
    }
    Ok(())
}

/// A panic's message: its `&str` or `String` payload, as `panic!` makes
/// them (borrowed: reading it allocates nothing).
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
/// assert_eq!(leaklab::check::panic_text(payload.as_ref()), "at 3");
/// ```
#[doc(hidden)]
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic with no message)"
    }
}

struct ThreadSnapshot {
    c: Live,
    rust: Live,
    foreign: u64,
    untracked: u64,
}

/// The calling thread's counts, with those of the threads it created
/// while its group was open ([`heap::group`]).
fn snapshot() -> ThreadSnapshot {
    let now = heap::Snapshot::now_this_thread();
    ThreadSnapshot {
        c: now.c,
        rust: now.rust,
        foreign: heap::c::thread_foreign_frees(),
        untracked: heap::c::thread_untracked(),
    }
}

fn kept(after: Live, before: Live, calls: u64) -> SideLeak {
    let d = after.since(before);
    SideLeak {
        blocks: d.blocks,
        bytes: d.bytes,
        calls,
        split: None,
    }
}

/// Blocks and bytes the calling thread allocated minus freed on `side`,
/// since per-thread counting began (the first such call in the process):
/// take two and subtract ([`Live::since`]) to count a stretch of code that
/// is not a closure called N times.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// use leaklab::check::{thread_live, Side};
/// let before = thread_live(Side::Rust);
/// let kept = Box::new([0u8; 40]);
/// assert_eq!(thread_live(Side::Rust).since(before).bytes, 40);
/// drop(kept);
/// ```
pub fn thread_live(side: Side) -> Live {
    match side {
        Side::C => heap::c::thread_live(),
        Side::Rust => heap::rust::thread_live(),
    }
}

/// Calls `f` once to prime it, then `calls` times more, and returns what
/// the calling thread kept on each side over those `calls` calls. If it
/// kept anything, [`RECORDED_CALLS`] more calls are made with allocation
/// stacks recorded ([`Measurement::sites`]) and what they kept is split
/// into lost and reachable ([`SideLeak::split`]).
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let m = leaklab::check::measure(50, || drop(vec![1u8; 10])).unwrap();
/// assert!(m.is_clean(), "{m}");
/// ```
pub fn measure(calls: u64, f: impl FnMut()) -> Result<Measurement, CheckError> {
    measure_with(calls, f, true)
}

/// [`measure`] without the recorded calls: counts only, the closure runs
/// exactly `calls + 1` times.
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// let m = leaklab::check::measure_counts(10, || std::mem::forget(Box::new(1u64))).unwrap();
/// assert_eq!(m.rust.per_call(), Some((1, 8)));
/// assert!(m.sites.is_empty() && m.rust.split.is_none());
/// ```
pub fn measure_counts(calls: u64, f: impl FnMut()) -> Result<Measurement, CheckError> {
    measure_with(calls, f, false)
}

fn measure_with(calls: u64, mut f: impl FnMut(), stacks: bool) -> Result<Measurement, CheckError> {
    if calls == 0 {
        return Err(CheckError::NoCalls);
    }
    counted()?;
    // Threads the closure creates count with this one.
    let _group = heap::group::open();
    // Per-thread counting starts now, before the priming call, so what the
    // priming call allocates and a later call frees is counted both ways.
    snapshot();
    let mut call = || {
        f();
        Ok(())
    };
    let mut calls_from = |range| {
        protocol::repeat(range, &mut call, |_| Ok::<(), ()>(()))
            .unwrap_or_else(|()| unreachable!("the hook never fails"))
            .map_err(CheckError::from)
    };
    calls_from(0..=0)?;
    let before = snapshot();
    calls_from(1..=calls)?;
    let after = snapshot();
    let untracked = after.untracked - before.untracked;
    if untracked != 0 {
        return Err(CheckError::Untracked { blocks: untracked });
    }
    let mut m = Measurement {
        c: kept(after.c, before.c, calls),
        rust: kept(after.rust, before.rust, calls),
        foreign_frees: after.foreign - before.foreign,
        sites: Vec::new(),
        recorded_calls: 0,
        unrecorded_blocks: 0,
    };
    if stacks && !(m.c.is_clean() && m.rust.is_clean()) {
        let recorded = record_counted(|| calls_from(calls + 1..=calls + RECORDED_CALLS).map(drop))?;
        m.attach(recorded, RECORDED_CALLS);
    }
    Ok(m)
}

/// A failed call of the measured closure (it can only panic).
impl From<protocol::Failed> for CheckError {
    fn from(failed: protocol::Failed) -> CheckError {
        let message = failed.message;
        CheckError::Panicked {
            call: failed.call,
            message: message
                .strip_prefix("panicked: ")
                .map_or(message.clone(), str::to_owned),
        }
    }
}

impl Measurement {
    fn attach(&mut self, recorded: RecordedSites, calls: u64) {
        let sites = recorded.sites;
        self.c.split = Split::of(Side::C, &sites, calls);
        self.rust.split = Split::of(Side::Rust, &sites, calls);
        self.sites = sites;
        self.recorded_calls = calls;
        self.unrecorded_blocks = recorded.unrecorded;
    }
}

/// What a recording found: the sites, and the blocks it could not follow.
#[derive(Debug, Default)]
struct RecordedSites {
    sites: Vec<Site>,
    /// Allocations past the recorder's capacity.
    unrecorded: u64,
}

/// Runs `f` with allocation stacks recorded, and returns where what it
/// kept came from, lost and reachable. Recording is unavailable under
/// Miri (no sites), and when its store cannot be mapped (no sites).
#[doc(hidden)]
pub fn record<E>(f: impl FnOnce() -> Result<(), E>) -> Result<Vec<Site>, E> {
    record_counted(f).map(|recorded| recorded.sites)
}

/// [`record`], with the count of blocks past the recorder's capacity.
fn record_counted<E>(f: impl FnOnce() -> Result<(), E>) -> Result<RecordedSites, E> {
    #[cfg(not(miri))]
    {
        let Some(recording) = heap::stacks::start() else {
            return f().map(|()| RecordedSites::default());
        };
        let outcome = f();
        let recorded = recording.stop();
        outcome?;
        heap::scrub_stack();
        let reachable = heap::reach::reachable(&recorded);
        Ok(RecordedSites {
            sites: sites::group(&recorded, &reachable),
            unrecorded: recorded.dropped,
        })
    }
    #[cfg(miri)]
    {
        f().map(|()| RecordedSites::default())
    }
}

/// The test's name as libtest's `--exact` matches it, from the
/// `module_path!()` of its module and its function name: the crate's own
/// name (the first segment) is not part of it.
///
/// ```
/// use leaklab::check::test_path;
/// assert_eq!(test_path("my_crate::ffi::tests", "frees"), "ffi::tests::frees");
/// assert_eq!(test_path("leaks", "frees"), "frees"); // tests/leaks.rs
/// ```
pub fn test_path(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    }
}

/// What a test body returns: `()`, or a `Result` whose error fails it.
#[doc(hidden)]
pub trait TestOutcome {
    /// `Err` with the error's text if the test failed.
    fn into_failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn into_failure(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Debug> TestOutcome for Result<(), E> {
    fn into_failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// Runs `body`, the whole of the test called `test` (as libtest's
/// `--exact` matches it: [`test_path`]), in a process where both sides
/// are counted: this one when it is, and otherwise (under valgrind, whose
/// malloc replaces the C interposer) a child process re-running this test
/// binary on `test` alone, which valgrind does not follow (no
/// `--trace-children`), so it runs natively. The child must succeed and
/// report that it ran `body` to the end with the counters live; if it
/// cannot count either (a build without the interposer, valgrind with
/// `--trace-children`), the test fails: it never passes without its
/// checks. A child's panic fails the test with the child's message and
/// location first.
///
/// `#[leaklab::test]` writes this call for you; call it yourself only
/// where the attribute cannot go.
///
/// ```no_run
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// # fn my_binding_call() {}
/// #[test]
/// fn my_binding_is_clean() {
///     leaklab::check::in_a_counted_process("my_binding_is_clean", || {
///         leaklab::check::measure(100, my_binding_call)
///             .expect("counted")
///             .assert_clean();
///     });
/// }
/// ```
#[track_caller]
pub fn in_a_counted_process<R: TestOutcome>(test: &str, body: impl FnOnce() -> R) {
    child::run(test, child::When::NotCounted, || {
        if let Some(failure) = body().into_failure() {
            panic!("{test} returned an error: {failure}");
        }
        String::new()
    });
}
