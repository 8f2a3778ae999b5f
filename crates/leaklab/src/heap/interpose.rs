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
//!
//! Never hanging: fork and signal handlers.
//! - fork: `pthread_atfork` handlers take every shard of the side table
//!   before a fork and release them after it, in parent and child
//!   ([`fork`]), as glibc does for its own arenas;
//! - a call that re-enters the interposer on a thread already inside it (a
//!   signal handler's `malloc` or `free`) never waits on a lock: it updates
//!   the side table where its shard is free, and where it is held (by the
//!   very frame the signal interrupted, say) an allocation is forwarded
//!   and recorded as untracked (counted in [`Stats::untracked`]; its later
//!   free is known, neither foreign nor a phantom), a free is put off until
//!   the thread leaves the interposer (`guard`, `untracked`);
//! - no lock is held across a call into glibc.
//!
//! `realloc` resizes in place (glibc's `__libc_realloc`, the table entry
//! moved to the new address) except where the block must move by hand:
//! a fresh block or a recording thread's ([`super::fresh`]), and, while
//! freed memory is scrubbed ([`scrub_freed`]), a heap block that must grow
//! past its chunk (glibc would leave an unscrubbed copy behind in the old
//! one): that move over-allocates by half, so growth stays linear.

pub mod fork;
mod guard;
pub mod pages;
mod publish;
pub mod sites;
pub mod table;
pub mod threads;
mod untracked;

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use super::Live;
use guard::{Fault, Inside, Thread};
use table::{Inserted, Removed, Wait};

unsafe extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(count: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_free(ptr: *mut c_void);
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
}

