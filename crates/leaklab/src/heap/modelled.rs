//! The C allocator under Miri: there is no interposer (Miri runs no C), so
//! a Rust model of a C library (the lab's, in its src/sys/model) allocates
//! every C object through these counting, fault-injecting functions, which
//! stand for the process's malloc and free as [`super::interpose`] counts
//! them.
//!
//! Blocks come from `libc::malloc`, not `std::alloc`: the lab's counting
//! global allocator must not see C-side blocks, and Miri then reports a
//! leaked block with a backtrace through `lab_malloc`. The requested size is
//! kept in a header in front of each block: the model's private detail
//! (Miri reports blocks, not malloc's sizes), standing for the interposer's
//! side table.

use std::ffi::c_void;
use std::mem::{align_of, size_of};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use super::Live;

const HEADER: usize = 16;

static LIVE_BLOCKS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static TOTAL_ALLOCS: AtomicU64 = AtomicU64::new(0);
static FAILED_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// 0: nothing armed.
static FAIL_COUNTDOWN: AtomicU64 = AtomicU64::new(0);
/// Keep failing once the armed failure triggered.
static FAIL_PERSISTENT: AtomicBool = AtomicBool::new(false);
/// A persistent failure triggered.
static FAIL_STUCK: AtomicBool = AtomicBool::new(false);

/// One allocation attempt: true if fault injection refuses it.
fn injected_failure() -> bool {
    if FAIL_STUCK.load(SeqCst) {
        FAILED_ALLOCS.fetch_add(1, SeqCst);
        return true;
    }
    let mut current = FAIL_COUNTDOWN.load(SeqCst);
    while current != 0 {
        match FAIL_COUNTDOWN.compare_exchange_weak(current, current - 1, SeqCst, SeqCst) {
            Ok(_) if current != 1 => return false,
            Ok(_) => {
                if FAIL_PERSISTENT.load(SeqCst) {
                    FAIL_STUCK.store(true, SeqCst);
                }
                FAILED_ALLOCS.fetch_add(1, SeqCst);
                return true;
            }
            Err(actual) => current = actual,
        }
    }
    false
}

/// Records a new block of `size` requested bytes whose header is at `base`.
///
/// # Safety
/// `base` must be valid for writing `HEADER` bytes and aligned for `usize`.
unsafe fn count_new(base: *mut u8, size: usize) {
    // SAFETY: the header is inside the block, per the caller.
    unsafe { base.cast::<usize>().write(size) };
    LIVE_BLOCKS.fetch_add(1, SeqCst);
    LIVE_BYTES.fetch_add(size as u64, SeqCst);
    TOTAL_ALLOCS.fetch_add(1, SeqCst);
}

/// The header of a block handed out by this layer.
///
/// # Safety
/// `ptr` must be a live, non-null pointer returned by this layer.
unsafe fn base_of(ptr: *mut c_void) -> *mut u8 {
    // SAFETY: every pointer handed out is `HEADER` bytes into its block.
    unsafe { ptr.cast::<u8>().sub(HEADER) }
}

pub extern "C" fn lab_malloc(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER) else {
        return ptr::null_mut();
    };
    if injected_failure() {
        return ptr::null_mut();
    }
    // SAFETY: plain malloc of a non-zero size; NULL is checked.
    let base = unsafe { libc::malloc(total) }.cast::<u8>();
    if base.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `base` holds `HEADER + size` bytes, malloc-aligned; the user
    // part starts `HEADER` bytes in.
    unsafe {
        count_new(base, size);
        base.add(HEADER).cast()
    }
}

pub extern "C" fn lab_calloc(count: usize, size: usize) -> *mut c_void {
    let Some(bytes) = count.checked_mul(size) else {
        return ptr::null_mut();
    };
    let ptr = lab_malloc(bytes);
    if !ptr.is_null() {
        // SAFETY: a fresh block of `bytes` writable bytes.
        unsafe { ptr.cast::<u8>().write_bytes(0, bytes) };
    }
    ptr
}

