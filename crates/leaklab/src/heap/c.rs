//! The C side's exact live blocks and bytes: every C allocation of the
//! process, whichever library makes it, counted where it reaches the C
//! allocator ([`super::interpose`]); and fault injection at that allocator.
//!
//! Under Miri, which runs no C, a C library is modelled in Rust and its
//! model allocates through `heap::modelled` (a Miri build only), which
//! counts; in a build without the interposer (the `uncounted` baseline, a
//! sanitizer build) nothing is counted and [`is_counted`] says so, so a
//! zero is never mistaken for "clean".

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use super::Live;

#[cfg(all(leaklab_interpose, not(miri)))]
use super::interpose as source;
#[cfg(miri)]
use super::modelled as source;

/// The C allocator's counters at one moment, whichever source counts
/// them (the interposer, the Miri model's allocator, or none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blocks handed out and not freed.
    pub live_blocks: i64,
    /// Their requested bytes.
    pub live_bytes: i64,
    /// Allocations made.
    pub total_allocs: u64,
    /// Allocations failed by fault injection.
    pub failed_allocs: u64,
    /// Frees of pointers no C allocation handed out.
    pub foreign_frees: u64,
    /// Blocks handed out but not recorded, process-wide, ever (see
    /// [`thread_untracked`]): while this moves, the counts are not exact.
    pub untracked: u64,
}

/// Live C blocks and requested bytes right now (process-wide).
pub fn live() -> Live {
    let stats = stats();
    Live {
        blocks: stats.live_blocks,
        bytes: stats.live_bytes,
    }
}

/// This thread's C blocks and bytes, allocated minus freed, since the first
/// call of this function in the process: compare two calls. Exact for code
/// that allocates and frees on one thread whatever other threads do.
pub fn thread_live() -> Live {
    counters::thread_live()
}

/// This thread's frees of pointers that no C allocation of the process
/// handed out (another allocator's memory given to `free`), so far.
pub fn thread_foreign_frees() -> u64 {
    counters::thread_foreign_frees()
}

/// This thread's C blocks handed out without being recorded, so far (a
/// signal handler's allocation while the thread was inside the
/// interposer, a side table that could not grow, a fork that held it too
/// long): while this moves, this thread's C figures are not exact.
pub fn thread_untracked() -> u64 {
    counters::thread_untracked()
}

/// All the counters.
pub fn stats() -> Stats {
    counters::stats()
}

/// Whether C allocations are being counted in this process: false in a
/// build without the interposer, and when another allocator (valgrind's)
/// replaced it.
pub fn is_counted() -> bool {
    counters::is_active()
}

/// Fault injection: the `nth` C allocation of the calling thread from now
/// fails (1 = the next one), and every later one of that thread too if
/// `persistent`. Rust allocations are never failed.
pub fn fail_nth(nth: u64, persistent: bool) {
    counters::fail_nth(nth, persistent);
}

/// Frames kept of the stack of the last allocation fault injection failed.
const FAILED_FRAMES: usize = 48;

/// The stack of the last failed allocation (return addresses, innermost
/// first), process-wide: written in the allocator, read after the fact
/// (by a crash handler too), so plain atomics, no lock, no allocation.
static FAILED_STACK: [AtomicUsize; FAILED_FRAMES] = [const { AtomicUsize::new(0) }; FAILED_FRAMES];
static FAILED_DEPTH: AtomicUsize = AtomicUsize::new(0);

/// Called by the interposer when an armed failure fires.
#[cfg(all(leaklab_interpose, not(miri)))]
pub(super) fn note_failed_allocation() {
    let mut frames = [0usize; FAILED_FRAMES];
    let depth = super::unwind::trace(&mut frames);
    for (slot, &ip) in FAILED_STACK.iter().zip(&frames[..depth]) {
        slot.store(ip, Relaxed);
    }
    FAILED_DEPTH.store(depth, Relaxed);
    // In a fault sweep's child, the parent gets it at once: a library
    // that then ends the process in a way no handler sees (`_exit`, a
    // hang killed at the time limit) still names the failed call.
    crate::check::isolate::on_failed_allocation(&frames[..depth]);
}

/// Copies the stack of the last allocation fault injection failed into
/// `out` (return addresses, innermost first, the allocator's own frames
/// included) and returns how many it wrote (0: none failed yet). Neither
/// allocates nor locks: a signal handler may call it.
pub fn failed_allocation_stack(out: &mut [usize]) -> usize {
    let depth = FAILED_DEPTH.load(Relaxed).min(out.len());
    for (slot, ip) in out.iter_mut().zip(&FAILED_STACK[..depth]) {
        *slot = ip.load(Relaxed);
    }
    depth
}

/// Forgets the last failed allocation's stack (before a new point).
pub fn clear_failed_allocation() {
    FAILED_DEPTH.store(0, Relaxed);
}

/// Switches fault injection off.
pub fn stop_failing() {
    fail_nth(0, false);
}

/// Allocations still to go before the armed failure (0: none armed, or it
/// already fired).
pub fn fail_pending() -> u64 {
    counters::fail_pending()
}

#[cfg(any(miri, all(leaklab_interpose, not(miri))))]
mod counters {
    pub use super::source::{
        fail_nth, fail_pending, is_active, stats, thread_foreign_frees, thread_live,
        thread_untracked,
    };
}

/// No interposer in this build: nothing is counted, and it says so.
#[cfg(not(any(miri, all(leaklab_interpose, not(miri)))))]
mod counters {
    use super::Stats;
    use crate::heap::Live;

    pub fn stats() -> Stats {
        Stats::default()
    }
    pub fn thread_live() -> Live {
        Live::default()
    }
    pub fn thread_foreign_frees() -> u64 {
        0
    }
    pub fn thread_untracked() -> u64 {
        0
    }
    pub fn is_active() -> bool {
        false
    }
    pub fn fail_nth(_nth: u64, _persistent: bool) {}
    pub fn fail_pending() -> u64 {
        0
    }
}