static FAILED_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Allocations glibc itself refused (it returned NULL: out of memory, or
/// an address-space cap), as opposed to failures injected here.
static REFUSED: AtomicU64 = AtomicU64::new(0);
/// `free`/`realloc` of a pointer this interposer never handed out.
static FOREIGN_FREES: AtomicU64 = AtomicU64::new(0);
/// Blocks handed out but not recorded (the side table could not grow, a
/// re-entered call, a fork that held the table too long), and frees that
/// could be neither made nor put off (the block then stays allocated).
static UNTRACKED: AtomicU64 = AtomicU64::new(0);
/// Set by the first call that reached these functions.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Freed blocks are zeroed first ([`scrub_freed`]).
static SCRUB_FREED: AtomicBool = AtomicBool::new(false);

/// From now on, zero every block as it is freed: a scan of the whole heap
/// at exit then finds no stale pointer in free memory (the preload shim
/// under `cargo leaklab test`; it costs a memset per free). `realloc`
/// zeroes what a shrink gives up and never leaves a copy behind when it
/// moves a block.
pub fn scrub_freed() {
    SCRUB_FREED.store(true, Relaxed);
}

/// Rust's blocks go into the side table too ([`rust_allocated`]): set by
/// the watcher's publisher, before `main`, in a process it watches.
static RUST_IN_TABLE: AtomicBool = AtomicBool::new(false);

/// From now on the side table holds Rust's blocks as well (those that
/// [`crate::Counting`] hands out, which otherwise pass it by): uncounted
/// by the C counters, but in the exit scan, the heap's totals and the
/// allocation sites, so a watched binary that links this crate shows its
/// whole heap, as the preload shim does for any other.
pub(crate) fn rust_blocks_in_table() {
    RUST_IN_TABLE.store(true, Relaxed);
}

/// Whether the Rust allocator moves a block by hand on `realloc` (a new
/// block, a copy, a free): when Rust's blocks are in the table, so the old
/// block leaves the table before its address can be handed out again, and
/// its copy is scrubbed when freed memory is.
#[inline]
pub(crate) fn rust_moves_by_hand() -> bool {
    RUST_IN_TABLE.load(Relaxed)
}

/// Records a block the Rust allocator just handed out, when Rust's blocks
/// go into the table (one relaxed load otherwise). Not counted: the Rust
/// counters have it.
#[inline]
pub(crate) fn rust_allocated(ptr: *mut u8, size: usize) {
    if !ptr.is_null() && RUST_IN_TABLE.load(Relaxed) {
        rust_track(ptr as usize, size);
    }
}

/// Never inlined: its site's stack begins at its caller, the Rust
/// allocator (the walk is cut at a stack address of this frame).
#[inline(never)]
fn rust_track(addr: usize, size: usize) {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let (call, _inside) = enter(Thread::current());
    match table::insert(addr, size, true, call.wait(), call.thread.id()) {
        Inserted::Yes => sites::on_alloc_above(addr, size, call.outer(), here),
        Inserted::NoRoom | Inserted::Busy => note_untracked(addr as *mut c_void, call.thread),
    }
}

/// Forgets (and, when freed memory is scrubbed, zeroes) a Rust block
/// about to be given back, when Rust's blocks go into the table. False
/// when the table could not be entered (a signal handler's free while its
/// thread held the block's shard): the block must then stay allocated, as
/// the entry does (counted as untracked), for its address must not be
/// handed out again while it is recorded.
#[inline]
pub(crate) fn rust_freeing(ptr: *mut u8) -> bool {
    !RUST_IN_TABLE.load(Relaxed) || rust_untrack(ptr as usize)
}

#[inline(never)]
fn rust_untrack(addr: usize) -> bool {
    let (call, _inside) = enter(Thread::current());
    match table::remove(addr, call.wait(), call.thread.id()) {
        Removed::Size(size) => {
            sites::on_free(addr, size);
            // SAFETY: a live block of `size` bytes, about to be given back.
            unsafe { scrub(addr as *mut c_void, size) };
            true
        }
        // Allocated before the table took Rust's blocks, or untracked.
        Removed::Missing => {
            untracked::forget(addr);
            true
        }
        Removed::Busy => {
            UNTRACKED.fetch_add(1, Relaxed);
            call.thread.count_untracked();
            false
        }
    }
}

/// Whether per-thread C counts were asked for ([`thread_live`]).
static PER_THREAD: AtomicBool = AtomicBool::new(false);

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

/// C allocations glibc refused so far (NULL for a size above zero): the
/// process ran out of memory, or into a cap on it.
pub fn refused_allocations() -> u64 {
    REFUSED.load(Relaxed)
}

/// Counts a NULL from glibc for a request of `size` bytes.
fn note_refusal(ptr: *mut c_void, size: usize) {
    if ptr.is_null() && size > 0 {
        REFUSED.fetch_add(1, Relaxed);
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
    let (blocks, bytes) = Thread::current().counts().get();
    Live { blocks, bytes }
}

/// This thread's frees (and reallocs) of pointers the interposer never
/// handed out: memory of another allocator passed to `free`.
pub fn thread_foreign_frees() -> u64 {
    Thread::current().foreign()
}

/// This thread's C blocks handed out without being recorded (a signal
/// handler's allocation while the thread was inside the interposer, a side
/// table that could not grow, a fork that held it too long), and frees it
/// could not make: a measurement during which this moved is not exact.
pub fn thread_untracked() -> u64 {
    Thread::current().untracked()
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
    let slot = Thread::current().in_rust().as_ptr();
    // SAFETY: `slot` points at this thread's live flag; volatile, as above.
    let outer = unsafe { slot.read_volatile() };
    // SAFETY: as above.
    unsafe { slot.write_volatile(true) };
    let out = f();
    // SAFETY: as above.
    unsafe { slot.write_volatile(outer) };
    out
}

/// Whether this thread is inside the Rust global allocator.
#[inline]
fn in_rust(thread: Thread) -> bool {
    // SAFETY: this thread's live flag; volatile, as in `as_rust`.
    unsafe { thread.in_rust().as_ptr().read_volatile() }
}

/// Arms fault injection: the `nth` C allocation attempt of the calling
/// thread from now fails (1 = the next), and every later one of that
/// thread too if `persistent`; 0 disarms.
pub fn fail_nth(nth: u64, persistent: bool) {
    Thread::current().fault().set(Fault {
        countdown: nth,
        persistent,
        stuck: false,
    });
}

/// This thread's attempts still to go before its armed failure (0: none
/// armed or it fired).
pub fn fail_pending() -> u64 {
    Thread::current().fault().get().countdown
}

/// One C allocation attempt of this thread (outermost calls only): true if
/// fault injection refuses it.
fn injected_failure(thread: Thread) -> bool {
    let cell = thread.fault();
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
    // The countdown's end, not a persistent failure's repeats.
    let first = refuse && !cell.get().stuck;
    cell.set(fault);
    if refuse {
        FAILED_ALLOCS.fetch_add(1, Relaxed);
    }
    if first {
        // Which call was refused: a crash that follows names it. Nested
        // allocations of the unwinder's first walk are re-entries here,
        // passed through untracked.
        super::c::note_failed_allocation();
    }
    refuse
}

fn set_errno(code: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = code };
}

/// Runs `f` as a signal handler runs when it interrupts the interposer in
/// the middle of a side table update: the calling thread is inside the
/// interposer and holds every shard of the table while `f` runs, so every
/// `malloc` family call `f` makes is a re-entry that finds its shard held
/// by its own thread (untracked allocations, frees put off). For tests of
/// those paths; other threads' C allocations wait meanwhile.
#[doc(hidden)]
pub fn as_if_interrupted<R>(f: impl FnOnce() -> R) -> R {
    /// Releases the shards even if `f` panics (other threads wait on them).
    struct Held {
        me: usize,
        already: u64,
        _inside: Option<Inside>,
    }
    impl Drop for Held {
        fn drop(&mut self) {
            table::unlock_all(self.me, self.already);
            // `_inside` is dropped next: leaving completes the frees `f`
            // put off.
        }
    }
    let inside = enter(Thread::current()).1;
    let me = guard::me();
    let _held = Held {
        me,
        already: table::lock_all(me),
        _inside: inside,
    };
    f()
}

/// How deep a call is in the interposer on its thread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// The outermost call: it may wait for a shard (never one it holds),
    /// it alone touches the thread's count cells, fault injection, the
    /// stack recorder and fresh blocks.
    Outer,
    /// A call made while the thread was inside the interposer already (a
    /// signal handler's): it never waits for a shard, its counts go
    /// through the thread's atomics, and it leaves the recorder alone.
    Reentrant,
}

