//! The C allocator, interposed: every `malloc` family call of the process,
//! from whichever C library (the lab's own, SQLite, zlib, libxml2, glibc
//! itself), lands here, is counted, and is forwarded to glibc's own
//! allocator (`__libc_malloc` & co., which glibc exports for exactly this).
//!
//! Why in the executable and not an LD_PRELOAD shim: a binary that links
//! this crate (the lab, its tests, a user's test binary) defines `malloc`,
//! the linker puts it in the dynamic symbol table because libc and every
//! other shared library refer to it, and the dynamic linker then binds their
//! calls to it. Nothing has to be set in the environment, nothing is lost
//! across `exec`, and the counters are ordinary statics that the measuring
//! code reads in-process.
//!
//! What it keeps:
//! - no header inside a block: the pointer a library gets is glibc's own, so
//!   a library's pointers to its blocks are start pointers, and heap
//!   checkers classify them as they would without the lab. Sizes live in a
//!   side table keyed by address ([`table`]), mapped with `mmap`;
//! - Rust's own allocations (the counting global allocator, which forwards
//!   to `System`, which calls `malloc`) are marked by a thread-local flag
//!   for the length of the call ([`as_rust`]) and forwarded uncounted: the
//!   Rust counters have them, the C counters report C alone;
//! - fault injection: the n-th C allocation attempt from now fails with
//!   ENOMEM, whichever library makes it, never a Rust allocation.
//!
//! `malloc_usable_size` is not interposed: blocks are glibc's own, so
//! glibc's answer is the right one.
//!
//! Not compiled under Miri (which cannot run it), with the `uncounted`
//! feature (the detector-cost baseline) or in a sanitizer build (the
//! sanitizer interposes malloc itself and must see every block): build.rs
//! sets `leaklab_interpose` only when none of these applies. Under valgrind,
//! which replaces the allocator of the main executable too when asked
//! (`--soname-synonyms=somalloc=NONE`, as the valgrind detector does), these
//! functions never run and [`is_active`] says so.

// The path is spelled out because preload/ compiles this file by
// `#[path]` too, and a module file loaded that way looks for its children
// beside it (src/heap/table.rs) instead of under src/heap/interpose/.
#[path = "interpose/table.rs"]
pub mod table;

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use super::Live;

unsafe extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(count: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_free(ptr: *mut c_void);
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
}

static FAILED_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// `free`/`realloc` of a pointer this interposer never handed out.
static FOREIGN_FREES: AtomicU64 = AtomicU64::new(0);
/// Blocks handed out but not recorded (the side table could not grow).
static UNTRACKED: AtomicU64 = AtomicU64::new(0);
/// Set by the first call that reached these functions.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Freed blocks are zeroed first ([`scrub_freed`]).
static SCRUB_FREED: AtomicBool = AtomicBool::new(false);

/// From now on, zero every block as it is freed: a scan of the whole heap
/// at exit then finds no stale pointer in free memory (the preload shim
/// under `cargo leaklab test`; it costs a memset per free).
pub fn scrub_freed() {
    SCRUB_FREED.store(true, Relaxed);
}

/// Whether per-thread C counts were asked for ([`thread_live`]).
static PER_THREAD: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside the Rust global allocator: forward, do not count as C.
    static IN_RUST: Cell<bool> = const { Cell::new(false) };
    /// This thread's C blocks and bytes, allocated minus freed.
    static THREAD: Cell<(i64, i64)> = const { Cell::new((0, 0)) };
    /// This thread's armed fault: allocations to go (0: none armed), keep
    /// failing once fired, fired and stuck. Per thread, so the other
    /// threads of a test harness (spawning threads, sweeping their own
    /// closures) never take or move the failure meant for this one.
    static FAULT: Cell<Fault> = const { Cell::new(Fault { countdown: 0, persistent: false, stuck: false }) };
    /// This thread's frees of pointers the interposer never handed out.
    static THREAD_FOREIGN: Cell<u64> = const { Cell::new(0) };
}

#[derive(Clone, Copy)]
struct Fault {
    countdown: u64,
    persistent: bool,
    stuck: bool,
}

pub use super::c::Stats;

pub fn stats() -> Stats {
    let totals = table::totals();
    Stats {
        live_blocks: totals.live_blocks,
        live_bytes: totals.live_bytes,
        total_allocs: totals.allocations,
        failed_allocs: FAILED_ALLOCS.load(SeqCst),
        foreign_frees: FOREIGN_FREES.load(SeqCst),
        untracked: UNTRACKED.load(SeqCst),
    }
}

/// True once any C allocation reached the interposer (a process always
/// makes some before `main`, so false means another allocator replaced it).
pub fn is_active() -> bool {
    ACTIVE.load(Relaxed)
}

