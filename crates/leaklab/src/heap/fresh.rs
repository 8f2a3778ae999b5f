//! Fresh addresses for recorded calls. While a thread records allocation
//! stacks ([`super::stacks`]), its blocks come from this region, mapped
//! once and never reused, instead of from glibc. So no pointer to a
//! recorded block can be older than the block: a stale copy of a pointer
//! to whatever glibc had at that address before (in freed memory, say)
//! cannot make a lost block look reachable to the scan ([`super::reach`]).
//!
//! Blocks here are never given back (a free only forgets them); each has a
//! glibc-style chunk size word in front, marked as mmapped, so that
//! `malloc_usable_size`, which is glibc's own, answers for it correctly.
//! The region is bounded: when it is used up, allocation falls back to
//! glibc and [`exhausted`] says so.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Address space reserved (not committed: pages are used as touched).
const SIZE: usize = 64 << 20;
/// glibc's chunk header: prev_size and size words.
const HEADER: usize = 16;
/// glibc's "this chunk was mmapped" bit in the size word.
const IS_MMAPPED: usize = 2;

static BASE: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static EXHAUSTED: AtomicBool = AtomicBool::new(false);

/// Maps the region, once; false if it could not be mapped.
pub fn map() -> bool {
    if BASE.load(Relaxed) != 0 {
        return true;
    }
    // SAFETY: an anonymous private mapping; no existing memory involved.
    let mapped = unsafe {
        libc::mmap(
            ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if mapped == libc::MAP_FAILED {
        return false;
    }
    BASE.store(mapped as usize, Relaxed);
    true
}

/// Whether `addr` is a block of this region.
#[inline]
pub fn contains(addr: usize) -> bool {
    let base = BASE.load(Relaxed);
    base != 0 && addr >= base && addr < base + SIZE
}

/// The region's unused part `(start, size)`: nothing to scan there.
pub fn unused() -> (usize, usize) {
    let base = BASE.load(Relaxed);
    if base == 0 {
        return (0, 0);
    }
    let next = NEXT.load(Relaxed);
    (base + next, SIZE - next)
}

/// Whether an allocation ever fell back to glibc because the region was
/// used up.
pub fn exhausted() -> bool {
    EXHAUSTED.load(Relaxed)
}

/// A zeroed block of `size` bytes aligned to `align` (a power of two), or
/// NULL when the region is used up or the request could never fit in it
/// (every size is checked: `malloc(SIZE_MAX)` is NULL, not a wrapped
/// size). Called by the recording thread only, but a signal handler on it
/// may call it too in the middle of a call: the bump is a single
/// compare-and-swap, so the two never get the same bytes.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let base = BASE.load(Relaxed);
    if base == 0 || !align.is_power_of_two() {
        return ptr::null_mut();
    }
    let align = align.max(HEADER);
    // The chunk: header and block, rounded to whole headers.
    let Some(chunk) = size
        .max(1)
        .checked_add(HEADER)
        .and_then(|c| c.checked_next_multiple_of(HEADER))
    else {
        return ptr::null_mut();
    };
    if chunk > SIZE {
        return ptr::null_mut(); // would never fit: not "used up"
    }
    let mut next = NEXT.load(Relaxed);
    loop {
        // `next` is at most SIZE past `base`, a mapped address: no overflow
        // but in the alignment, which is checked.
        let Some(start) = (base + next + HEADER).checked_next_multiple_of(align) else {
            return ptr::null_mut();
        };
        let end = start - HEADER - base + chunk; // an offset, like `next`
        if end > SIZE {
            EXHAUSTED.store(true, Relaxed);
            return ptr::null_mut();
        }
        match NEXT.compare_exchange_weak(next, end, Relaxed, Relaxed) {
            Ok(_) => {
                // SAFETY: `start - 8` is inside the region and ours (below
                // `start`, at or above the previous block's end).
                unsafe { ((start - 8) as *mut usize).write(chunk | IS_MMAPPED) };
                return start as *mut u8;
            }
            Err(now) => next = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_disjoint_and_sized_for_malloc_usable_size() {
        // malloc_usable_size must be glibc's: under valgrind (whose own
        // answers 0 for blocks it did not hand out) this runs in a child.
        crate::check::in_a_counted_process(
            "heap::fresh::tests::blocks_are_aligned_disjoint_and_sized_for_malloc_usable_size",
            || {
                assert!(map());
                let a = alloc(10, 8);
                let b = alloc(100, 64);
                assert!(!a.is_null() && !b.is_null());
                assert_eq!(b as usize % 64, 0);
                assert!(b as usize >= a as usize + 10);
                assert!(contains(a as usize) && contains(b as usize));
                // SAFETY: both are blocks of the region, with their size word.
                let (ua, ub) = unsafe {
                    (
                        libc::malloc_usable_size(a.cast()),
                        libc::malloc_usable_size(b.cast()),
                    )
                };
                assert!((10..10 + 32).contains(&ua), "{ua}");
                assert!((100..100 + 32).contains(&ub), "{ub}");
            },
        );
    }
}