/// One call into the interposer: how deep it is, and its thread's state.
#[derive(Clone, Copy)]
struct Call {
    depth: Depth,
    thread: Thread,
}

impl Call {
    fn outer(self) -> bool {
        self.depth == Depth::Outer
    }

    fn wait(self) -> Wait {
        match self.depth {
            Depth::Outer => Wait::UnlessForking,
            Depth::Reentrant => Wait::Never,
        }
    }

    /// This thread's share (the process-wide counts are kept by the table).
    fn count(self, blocks: i64, bytes: i64) {
        super::group::count(super::Side::C, blocks, bytes);
        if !PER_THREAD.load(Relaxed) {
            return;
        }
        match self.depth {
            Depth::Outer => {
                let counts = self.thread.counts();
                let (b, n) = counts.get();
                counts.set((b.wrapping_add(blocks), n.wrapping_add(bytes)));
            }
            Depth::Reentrant => self.thread.add_delta(blocks, bytes),
        }
    }
}

#[inline]
fn mark_active() {
    // A load first: a store on every call would bounce the line between cores.
    if !ACTIVE.load(Relaxed) {
        ACTIVE.store(true, Relaxed);
    }
}

/// Enters the interposer: an outermost call with its guard, or a re-entry;
/// the first entry of the process registers the fork handlers.
#[inline]
fn enter(thread: Thread) -> (Call, Option<Inside>) {
    match thread.enter() {
        Some(inside) => {
            fork::register_once();
            let call = Call {
                depth: Depth::Outer,
                thread,
            };
            (call, Some(inside))
        }
        None => {
            let call = Call {
                depth: Depth::Reentrant,
                thread,
            };
            (call, None)
        }
    }
}