/// This thread's C blocks and bytes since per-thread counting began.
pub fn thread_live() -> Live {
    PER_THREAD.store(true, Relaxed);
    let (blocks, bytes) = THREAD.with(Cell::get);
    Live { blocks, bytes }
}

/// This thread's frees (and reallocs) of pointers the interposer never
/// handed out: memory of another allocator passed to `free`.
pub fn thread_foreign_frees() -> u64 {
    THREAD_FOREIGN.with(Cell::get)
}

/// Runs `f` (a call into the system allocator on the Rust allocator's
/// behalf) with the C counters looking away.
///
/// The flag is written and read with volatile accesses: the compiler knows
/// `malloc` as a builtin that touches no memory of the program, and would
/// otherwise drop the store of `true` as dead (it is overwritten right after
/// the call), so that the interposer never saw it.
#[inline]
pub fn as_rust<R>(f: impl FnOnce() -> R) -> R {
    IN_RUST.with(|flag| {
        let slot = flag.as_ptr();
        // SAFETY: `slot` points at this thread's live flag; volatile, as above.
        let outer = unsafe { slot.read_volatile() };
        // SAFETY: as above.
        unsafe { slot.write_volatile(true) };
        let out = f();
        // SAFETY: as above.
        unsafe { slot.write_volatile(outer) };
        out
    })
}

#[inline]
fn in_rust() -> bool {
    // SAFETY: this thread's live flag; volatile, as in `as_rust`.
    IN_RUST.with(|flag| unsafe { flag.as_ptr().read_volatile() })
}

/// Arms fault injection: the `nth` C allocation attempt of the calling
/// thread from now fails (1 = the next), and every later one of that
/// thread too if `persistent`; 0 disarms.
pub fn fail_nth(nth: u64, persistent: bool) {
    FAULT.with(|f| {
        f.set(Fault {
            countdown: nth,
            persistent,
            stuck: false,
        })
    });
}

/// This thread's attempts still to go before its armed failure (0: none
/// armed or it fired).
pub fn fail_pending() -> u64 {
    FAULT.with(|f| f.get().countdown)
}

/// One C allocation attempt of this thread: true if fault injection
/// refuses it.
fn injected_failure() -> bool {
    FAULT.with(|cell| {
        let mut fault = cell.get();
        let refuse = if fault.stuck {
            true
        } else if fault.countdown == 0 {
            return false;
        } else {
            fault.countdown -= 1;
            fault.stuck = fault.countdown == 0 && fault.persistent;
            fault.countdown == 0
        };
        cell.set(fault);
        if refuse {
            FAILED_ALLOCS.fetch_add(1, Relaxed);
        }
        refuse
    })
}

fn set_errno(code: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = code };
}

/// This thread's share (the process-wide counts are kept by the table).
fn count_for_thread(blocks: i64, bytes: i64) {
    if PER_THREAD.load(Relaxed) {
        THREAD.with(|t| {
            let (b, n) = t.get();
            t.set((b + blocks, n + bytes));
        });
    }
}

/// Records a block glibc just handed out (nothing for NULL).
fn track(ptr: *mut c_void, size: usize) {
    if ptr.is_null() {
        return;
    }
    if table::insert(ptr as usize, size, true) {
        count_for_thread(1, size as i64);
        super::stacks::on_alloc(ptr as usize, size, super::Side::C);
    } else {
        UNTRACKED.fetch_add(1, Relaxed);
    }
}

/// Forgets a block about to be freed or moved; its size if it was ours.
fn untrack(ptr: *mut c_void) -> Option<usize> {
    let size = table::remove(ptr as usize);
    match size {
        Some(size) => {
            count_for_thread(-1, -(size as i64));
            super::stacks::on_free(ptr as usize, size);
        }
        None => {
            FOREIGN_FREES.fetch_add(1, Relaxed);
            THREAD_FOREIGN.with(|n| n.set(n.get() + 1));
        }
    }
    size
}

/// The common entry of every allocating function: Rust's calls pass
/// straight through; C's may be refused, else are made and recorded.
fn c_allocation(size: usize, align: usize, make: impl FnOnce() -> *mut c_void) -> *mut c_void {
    // A load first: a store on every call would bounce the line between cores.
    if !ACTIVE.load(Relaxed) {
        ACTIVE.store(true, Relaxed);
    }
    if in_rust() {
        return make();
    }
    if injected_failure() {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    // A recording thread's blocks come from fresh addresses (zeroed, so
    // calloc's too).
    let ptr = match super::stacks::fresh_block(size, align) {
        Some(block) => block.cast(),
        None => make(),
    };
    track(ptr, size);
    ptr
}

/// glibc's alignment for malloc and calloc.
const MALLOC_ALIGN: usize = 16;

/// # Safety
/// The C standard's contract for `malloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded as is.
    c_allocation(size, MALLOC_ALIGN, || unsafe { __libc_malloc(size) })
}

