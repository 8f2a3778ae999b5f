//! A counting global allocator: the Rust side's exact live blocks and bytes.
//! It wraps the allocator the program would use anyway (`System`, jemalloc,
//! mimalloc), sees every Rust allocation and none of the C libraries'
//! (those are counted at the C allocator, [`super::c`]); its calls into the
//! inner allocator, which may call `malloc`, are marked so the C counters
//! leave them out.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering::Relaxed};

use super::Live;

#[cfg(all(leaklab_interpose, not(miri)))]
use super::interpose::as_rust;

#[cfg(not(miri))]
use super::fresh::contains as is_fresh;
#[cfg(not(miri))]
use super::stacks::{fresh_block, on_alloc, on_free, recording_here};

/// Miri records no stacks.
#[cfg(miri)]
fn on_alloc(_addr: usize, _size: usize, _side: super::Side) {}
#[cfg(miri)]
fn on_free(_addr: usize, _size: usize) {}
#[cfg(miri)]
fn fresh_block(_size: usize, _align: usize) -> Option<*mut u8> {
    None
}
#[cfg(miri)]
fn is_fresh(_addr: usize) -> bool {
    false
}
#[cfg(miri)]
fn recording_here() -> bool {
    false
}

/// No interposer to tell apart from: call straight through.
#[cfg(not(all(leaklab_interpose, not(miri))))]
#[inline]
fn as_rust<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// No side table to show Rust's blocks to.
#[cfg(not(all(leaklab_interpose, not(miri))))]
mod no_table {
    #[inline]
    pub fn rust_allocated(_ptr: *mut u8, _size: usize) {}
    #[inline]
    pub fn rust_freeing(_ptr: *mut u8) -> bool {
        true
    }
    #[inline]
    pub fn rust_moves_by_hand() -> bool {
        false
    }
}
#[cfg(all(leaklab_interpose, not(miri)))]
use super::interpose::{rust_allocated, rust_freeing, rust_moves_by_hand};
#[cfg(not(all(leaklab_interpose, not(miri))))]
use no_table::{rust_allocated, rust_freeing, rust_moves_by_hand};

/// The global allocator wrapper that counts the Rust side: install it once
/// in the test binary (or any binary) that measures, around the allocator
/// it would use anyway.
///
/// ```
/// // The system allocator, counted:
/// #[global_allocator]
/// static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// # fn main() {}
/// ```
///
/// Any other `GlobalAlloc` is wrapped the same way:
/// `leaklab::Counting::new(tikv_jemallocator::Jemalloc)`. Without the
/// line, [`crate::check::measure`] refuses to measure (it never reports a
/// zero it did not count). One `Counting` per binary: nested ones
/// (`Counting<Counting<System>>`) would count every Rust allocation twice,
/// so the first measurement fails, naming the fix, instead.
pub struct Counting<A = System> {
    inner: A,
}

impl Counting<System> {
    /// The system allocator, counted.
    ///
    /// ```
    /// static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// ```
    pub const fn system() -> Counting<System> {
        Counting { inner: System }
    }
}

impl<A> Counting<A> {
    /// `inner`, counted: every allocation goes to `inner` unchanged.
    ///
    /// ```
    /// use std::alloc::System;
    /// static ALLOC: leaklab::Counting<System> = leaklab::Counting::new(System);
    /// ```
    pub const fn new(inner: A) -> Counting<A> {
        Counting { inner }
    }
}

/// How many [`Counting`] layers the global allocator has, as far as known:
/// [`UNKNOWN`] until the first call forwarded to an inner allocator has
/// returned (so, while it is, no `Counting` is the global allocator, or it
/// has served nothing yet), then [`ONE`], or [`NESTED`]
/// (`Counting<Counting<…>>`).
static LAYERS: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const ONE: u8 = 1;
const NESTED: u8 = 2;

thread_local! {
    /// `Counting` calls in progress on this thread, kept only while
    /// [`LAYERS`] is unknown: a call that starts inside another is a
    /// nested `Counting`.
    static DEPTH: Cell<u8> = const { Cell::new(0) };
}

/// Calls the inner allocator (`f`), marked as the Rust side's. Until the
/// first such call returns, it also tells whether `Counting`s are nested:
/// if they are, every allocation passes through both, so the very first
/// one finds a `Counting` call already in progress on its thread. After
/// that, the cost is one relaxed load.
#[inline]
fn forward<R>(f: impl FnOnce() -> R) -> R {
    if LAYERS.load(Relaxed) != UNKNOWN {
        return as_rust(f);
    }
    probe(f)
}