/// What the outermost call does as it leaves: completes the frees put off
/// and adds the re-entered calls' counts. False if the table was held by a
/// fork, so some frees are left for the next call.
fn leave(thread: Thread) -> bool {
    let call = Call {
        depth: Depth::Outer,
        thread,
    };
    let (blocks, bytes) = thread.take_delta();
    if blocks != 0 || bytes != 0 {
        call.count(blocks, bytes);
    }
    while let Some(addr) = thread.pop_pending() {
        // SAFETY: a block whose free was put off: live and unused.
        if unsafe { release(addr as *mut c_void, call) }.is_err() {
            defer(addr as *mut c_void, thread);
            return false;
        }
    }
    true
}

/// Counts a block handed out without a table entry, and remembers it so
/// that its free is known.
fn note_untracked(ptr: *mut c_void, thread: Thread) {
    UNTRACKED.fetch_add(1, Relaxed);
    thread.count_untracked();
    untracked::remember(ptr as usize);
}

/// Records a block glibc just handed out (nothing for NULL).
fn track(ptr: *mut c_void, size: usize, call: Call) {
    if ptr.is_null() {
        return;
    }
    match table::insert(ptr as usize, size, true, call.wait(), call.thread.id()) {
        Inserted::Yes => {
            call.count(1, size as i64);
            sites::on_alloc(ptr as usize, size, call.outer());
            if call.outer() {
                super::stacks::on_alloc(ptr as usize, size, super::Side::C);
            }
        }
        Inserted::NoRoom | Inserted::Busy => note_untracked(ptr, call.thread),
    }
}

/// What the table knew of a block about to be freed or moved.
#[derive(Clone, Copy)]
enum Forgot {
    /// Recorded with this size; now forgotten and uncounted.
    Tracked(usize),
    /// Handed out untracked; now forgotten.
    Untracked,
    /// Never handed out by the interposer (counted as a foreign free).
    Foreign,
    /// The table could not be entered: nothing done.
    Busy,
}

/// Forgets a block about to be freed or moved.
fn untrack(ptr: *mut c_void, call: Call) -> Forgot {
    match table::remove(ptr as usize, call.wait(), call.thread.id()) {
        Removed::Size(size) => {
            call.count(-1, -(size as i64));
            sites::on_free(ptr as usize, size);
            if call.outer() {
                super::stacks::on_free(ptr as usize, size);
            }
            Forgot::Tracked(size)
        }
        // Never in the table, and found without a lock.
        Removed::Missing | Removed::Busy if untracked::forget(ptr as usize) => Forgot::Untracked,
        Removed::Missing => {
            FOREIGN_FREES.fetch_add(1, Relaxed);
            call.thread.count_foreign();
            Forgot::Foreign
        }
        Removed::Busy => Forgot::Busy,
    }
}

/// Records again a block whose move failed (it stays the caller's).
fn retrack(ptr: *mut c_void, forgot: Forgot, call: Call) {
    match forgot {
        Forgot::Tracked(size) => {
            match table::insert(ptr as usize, size, false, call.wait(), call.thread.id()) {
                Inserted::Yes => {
                    call.count(1, size as i64);
                    sites::on_alloc(ptr as usize, size, call.outer());
                }
                Inserted::NoRoom | Inserted::Busy => note_untracked(ptr, call.thread),
            }
        }
        Forgot::Untracked => {
            untracked::remember(ptr as usize);
        }
        Forgot::Foreign | Forgot::Busy => {}
    }
}

/// glibc's usable size of a block (of glibc's, or a fresh one, which
/// carries the same size word).
///
/// # Safety
/// `ptr` is a live block of glibc's or of [`super::fresh`].
unsafe fn usable_size(ptr: *mut c_void) -> usize {
    // SAFETY: a live block, per the caller; glibc's own answer.
    unsafe { libc::malloc_usable_size(ptr) }
}