/// # Safety
/// The C standard's contract for `calloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    let Some(total) = count.checked_mul(size) else {
        // SAFETY: glibc refuses the overflow itself (NULL, ENOMEM).
        return unsafe { __libc_calloc(count, size) };
    };
    // SAFETY: forwarded as is.
    c_allocation(total, MALLOC_ALIGN, || unsafe {
        __libc_calloc(count, size)
    })
}

/// # Safety
/// The C standard's contract for `free`: `ptr` is NULL or a live block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // Forget before freeing: once freed, another thread may get the same
    // address and record it.
    if !in_rust() {
        let size = untrack(ptr);
        if let Some(size) = size
            && SCRUB_FREED.load(Relaxed)
        {
            // SAFETY: a live block of `size` bytes, per the caller.
            unsafe { ptr::write_bytes(ptr.cast::<u8>(), 0, size) };
        }
    }
    if super::fresh::contains(ptr as usize) {
        return; // fresh addresses are never reused
    }
    // SAFETY: a live block, per the caller.
    unsafe { __libc_free(ptr) }
}

/// # Safety
/// The C standard's contract for `realloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: realloc(NULL, n) is malloc(n).
        return unsafe { malloc(size) };
    }
    if in_rust() {
        // SAFETY: forwarded as is (the Rust allocator moves its own fresh
        // blocks itself, heap/rust.rs).
        return unsafe { __libc_realloc(ptr, size) };
    }
    if size == 0 {
        // glibc frees the block and returns NULL: a free, not an attempt.
        if super::fresh::contains(ptr as usize) {
            untrack(ptr);
            return ptr::null_mut();
        }
        untrack(ptr);
        // SAFETY: forwarded as is.
        return unsafe { __libc_realloc(ptr, 0) };
    }
    if injected_failure() {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    if super::fresh::contains(ptr as usize) {
        // Not glibc's block: moved by hand (size 0 was handled above).
        let old = untrack(ptr).unwrap_or(0);
        // SAFETY: malloc's contract; a fresh block is at least `old`
        // bytes long and stays mapped.
        unsafe {
            let new = malloc(size);
            if new.is_null() {
                if table::insert(ptr as usize, old, false) {
                    count_for_thread(1, old as i64);
                }
                return new;
            }
            ptr::copy_nonoverlapping(ptr.cast::<u8>(), new.cast::<u8>(), old.min(size));
            return new;
        }
    }
    if SCRUB_FREED.load(Relaxed) {
        // Moved by hand, so the old copy is scrubbed by `free`.
        // SAFETY: malloc's and free's contracts; `ptr` is a live glibc
        // block (fresh ones were handled above) of `old` usable bytes.
        let old = unsafe { libc::malloc_usable_size(ptr) };
        unsafe {
            let new = malloc(size);
            if !new.is_null() {
                ptr::copy_nonoverlapping(ptr.cast::<u8>(), new.cast::<u8>(), old.min(size));
                free(ptr);
            }
            return new;
        }
    }
    let old = untrack(ptr);
    // SAFETY: forwarded as is; the block is live per the caller.
    let new = unsafe { __libc_realloc(ptr, size) };
    if new.is_null() {
        // The old block stays the caller's: record it again.
        if let Some(old) = old
            && table::insert(ptr as usize, old, false)
        {
            count_for_thread(1, old as i64);
        }
        return new;
    }
    track(new, size);
    new
}

/// # Safety
/// glibc's contract for `reallocarray`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: realloc's contract, per the caller.
        Some(total) => unsafe { realloc(ptr, total) },
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// # Safety
/// glibc's contract for `memalign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded as is.
    c_allocation(size, align, || unsafe { __libc_memalign(align, size) })
}

/// # Safety
/// C11's contract for `aligned_alloc` (glibc's is memalign).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the same contract.
    unsafe { memalign(align, size) }
}

/// # Safety
/// POSIX's contract for `posix_memalign`: `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<*mut c_void>()) {
        return libc::EINVAL;
    }
    let saved = errno();
    // SAFETY: forwarded as is.
    let ptr = c_allocation(size, align, || unsafe { __libc_memalign(align, size) });
    if ptr.is_null() {
        set_errno(saved);
        return libc::ENOMEM;
    }
    // SAFETY: `out` is writable, per the caller.
    unsafe { out.write(ptr) };
    0
}

/// # Safety
/// glibc's contract for `valloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded as memalign to the page size.
    unsafe { memalign(page_size(), size) }
}

/// # Safety
/// glibc's contract for `pvalloc`: `size` rounded up to whole pages.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    let Some(rounded) = size.checked_next_multiple_of(page) else {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    // SAFETY: forwarded as memalign to the page size.
    unsafe { memalign(page, rounded.max(page)) }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}
