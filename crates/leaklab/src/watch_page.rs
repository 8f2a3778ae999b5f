//! The page the preload shim and the watcher share: the shim's live C
//! heap counts, published by the shim, read by `leaklab watch`, one
//! [`Record`] per process (the watched program and its descendants, which
//! inherit the shim through `LD_PRELOAD`).
//!
//! One file, mapped `MAP_SHARED` by every process; its path is in
//! [`PATH_VAR`]. Every field is an atomic, so no side needs a lock.
//! The counts are published as a sequence lock: [`Record::seq`] is odd
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

/// Per-process records on the page: a watched program's tree rarely has
/// more processes alive at once; a process that finds none free counts
/// but does not publish (the watcher still sees its RSS).
pub const RECORDS: usize = 255;

/// The shared page's contents: the watcher's settings, then one record per
/// process that loaded the shim (the watched program, every process it
/// forks, every program they exec), claimed by pid.
#[repr(C)]
pub struct Shared {
    /// [`MAGIC`], written by the watcher.
    pub magic: AtomicU64,
    /// How often the shim publishes, in nanoseconds (written by the
    /// watcher); 0: only once, at exit.
    pub publish_ns: AtomicU64,
    /// The records; the first is the watched program's (the first process
    /// to load the shim), at the offsets the page had with a single one.
    pub records: [Record; RECORDS],
}

/// One process's counts.
#[repr(C)]
pub struct Record {
    /// The pid of the process whose counts these are: claimed by the
    /// process (0: free), and again by the same pid after an `exec`.
    pub pid: AtomicU64,
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
    /// 1 from the moment the process began to exit (the first thing its
    /// destructor does): memory sampled from then on is teardown, not the
    /// running program.
    pub exiting: AtomicU64,
    /// Allocations glibc refused (NULL): the process ran out of memory or
    /// into a cap on it. Published with the counts.
    pub refused: AtomicU64,
    /// Bytes the shim mapped for itself (its side table), resident in the
    /// process but no memory of the program's. Published with the counts.
    pub shim_bytes: AtomicU64,
}

// The first record sits where the single one was (offset 16): a reader
// built against that layout (the shim's own tests) still finds it.
const _: () = assert!(std::mem::offset_of!(Shared, records) == 16);
const _: () = assert!(std::mem::offset_of!(Record, live_blocks) == 16);
// Files of 32 KiB (the shim's tests write that much) hold a whole page.
const _: () = assert!(size_of::<Shared>() <= 32 << 10);

/// One reading of the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Live blocks.
    pub live_blocks: i64,
    /// Live bytes.
    pub live_bytes: i64,
    /// Allocations ever made.
    pub allocations: u64,
    /// Allocations refused by glibc.
    pub refused: u64,
    /// The shim's own mapped bytes.
    pub shim_bytes: u64,
}

impl Shared {
    /// The record of process `pid`, if it claimed one.
    pub fn find(&self, pid: u64) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| pid != 0 && r.pid.load(Ordering::Acquire) == pid)
    }

    /// Claims a record for `pid`: the one it holds already (an `exec`
    /// reloads the shim under the same pid), else a free one; None if all
    /// are taken. Lock-free, no allocation: safe in a fork handler.
    pub fn claim(&self, pid: u64) -> Option<&Record> {
        if pid == 0 {
            return None;
        }
        self.find(pid).or_else(|| {
            self.records.iter().find(|r| {
                r.pid
                    .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
        })
    }
}

impl Record {
    /// Publishes `counts` (the shim's side; one writer at a time).
    pub fn publish(&self, counts: Counts) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.live_blocks
            .store(counts.live_blocks, Ordering::Relaxed);
        self.live_bytes.store(counts.live_bytes, Ordering::Relaxed);
        self.allocations
            .store(counts.allocations, Ordering::Relaxed);
        self.refused.store(counts.refused, Ordering::Relaxed);
        self.shim_bytes.store(counts.shim_bytes, Ordering::Relaxed);
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
                refused: self.refused.load(Ordering::Relaxed),
                shim_bytes: self.shim_bytes.load(Ordering::Relaxed),
            };
            std::sync::atomic::fence(Ordering::Acquire);
            if before.is_multiple_of(2) && self.seq.load(Ordering::Relaxed) == before {
                return Some(counts);
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Whether the process began to exit.
    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Acquire) != 0
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