#[cold]
#[inline(never)]
fn probe<R>(f: impl FnOnce() -> R) -> R {
    // try_with: the slot may be gone while a thread exits (then no probe).
    let Ok(depth) = DEPTH.try_with(|d| d.replace(d.get().saturating_add(1))) else {
        return as_rust(f);
    };
    if depth > 0 {
        LAYERS.store(NESTED, Relaxed);
    }
    let out = as_rust(f);
    let _ = DEPTH.try_with(|d| d.set(depth));
    if depth == 0 {
        // An outermost call is back: had it a `Counting` inside, that one
        // has said NESTED already, and this does nothing.
        let _ = LAYERS.compare_exchange(UNKNOWN, ONE, Relaxed, Relaxed);
    }
    out
}

/// The error for nested [`Counting`] allocators, which count every Rust
/// allocation twice; `None` when they are not nested (or not known to be:
/// this makes one allocation first, so a process whose global allocator
/// is a `Counting` knows).
///
/// ```
/// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
/// assert_eq!(leaklab::heap::rust::nesting_error(), None);
/// ```
pub fn nesting_error() -> Option<&'static str> {
    std::hint::black_box(Box::new(0u8));
    (LAYERS.load(Relaxed) == NESTED).then_some(
        "two leaklab::Counting allocators are nested in this binary's #[global_allocator] \
         (a Counting<Counting<…>>), so every Rust allocation would be counted twice and \
         leaklab refuses to measure: wrap your allocator in one Counting only, \
         `#[global_allocator] static ALLOC: leaklab::Counting<MyAlloc> = \
         leaklab::Counting::new(MyAlloc);` (or `leaklab::Counting::system()`)",
    )
}

// SAFETY: every method forwards to the inner allocator with the caller's
// arguments unchanged, so its guarantees carry over, except while the
// thread records allocation stacks: then blocks come from fresh, never
// reused, suitably aligned addresses (heap::fresh) and are moved by hand on
// realloc. The counters are per-thread atomics and never touch the
// allocated memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    /// # Safety
    /// The contract of `GlobalAlloc::alloc`, forwarded to the inner allocator.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = match fresh_block(layout.size(), layout.align()) {
            Some(block) => block,
            // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
            None => unsafe { forward(|| self.inner.alloc(layout)) },
        };
        rust_allocated(ptr, layout.size());
        counted(ptr, layout.size())
    }

    /// # Safety
    /// The contract of `GlobalAlloc::alloc_zeroed`, forwarded to the inner allocator.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = match fresh_block(layout.size(), layout.align()) {
            Some(block) => block, // fresh blocks are zeroed
            // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
            None => unsafe { forward(|| self.inner.alloc_zeroed(layout)) },
        };
        rust_allocated(ptr, layout.size());
        counted(ptr, layout.size())
    }

    /// # Safety
    /// The contract of `GlobalAlloc::dealloc`, forwarded to the inner allocator.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(ptr as usize, layout.size());
        // Forgotten by the side table, fresh blocks too; a block it could
        // not forget stays allocated.
        let forgotten = rust_freeing(ptr);
        if !is_fresh(ptr as usize) && forgotten {
            // SAFETY: forwarded as is; `ptr` came from this allocator with `layout`.
            unsafe { forward(|| self.inner.dealloc(ptr, layout)) };
        }
        record(-1, -(layout.size() as i64));
    }

    /// # Safety
    /// The contract of `GlobalAlloc::realloc`, forwarded to the inner allocator.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if is_fresh(ptr as usize) || recording_here() || rust_moves_by_hand() {
            // A fresh block, a recording thread (whose blocks must come
            // from fresh addresses), or a watched process whose side table
            // holds Rust's blocks: moved by hand.
            // SAFETY: `new_size` is non-zero and valid with `layout`'s
            // alignment, per realloc's contract; the old block is live and
            // `layout.size()` bytes long.
            unsafe {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                return new;
            }
        }
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { forward(|| self.inner.realloc(ptr, layout, new_size)) };
        if new.is_null() {
            report_failure(new_size);
        } else {
            record(0, new_size as i64 - layout.size() as i64);
            on_free(ptr as usize, layout.size());
            on_alloc(new as usize, new_size, super::Side::Rust);
        }
        new
    }
}

/// One thread's counts: written by that thread alone (a relaxed load and
/// store, no read-modify-write, no lock prefix), read by anyone. A line of
/// its own, so threads never write the same cache line.
#[repr(align(64))]
struct Counts {
    blocks: AtomicI64,
    bytes: AtomicI64,
}

