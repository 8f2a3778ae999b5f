//! The page the preload shim and the watcher share: the shim's live C
//! heap counts, published by the shim, read by `leaklab watch`.
//!
//! One file, mapped `MAP_SHARED` by both processes; its path is in
//! [`PATH_VAR`]. Every field is an atomic, so neither side needs a lock.
//! The counts are published as a sequence lock: [`Shared::seq`] is odd
//! while the shim writes them, and a reader retries until it reads the
//! same even value before and after.
//!
//! This file is compiled into the lab and, by `#[path]`, into the shim
//! (preload/), so the two never disagree on the layout.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The environment variable naming the shared file.
pub const PATH_VAR: &str = "LEAKLAB_WATCH_HEAP";

/// [`PATH_VAR`] as a C string, for the shim's `getenv` (it cannot allocate
/// one before `main`).
pub const PATH_VAR_C: &std::ffi::CStr = c"LEAKLAB_WATCH_HEAP";

/// Written by the watcher before the program starts; the shim maps
/// nothing that does not carry it.
pub const MAGIC: u64 = 0x6c65_616b_6c61_6231; // "leaklab1"

/// The shared page's contents.
#[repr(C)]
pub struct Shared {
    /// [`MAGIC`], written by the watcher.
    pub magic: AtomicU64,
    /// How often the shim publishes, in nanoseconds (written by the
    /// watcher); 0: only once, at exit.
    pub publish_ns: AtomicU64,
    /// The pid of the process whose counts these are: claimed by the first
    /// process that loads the shim (the watched program), or again by the
    /// same pid after an `exec`; a child it forks does not publish.
    pub owner_pid: AtomicU64,
    /// Sequence lock over the counts: odd while they are written; 0 until
    /// the first publication.
    pub seq: AtomicU64,
    /// Live blocks of the process's malloc heap.
    pub live_blocks: AtomicI64,
    /// Live bytes (as requested) of the process's malloc heap.
    pub live_bytes: AtomicI64,
    /// Allocations ever made.
    pub allocations: AtomicU64,
    /// 1 once the shim published the counts at the process's exit (its
    /// `.fini_array` destructor): what the process never freed.
    pub exited: AtomicU64,
    /// At exit, from a conservative scan of the process's memory (as
    /// memcheck's at exit): blocks no pointer reaches (definitely and
    /// indirectly lost), and their bytes.
    pub lost_blocks: AtomicI64,
    pub lost_bytes: AtomicI64,
    /// At exit: blocks reached only through pointers into their middle
    /// (memcheck's "possibly lost").
    pub possible_blocks: AtomicI64,
    pub possible_bytes: AtomicI64,
}

/// One reading of the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Live blocks.
    pub live_blocks: i64,
    /// Live bytes.
    pub live_bytes: i64,
    /// Allocations ever made.
    pub allocations: u64,
}

impl Shared {
    /// Publishes `counts` (the shim's side; one writer at a time).
    pub fn publish(&self, counts: Counts) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.live_blocks
            .store(counts.live_blocks, Ordering::Relaxed);
        self.live_bytes.store(counts.live_bytes, Ordering::Relaxed);
        self.allocations
            .store(counts.allocations, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::AcqRel);
    }

    /// The last published counts, or None before the first publication
    /// (or if the writer died mid-write and the counts stay torn).
    pub fn read(&self) -> Option<Counts> {
        for _ in 0..READ_TRIES {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            let counts = Counts {
                live_blocks: self.live_blocks.load(Ordering::Relaxed),
                live_bytes: self.live_bytes.load(Ordering::Relaxed),
                allocations: self.allocations.load(Ordering::Relaxed),
            };
            std::sync::atomic::fence(Ordering::Acquire);
            if before.is_multiple_of(2) && self.seq.load(Ordering::Relaxed) == before {
                return Some(counts);
            }
            std::hint::spin_loop();
        }
        None
    }
}

/// Attempts at a consistent read before giving up: a publication takes a
/// few stores, so a reader that keeps seeing one in progress is looking at
/// a writer that was killed in the middle of one.
const READ_TRIES: u32 = 10_000;

/// Maps `len` bytes of the shared file open as `fd`, read-write and
/// shared; `None` if mmap refused. Used by both sides, so both map it the
/// same way. The mapping stays valid after `fd` is closed.
pub fn map_shared(fd: std::ffi::c_int, len: usize) -> Option<*mut Shared> {
    // SAFETY: a fresh shared mapping of an open file; no existing memory
    // of this process is involved.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    (map != libc::MAP_FAILED).then(|| map.cast())
}