/// Like realloc: NULL on failure, the old block untouched.
///
/// # Safety
/// `ptr` must be NULL or a live block of this layer; on success it is gone.
pub unsafe extern "C" fn lab_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        return lab_malloc(size);
    }
    let Some(total) = size.checked_add(HEADER) else {
        return ptr::null_mut();
    };
    if injected_failure() {
        return ptr::null_mut();
    }
    // SAFETY: a live block of this layer, per the caller: its header holds
    // the requested size, and realloc either moves it or leaves it alone.
    unsafe {
        let old = base_of(ptr);
        let old_size = old.cast::<usize>().read();
        let base = libc::realloc(old.cast(), total).cast::<u8>();
        if base.is_null() {
            return ptr::null_mut();
        }
        base.cast::<usize>().write(size);
        LIVE_BYTES.fetch_sub(old_size as u64, SeqCst);
        LIVE_BYTES.fetch_add(size as u64, SeqCst);
        TOTAL_ALLOCS.fetch_add(1, SeqCst);
        base.add(HEADER).cast()
    }
}

/// # Safety
/// `ptr` must be NULL or a live block of this layer, not used afterwards.
pub unsafe extern "C" fn lab_free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: a live block of this layer, per the caller.
    unsafe {
        let base = base_of(ptr);
        LIVE_BYTES.fetch_sub(base.cast::<usize>().read() as u64, SeqCst);
        LIVE_BLOCKS.fetch_sub(1, SeqCst);
        libc::free(base.cast());
    }
}

/// Copies `n` bytes of `s` and a NUL: one block of `n + 1` bytes.
///
/// # Safety
/// `s` must be valid for reading `n` bytes (it may be NULL when `n` is 0).
pub unsafe extern "C" fn lab_strndup(s: *const libc::c_char, n: usize) -> *mut libc::c_char {
    let Some(size) = n.checked_add(1) else {
        return ptr::null_mut();
    };
    let copy = lab_malloc(size).cast::<libc::c_char>();
    if copy.is_null() {
        return copy;
    }
    // SAFETY: `copy` holds n + 1 bytes; `s` holds n readable bytes per the
    // caller; fresh blocks never overlap the source.
    unsafe {
        if n != 0 {
            ptr::copy_nonoverlapping(s, copy, n);
        }
        copy.add(n).write(0);
    }
    copy
}

use super::c::Stats;

pub fn stats() -> Stats {
    Stats {
        live_blocks: LIVE_BLOCKS.load(SeqCst) as i64,
        live_bytes: LIVE_BYTES.load(SeqCst) as i64,
        total_allocs: TOTAL_ALLOCS.load(SeqCst),
        failed_allocs: FAILED_ALLOCS.load(SeqCst),
        foreign_frees: 0,
        untracked: 0,
    }
}

/// The model counts process-wide only: Miri runs one test at a time.
pub fn thread_live() -> Live {
    let s = stats();
    Live {
        blocks: s.live_blocks,
        bytes: s.live_bytes,
    }
}

pub fn is_active() -> bool {
    true
}

/// The model frees only its own blocks.
pub fn thread_foreign_frees() -> u64 {
    0
}

/// The model records every block.
pub fn thread_untracked() -> u64 {
    0
}

pub fn fail_nth(n: u64, persistent: bool) {
    FAIL_COUNTDOWN.store(0, SeqCst);
    FAIL_STUCK.store(false, SeqCst);
    FAIL_PERSISTENT.store(persistent, SeqCst);
    FAIL_COUNTDOWN.store(n, SeqCst);
}

pub fn fail_pending() -> u64 {
    FAIL_COUNTDOWN.load(SeqCst)
}

/// Moves `value` into a zeroed block of this layer (as C's
/// `lab_calloc(1, sizeof *p)`), so model objects count as C blocks.
pub fn alloc_value<T>(value: T) -> Option<NonNull<T>> {
    const { assert!(align_of::<T>() <= HEADER) };
    let block = NonNull::new(lab_calloc(1, size_of::<T>()).cast::<T>())?;
    // SAFETY: a fresh block of size_of::<T>() bytes, aligned to 16 (malloc
    // alignment plus a 16-byte header), at least T's alignment.
    unsafe { block.as_ptr().write(value) };
    Some(block)
}

/// Drops the value in a block from [`alloc_value`] and frees the block.
///
/// # Safety
/// `block` must come from `alloc_value::<T>`, still live, and not be used
/// afterwards.
pub unsafe fn free_value<T>(block: *mut T) {
    // SAFETY: a live, initialised T in a block of this layer, per the caller.
    unsafe {
        ptr::drop_in_place(block);
        lab_free(block.cast());
    }
}
