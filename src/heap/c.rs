//! The C side's exact live blocks and bytes, read from the allocation layer
//! every lab C library allocates through (csrc/lab_alloc.c), and its fault
//! injection switch.

use super::Live;
use crate::sys;

/// Bytes of header the allocation layer puts before each block. The counters
/// report requested bytes; a heap tool (valgrind) sees this much more per block.
pub const HEADER_BYTES: i64 = sys::LAB_ALLOC_HEADER as i64;

/// Live C blocks and requested bytes right now (process-wide).
pub fn live() -> Live {
    let stats = stats();
    Live {
        blocks: stats.live_blocks as i64,
        bytes: stats.live_bytes as i64,
    }
}

/// All the allocation layer's counters.
pub fn stats() -> sys::lab_alloc_stats {
    let mut out = sys::lab_alloc_stats {
        live_blocks: 0,
        live_bytes: 0,
        total_allocs: 0,
        failed_allocs: 0,
    };
    // SAFETY: `out` is a valid, writable `lab_alloc_stats`; the function only
    // writes the four counters into it.
    unsafe { sys::lab_alloc_stats_get(&mut out) };
    out
}

/// Fault injection: the `nth` C allocation from now fails (1 = the next
/// one), and every later one too if `persistent`.
pub fn fail_nth(nth: u64, persistent: bool) {
    // SAFETY: sets the layer's atomic countdown; no pointers involved.
    unsafe { sys::lab_alloc_fail_nth(nth, i32::from(persistent)) };
}

/// Switches fault injection off.
pub fn stop_failing() {
    fail_nth(0, false);
}

/// Allocations still to go before the armed failure (0: none armed, or it
/// already fired).
pub fn fail_pending() -> u64 {
    // SAFETY: reads the layer's atomic countdown; no pointers involved.
    unsafe { sys::lab_alloc_fail_pending() }
}