/// Whether glibc mapped this block by itself (`mmap`): the size word right
/// before it has glibc's IS_MMAPPED bit (the word heap/fresh.rs writes for
/// its blocks too). Such a block is resized by `mremap` and unmapped on
/// free: glibc never leaves a copy of it in free heap memory.
///
/// # Safety
/// `ptr` is a live block of glibc's.
unsafe fn is_mmapped(ptr: *mut c_void) -> bool {
    const IS_MMAPPED: usize = 2;
    // SAFETY: every glibc chunk has its size word right before the block.
    unsafe { ptr.cast::<usize>().sub(1).read() & IS_MMAPPED != 0 }
}

/// Zeroes `len` bytes at `ptr` if freed memory is scrubbed.
///
/// # Safety
/// `ptr` is a live block of at least `len` bytes, about to be given up.
unsafe fn scrub(ptr: *mut c_void, len: usize) {
    if len != 0 && SCRUB_FREED.load(Relaxed) {
        // SAFETY: `len` bytes of a live block, per the caller.
        unsafe { ptr::write_bytes(ptr.cast::<u8>(), 0, len) };
    }
}

/// How many bytes of a block being given up to zero: its recorded size, or
/// for an untracked one glibc's usable size (nothing if not scrubbing).
///
/// # Safety
/// `ptr` is a live block of glibc's or of [`super::fresh`].
unsafe fn scrubbed_len(ptr: *mut c_void, forgot: Forgot) -> usize {
    match forgot {
        Forgot::Tracked(size) => size,
        // SAFETY: a live block, per the caller.
        Forgot::Untracked if SCRUB_FREED.load(Relaxed) => unsafe { usable_size(ptr) },
        _ => 0,
    }
}

/// Gives a block back to glibc (a fresh block is never reused: nothing).
///
/// # Safety
/// `ptr` is a live block of glibc's or of [`super::fresh`], no longer used.
unsafe fn hand_back(ptr: *mut c_void) {
    if !super::fresh::contains(ptr as usize) {
        // SAFETY: a live glibc block, per the caller.
        unsafe { __libc_free(ptr) }
    }
}

/// `free`'s work: forget, scrub, give back. Err if the table could not be
/// entered (then nothing was done).
///
/// # Safety
/// `ptr` is a live block of the C allocator, not used afterwards.
unsafe fn release(ptr: *mut c_void, call: Call) -> Result<(), ()> {
    let forgot = untrack(ptr, call);
    if let Forgot::Busy = forgot {
        return Err(());
    }
    // SAFETY: a live block of at least its recorded (or usable) size.
    unsafe {
        scrub(ptr, scrubbed_len(ptr, forgot));
        hand_back(ptr);
    }
    Ok(())
}

/// Puts off the free of `ptr` until this thread leaves the interposer;
/// with no room left, the block stays allocated (and recorded), counted
/// as untracked so no measurement calls the figures exact.
fn defer(ptr: *mut c_void, thread: Thread) {
    if !thread.push_pending(ptr as usize) {
        UNTRACKED.fetch_add(1, Relaxed);
        thread.count_untracked();
    }
}

