//! Allocation stacks, recorded on request. While a thread records, every
//! block it allocates on either side is kept with the return addresses of
//! its allocation stack until it is freed; what is left when the recording
//! stops is what those calls kept, and where each block came from.
//!
//! Recording is meant for a few calls (the leak checks record extra calls
//! only after the counters found a leak), so it affords one unwind per
//! allocation. One thread records at a time (a lock held by the
//! [`Recording`]); the allocator hooks of every other thread pay one
//! relaxed load. The store is mmap'd, never the heap it watches, and holds
//! block addresses disguised (`addr ^ HIDE`), so it points at nothing for a
//! heap scanner ([`super::reach`]).

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use super::{HIDE, Side};

/// Return addresses kept per block (innermost first).
pub const FRAMES: usize = 40;
/// Blocks one recording can follow; later ones are counted as dropped.
pub const CAPACITY: usize = 1 << 16;
/// Open-addressing index from address to entry: twice the entries, so
/// the load stays at or under one half (entries are never reused).
const SLOTS: usize = CAPACITY * 2;
const TOMBSTONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    key: usize,
    size: usize,
    side: Side,
    live: bool,
    depth: u8,
    frames: [usize; FRAMES],
}

/// One block allocated while recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `addr ^ HIDE`: see [`Block::address`].
    hidden: usize,
    pub size: usize,
    pub side: Side,
    /// Return addresses, innermost first (the recorder's own frames too).
    pub frames: Vec<usize>,
}

impl Block {
    /// The block's address (computed, not stored: see the module docs).
    pub fn address(&self) -> usize {
        self.hidden ^ HIDE
    }
}

/// What a recording saw.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Allocated while recording and not freed.
    pub kept: Vec<Block>,
    /// Allocated and freed while recording: their memory may still hold
    /// stale pointers, which a reachability scan must not count. Disguised
    /// addresses, with sizes ([`Recorded::freed_regions`]).
    freed: Vec<(usize, usize)>,
    /// Allocations beyond the store's capacity, not followed.
    pub dropped: u64,
}

impl Recorded {
    /// Every block of `blocks` (address, size) as kept C blocks with no
    /// stacks: what a scan at exit classifies when nothing was recorded
    /// (the preload shim's view of a whole process).
    pub fn of_live_blocks(blocks: &[(usize, usize)]) -> Recorded {
        Recorded {
            kept: blocks
                .iter()
                .map(|&(addr, size)| Block {
                    hidden: addr ^ HIDE,
                    size,
                    side: Side::C,
                    frames: Vec::new(),
                })
                .collect(),
            ..Recorded::default()
        }
    }
}

struct Store {
    entries: *mut Entry,
    index: *mut u32,
    len: usize,
    dropped: u64,
}

struct Shared(UnsafeCell<Store>);
// SAFETY: the store is touched only by the thread that holds `LOCK` (the
// recording thread, whose hooks alone see RECORDING set).
unsafe impl Sync for Shared {}

static STORE: Shared = Shared(UnsafeCell::new(Store {
    entries: ptr::null_mut(),
    index: ptr::null_mut(),
    len: 0,
    dropped: 0,
}));
static LOCK: Mutex<()> = Mutex::new(());
/// Some thread is recording: the hooks' cheap first test.
static ANY: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// 0: not recording; 1: recording; 2: inside the recorder (allocations
    /// the unwinder makes are not recorded).
    static STATE: Cell<u8> = const { Cell::new(0) };
}

/// A recording on the calling thread; [`Recording::stop`] ends it.
pub struct Recording {
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// Starts recording the calling thread's allocations; `None` if the store
/// could not be mapped.
pub fn start() -> Option<Recording> {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: we hold LOCK, so no other thread touches the store.
    let store = unsafe { &mut *STORE.0.get() };
    if store.entries.is_null() {
        store.entries = map(CAPACITY * size_of::<Entry>())?.cast();
        store.index = map(SLOTS * size_of::<u32>())?.cast();
    }
    // Without fresh addresses the stacks are still right; the split may
    // call a lost block reachable (see heap::fresh).
    super::fresh::map();
    store.len = 0;
    store.dropped = 0;
    // SAFETY: the index mapping holds SLOTS u32s.
    unsafe { ptr::write_bytes(store.index, 0, SLOTS) };
    STATE.with(|s| s.set(1));
    ANY.store(true, Relaxed);
    Some(Recording {
        _one_at_a_time: guard,
    })
}

impl Recording {
    /// Ends the recording: the blocks still live, and those freed.
    pub fn stop(self) -> Recorded {
        STATE.with(|s| s.set(0));
        ANY.store(false, Relaxed);
        // SAFETY: we still hold LOCK (self), and this thread no longer records.
        let store = unsafe { &*STORE.0.get() };
        let mut out = Recorded {
            dropped: store.dropped,
            ..Recorded::default()
        };
        for i in 0..store.len {
            // SAFETY: entries below len were written.
            let e = unsafe { &*store.entries.add(i) };
            if e.live {
                out.kept.push(Block {
                    hidden: e.key,
                    size: e.size,
                    side: e.side,
                    frames: e.frames[..e.depth as usize].to_vec(),
                });
            } else {
                out.freed.push((e.key, e.size));
            }
        }
        out
    }
}

impl Recorded {
    /// `(address, size)` of each block allocated and freed while recording.
    pub fn freed_regions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.freed
            .iter()
            .map(|&(hidden, size)| (hidden ^ HIDE, size))
    }
}