impl Counts {
    /// Adds to counts only the calling thread writes.
    #[inline]
    fn add_own(&self, blocks: i64, bytes: i64) {
        self.blocks
            .store(self.blocks.load(Relaxed).wrapping_add(blocks), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    fn get(&self) -> Live {
        Live {
            blocks: self.blocks.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
        }
    }
}

/// Threads with counts of their own: the first [`SLOTS`] threads that
/// allocate through `Counting` claim one each, for good (a thread's
/// counts outlive it: what it left allocated stays in the process-wide
/// totals). Later threads count in [`SHARED`], with atomic adds.
const SLOTS: usize = 4096;
static SLOT: [Counts; SLOTS] = [const {
    Counts {
        blocks: AtomicI64::new(0),
        bytes: AtomicI64::new(0),
    }
}; SLOTS];
/// Slots claimed so far (may run past SLOTS: those claims failed).
static CLAIMED: AtomicUsize = AtomicUsize::new(0);
/// The counts of threads without a slot (and of a thread's allocations
/// after its thread-local storage is gone, while it exits).
static SHARED: Counts = Counts {
    blocks: AtomicI64::new(0),
    bytes: AtomicI64::new(0),
};

/// A thread's slot index: 0 none claimed yet, `NO_SLOT` none left, else
/// the index plus one.
const NO_SLOT: usize = usize::MAX;

thread_local! {
    /// This thread's slot (see [`NO_SLOT`]).
    static MINE: Cell<usize> = const { Cell::new(0) };
    /// The counts of a thread without a slot, for [`thread_live`]: exact
    /// for code that allocates and frees on one thread.
    static FALLBACK: Cell<(i64, i64)> = const { Cell::new((0, 0)) };
}

/// The calling thread's slot, claimed on its first call; None if none
/// is left (or its thread-local storage is gone).
#[inline]
fn my_slot() -> Option<&'static Counts> {
    let mine = MINE.try_with(Cell::get).ok()?;
    match mine {
        0 => claim(),
        NO_SLOT => None,
        i => Some(&SLOT[i - 1]),
    }
}

#[cold]
#[inline(never)]
fn claim() -> Option<&'static Counts> {
    let i = CLAIMED.fetch_add(1, Relaxed);
    let (mine, slot) = if i < SLOTS {
        (i + 1, Some(&SLOT[i]))
    } else {
        (NO_SLOT, None)
    };
    MINE.try_with(|m| m.set(mine)).ok()?;
    slot
}

/// A new block of `size` bytes (or a failure, for NULL): counted and shown
/// to the stack recorder.
#[inline]
fn counted(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        report_failure(size);
    } else {
        record(1, size as i64);
        on_alloc(ptr as usize, size, super::Side::Rust);
    }
    ptr
}

#[inline]
fn record(blocks: i64, bytes: i64) {
    match my_slot() {
        Some(counts) => counts.add_own(blocks, bytes),
        None => {
            SHARED.blocks.fetch_add(blocks, Relaxed);
            SHARED.bytes.fetch_add(bytes, Relaxed);
            // try_with: the slot may already be gone while a thread exits.
            let _ = FALLBACK.try_with(|t| {
                let (b, n) = t.get();
                t.set((b.wrapping_add(blocks), n.wrapping_add(bytes)));
            });
        }
    }
    super::group::count(super::Side::Rust, blocks, bytes);
}

/// Blocks and bytes allocated minus freed by the calling thread (since it
/// started): compare two calls, as `Snapshot::now_this_thread` does.
pub fn thread_live() -> Live {
    if let Some(counts) = my_slot() {
        return counts.get();
    }
    let (blocks, bytes) = FALLBACK.try_with(Cell::get).unwrap_or((0, 0));
    Live { blocks, bytes }
}

/// Whether a [`Counting`] allocator is this process's global allocator:
/// one has forwarded a call to its inner allocator (its layer count is known).
/// This makes an allocation first, so it is known by then.
///
/// Nested `Counting`s count too (twice): `check` refuses them first
/// ([`nesting_error`]).
pub fn is_counted() -> bool {
    std::hint::black_box(Box::new(0u8));
    LAYERS.load(Relaxed) != UNKNOWN
}

/// Live Rust blocks and bytes right now (process-wide): every thread's
/// counts, added up.
pub fn live() -> Live {
    let claimed = CLAIMED.load(Relaxed).min(SLOTS);
    SLOT[..claimed].iter().fold(SHARED.get(), |acc, counts| {
        let c = counts.get();
        Live {
            blocks: acc.blocks.wrapping_add(c.blocks),
            bytes: acc.bytes.wrapping_add(c.bytes),
        }
    })
}

/// First line a parent looks for when a child dies of a memory cap.
pub const FAILURE_MARKER: &str = "leaklab: allocation failed:";

/// Writes `leaklab: allocation failed: size=N live_bytes=L` to stderr
/// without allocating (the heap just said no), so the parent can report at
/// what size the cap was hit.
fn report_failure(size: usize) {
    let mut line = [0u8; 128];
    let mut len = 0;
    for part in [
        FAILURE_MARKER.as_bytes(),
        b" size=",
        digits(size as u64, &mut [0u8; 20]),
        b" live_bytes=",
        digits(live().bytes.max(0) as u64, &mut [0u8; 20]),
        b"\n",
    ] {
        line[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    // SAFETY: writes `len` initialised bytes from a stack buffer to fd 2.
    unsafe { libc::write(2, line.as_ptr().cast(), len) };
}

/// `n` in decimal, in `buf`.
fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}