/// The common entry of every allocating function: Rust's calls pass
/// straight through; C's may be refused (outermost calls only), else are
/// made and recorded.
fn c_allocation(size: usize, align: usize, make: impl FnOnce() -> *mut c_void) -> *mut c_void {
    mark_active();
    let thread = Thread::current();
    if in_rust(thread) {
        return make();
    }
    let (call, _inside) = enter(thread);
    if !call.outer() {
        let ptr = make();
        note_refusal(ptr, size);
        track(ptr, size, call);
        return ptr;
    }
    if injected_failure(call.thread) {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    // A recording thread's blocks come from fresh addresses (zeroed, so
    // calloc's too).
    let ptr = match super::stacks::fresh_block(size, align) {
        Some(block) => block.cast(),
        None => make(),
    };
    note_refusal(ptr, size);
    track(ptr, size, call);
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
        // As glibc: the product does not fit, nothing is allocated.
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
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
    // Before anything else, thread-local state included: glibc's own TLS
    // set-up code calls free(NULL).
    if ptr.is_null() {
        return;
    }
    let thread = Thread::current();
    if in_rust(thread) {
        // SAFETY: a live block of Rust's (fresh ones are not given to free).
        return unsafe { hand_back(ptr) };
    }
    let (call, _inside) = enter(thread);
    // Forget before freeing: once freed, another thread may get the same
    // address and record it.
    // SAFETY: a live block, per the caller.
    if unsafe { release(ptr, call) }.is_err() {
        defer(ptr, call.thread);
    }
}

/// # Safety
/// The C standard's contract for `realloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: realloc(NULL, n) is malloc(n).
        return unsafe { malloc(size) };
    }
    mark_active();
    let thread = Thread::current();
    if in_rust(thread) {
        // SAFETY: forwarded as is (the Rust allocator moves its own fresh
        // blocks itself, heap/rust.rs).
        return unsafe { __libc_realloc(ptr, size) };
    }
    let (call, _inside) = enter(thread);
    if size == 0 {
        // glibc frees the block and returns NULL: a free, not an attempt.
        // SAFETY: a live block, per the caller.
        if unsafe { release(ptr, call) }.is_err() {
            defer(ptr, call.thread);
        }
        return ptr::null_mut();
    }
    if call.outer() && injected_failure(call.thread) {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let recording = call.outer() && super::stacks::recording_here();
    if super::fresh::contains(ptr as usize) || recording {
        // Not glibc's block, or a recording thread's, whose blocks come
        // from fresh addresses: moved by hand.
        // SAFETY: a live block, per the caller.
        return unsafe { move_by_hand(ptr, size, call) };
    }
    let forgot = untrack(ptr, call);
    let new = match forgot {
        // SAFETY: a live block, per the caller.
        Forgot::Busy => return unsafe { move_untracked(ptr, size, call.thread) },
        // SAFETY: a live glibc block (fresh ones were moved above).
        _ if SCRUB_FREED.load(Relaxed) => unsafe { scrubbing_realloc(ptr, size, forgot) },
        // SAFETY: forwarded as is; the block is live per the caller.
        _ => unsafe { __libc_realloc(ptr, size) },
    };
    if new.is_null() {
        // The old block stays the caller's (errno is glibc's ENOMEM).
        note_refusal(new, size);
        retrack(ptr, forgot, call);
        return new;
    }
    track(new, size, call);
    new
}

/// `realloc` while freed memory is scrubbed, of a glibc block the table
/// no longer holds: in place wherever glibc resizes in place, zeroing what
/// a shrink gives up first (afterwards glibc's free-list words may be
/// there); never leaving an unscrubbed copy behind.
///
/// # Safety
/// `ptr` is a live glibc block, `size` is not 0.
unsafe fn scrubbing_realloc(ptr: *mut c_void, size: usize, forgot: Forgot) -> *mut c_void {
    // SAFETY: a live glibc block, per the caller.
    let (usable, mmapped) = unsafe { (usable_size(ptr), is_mmapped(ptr)) };
    let recorded = match forgot {
        Forgot::Tracked(size) => size,
        _ => usable,
    };
    if size <= usable {
        // The bytes the caller gives up are zeroed first (if realloc failed
        // they would be lost, but glibc never fails a shrink).
        if recorded > size {
            // SAFETY: inside the block's `recorded` bytes.
            unsafe { ptr::write_bytes(ptr.cast::<u8>().add(size), 0, recorded - size) };
        }
        if !mmapped && size >= usable / 2 {
            // It fits: the block stays as it is. glibc would split off the
            // excess and free it, and the next step of a growing buffer
            // would have to move (here: by hand, as below).
            return ptr;
        }
        // glibc shrinks in place (an mmapped block may be remapped: no
        // copy is left either way).
        // SAFETY: forwarded as is.
        return unsafe { __libc_realloc(ptr, size) };
    }
    if mmapped {
        // mremap, or malloc-copy-munmap: nothing left in the heap.
        // SAFETY: forwarded as is.
        return unsafe { __libc_realloc(ptr, size) };
    }
    // A heap chunk that must grow: glibc might move it and free the old
    // chunk unscrubbed, so it is moved here, with half again as much room,
    // which keeps repeated growth linear (the next steps fit in place).
    let roomy = size.checked_add(size / 2);
    // SAFETY: plain allocations of glibc's.
    let mut new = roomy.map_or(ptr::null_mut(), |r| unsafe { __libc_malloc(r) });
    if new.is_null() {
        // SAFETY: as above.
        new = unsafe { __libc_malloc(size) };
    }
    if new.is_null() {
        return new;
    }
    // SAFETY: `usable` bytes of the old block, into a block of at least
    // `size` > `usable` bytes; then the old one is zeroed and freed.
    unsafe {
        ptr::copy_nonoverlapping(ptr.cast::<u8>(), new.cast::<u8>(), usable);
        ptr::write_bytes(ptr.cast::<u8>(), 0, usable);
        __libc_free(ptr);
    }
    new
}