/// The region the store occupies, so a scanner can skip it.
pub fn store_regions() -> [(usize, usize); 2] {
    // Read without LOCK: the pointers are set once and never change.
    // SAFETY: a plain read of two pointers written once under LOCK before.
    let store = unsafe { &*STORE.0.get() };
    [
        (store.entries as usize, CAPACITY * size_of::<Entry>()),
        (store.index as usize, SLOTS * size_of::<u32>()),
    ]
}

/// Hook, before an allocation: a block from fresh addresses
/// ([`super::fresh`]) if the calling thread records, else `None`.
#[inline]
pub fn fresh_block(size: usize, align: usize) -> Option<*mut u8> {
    if !recording_here() {
        return None;
    }
    let block = super::fresh::alloc(size, align);
    (!block.is_null()).then_some(block)
}

/// Whether the calling thread records (and is not inside the recorder).
#[inline]
pub fn recording_here() -> bool {
    ANY.load(Relaxed) && STATE.try_with(Cell::get).unwrap_or(0) == 1
}

/// Hook: a block was handed out.
#[inline]
pub fn on_alloc(addr: usize, size: usize, side: Side) {
    if ANY.load(Relaxed) && entered() {
        // SAFETY: this thread records, so it holds LOCK.
        unsafe { record(addr, size, side) };
        leave();
    }
}

/// Hook: a block of `size` bytes is about to be freed (or moved by
/// realloc). A block from before the recording is noted as freed too: its
/// memory may hold pointers written while recording.
#[inline]
pub fn on_free(addr: usize, size: usize) {
    if ANY.load(Relaxed) && entered() {
        // SAFETY: this thread records, so it holds LOCK.
        unsafe { forget(addr, size) };
        leave();
    }
}

/// True, and marks the thread busy, if it records and is not already
/// inside the recorder.
fn entered() -> bool {
    STATE
        .try_with(|s| {
            let recording = s.get() == 1;
            if recording {
                s.set(2);
            }
            recording
        })
        .unwrap_or(false)
}

fn leave() {
    STATE.with(|s| s.set(1));
}

fn home(addr: usize) -> usize {
    (addr.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % SLOTS
}

/// # Safety
/// The caller holds LOCK (it is the recording thread).
unsafe fn record(addr: usize, size: usize, side: Side) {
    // SAFETY: per the caller, the store is ours.
    let store = unsafe { &mut *STORE.0.get() };
    if store.len == CAPACITY {
        store.dropped += 1;
        return;
    }
    let mut frames = [0usize; FRAMES];
    // The busy state keeps the unwinder's own allocations out of the store.
    let depth = super::unwind::trace(&mut frames);
    let at = store.len;
    // SAFETY: `at` is below CAPACITY, inside the entries mapping.
    unsafe {
        store.entries.add(at).write(Entry {
            key: addr ^ HIDE,
            size,
            side,
            live: true,
            depth: depth as u8,
            frames,
        })
    };
    store.len += 1;
    let mut slot = home(addr);
    loop {
        // SAFETY: `slot` is below SLOTS, inside the index mapping.
        let value = unsafe { &mut *store.index.add(slot) };
        if *value == 0 || *value == TOMBSTONE {
            *value = at as u32 + 1;
            return;
        }
        slot = (slot + 1) % SLOTS;
    }
}

/// # Safety
/// The caller holds LOCK (it is the recording thread).
unsafe fn forget(addr: usize, size: usize) {
    // SAFETY: per the caller, the store is ours.
    let store = unsafe { &mut *STORE.0.get() };
    let mut slot = home(addr);
    loop {
        // SAFETY: `slot` is below SLOTS, inside the index mapping.
        let value = unsafe { &mut *store.index.add(slot) };
        match *value {
            0 => {
                // Allocated before the recording began: an entry, freed.
                if store.len == CAPACITY {
                    store.dropped += 1;
                } else {
                    // SAFETY: `len` is below CAPACITY, inside the entries mapping.
                    unsafe {
                        store.entries.add(store.len).write(Entry {
                            key: addr ^ HIDE,
                            size,
                            side: Side::C,
                            live: false,
                            depth: 0,
                            frames: [0; FRAMES],
                        })
                    };
                    store.len += 1;
                }
                return;
            }
            TOMBSTONE => {}
            n => {
                // SAFETY: index values are entry numbers + 1, below len.
                let entry = unsafe { &mut *store.entries.add(n as usize - 1) };
                if entry.key == addr ^ HIDE {
                    entry.live = false;
                    *value = TOMBSTONE;
                    return;
                }
            }
        }
        slot = (slot + 1) % SLOTS;
    }
}

fn map(bytes: usize) -> Option<*mut libc::c_void> {
    // SAFETY: an anonymous private mapping; no existing memory involved.
    let mapped = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    (mapped != libc::MAP_FAILED).then_some(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_block_is_recorded_with_its_stack_and_a_freed_one_is_not() {
        let recording = start().expect("mapped");
        let kept = Box::into_raw(Box::new([7u8; 40]));
        drop(Box::new([0u8; 24]));
        let recorded = recording.stop();
        let mine: Vec<_> = recorded
            .kept
            .iter()
            .filter(|b| b.address() == kept as usize)
            .collect();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].size, mine[0].side), (40, Side::Rust));
        assert!(mine[0].frames.len() > 3, "an unwound stack");
        assert!(recorded.freed_regions().any(|(_, size)| size == 24));
        // SAFETY: made by Box::into_raw above.
        drop(unsafe { Box::from_raw(kept) });
    }
}