/// Moves a block by hand: a fresh block, or a recording thread's (whose
/// new block comes from fresh addresses too).
///
/// # Safety
/// `ptr` is a live block of the C allocator, `size` is not 0.
unsafe fn move_by_hand(ptr: *mut c_void, size: usize, call: Call) -> *mut c_void {
    let forgot = untrack(ptr, call);
    let old = match forgot {
        Forgot::Tracked(size) => size,
        // SAFETY: a live block, per the caller.
        Forgot::Busy => return unsafe { move_untracked(ptr, size, call.thread) },
        // SAFETY: a live block, per the caller.
        Forgot::Untracked | Forgot::Foreign => unsafe { usable_size(ptr) },
    };
    let fresh = match call.depth {
        Depth::Outer => super::stacks::fresh_block(size, MALLOC_ALIGN),
        Depth::Reentrant => None,
    };
    let new: *mut c_void = match fresh {
        Some(block) => block.cast(),
        // SAFETY: a plain allocation of glibc's.
        None => unsafe { __libc_malloc(size) },
    };
    if new.is_null() {
        retrack(ptr, forgot, call);
        set_errno(libc::ENOMEM);
        return new;
    }
    track(new, size, call);
    // SAFETY: `old` bytes of the live old block (its recorded or usable
    // size), `size` of the new one; then the old one is given up.
    unsafe {
        ptr::copy_nonoverlapping(ptr.cast::<u8>(), new.cast::<u8>(), old.min(size));
        scrub(ptr, old);
        hand_back(ptr);
    }
    new
}

/// Moves a block whose shard could not be entered: a new untracked block,
/// the contents copied, the old block's free put off (it completes once
/// this thread leaves the interposer).
///
/// # Safety
/// `ptr` is a live block of the C allocator, `size` is not 0.
unsafe fn move_untracked(ptr: *mut c_void, size: usize, thread: Thread) -> *mut c_void {
    // SAFETY: a plain allocation of glibc's.
    let new = unsafe { __libc_malloc(size) };
    if new.is_null() {
        return new;
    }
    note_untracked(new, thread);
    // SAFETY: the old block's usable bytes (at most `size`) into the new.
    unsafe {
        let old = usable_size(ptr);
        ptr::copy_nonoverlapping(ptr.cast::<u8>(), new.cast::<u8>(), old.min(size));
    }
    defer(ptr, thread);
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

/// glibc's reading of a `memalign` alignment: a power of two at least
/// `MALLOC_ALIGN`, anything else rounded up to one; None (EINVAL) past
/// `SIZE_MAX / 2 + 1`.
fn memalign_alignment(align: usize) -> Option<usize> {
    align.max(MALLOC_ALIGN).checked_next_power_of_two()
}

/// # Safety
/// glibc's contract for `memalign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    let Some(align) = memalign_alignment(align) else {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    };
    // SAFETY: forwarded with the alignment glibc would use itself.
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
