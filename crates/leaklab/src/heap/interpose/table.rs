//! The interposer's side table: the requested size of every live C block,
//! keyed by its address, so no header sits inside a block.
//!
//! It must never allocate through the functions it serves, so its memory
//! comes from `mmap`. Addresses spread over `SHARDS` independently locked
//! shards, each with two open-addressing tables (linear probing,
//! backward-shift deletion), each doubled by a fresh mapping: one of 8-byte
//! slots (address and size packed in a word) for the blocks that fit,
//! nearly all (below 1 MiB, at an address below 2^47), doubled at three
//! quarters load, and one of 16-byte slots for the rest, doubled at half.
//!
//! A block's home slot keeps memory's order within a page: the page's hash
//! picks its shard and a run of 256 slots, the block's place in the page
//! (rotated by a per-page amount, so two pages sharing a run do not collide
//! slot for slot) its slot in the run. Blocks allocated together then sit
//! in the same few cache lines of the table: with a hash of the whole
//! address every insert and remove of a large heap was a cache miss
//! (1,000,000 live 32-byte blocks: 0.45 s CPU against 0.15-0.19 s now, at
//! the cost of longer probes, BENCHMARKS.md section 2).
//!
//! A shard's lock word holds its owner (a per-thread id, `guard::me`)
//! rather than a flag, so that a fork handler can tell a lock its own thread
//! holds (a `fork` from a signal handler that interrupted this table) from
//! one it must wait for. Nothing in here waits on a lock its own thread
//! holds: a lock found held by the calling thread is reported as
//! [`Inserted::Busy`] / [`Removed::Busy`], and a call that re-entered the
//! interposer (a signal handler's) never waits at all ([`Wait::Never`]).
//! Holders never wait for anything while they hold a shard.
//!
//! Fork: the `pthread_atfork` prepare handler takes every shard
//! (`lock_all`), as glibc's `__malloc_fork_lock_parent` takes every arena,
//! and the parent and child handlers release them (`unlock_all`), so a
//! child never starts with a shard locked by a thread it does not have.
//! While a fork is being prepared, a thread that has waited for a shard for
//! [`FORK_WAIT_NS`] gives up instead ([`Inserted::Busy`]): glibc's `fork`
//! takes its own locks (stdio's list, NSS) after the prepare handlers ran,
//! and a thread holding one of those while it calls `malloc` must not wait
//! for the forking thread forever. The caller then records the block as
//! untracked (counted, reported), never deadlocks.

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

// Keys are disguised addresses: see HIDE.
use crate::heap::HIDE;

use super::guard;

/// Independent tables: threads freeing and allocating at once rarely wait.
const SHARDS: usize = 64;
/// Slots in a shard's first mapping (a 64 KiB page run).
const FIRST_CAPACITY: usize = 4096;

/// A wide slot: any address, any size (16 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
struct Wide {
    /// `addr ^ HIDE`; 0: empty (HIDE is odd, so no block address gives 0).
    key: usize,
    size: usize,
}

/// A packed slot (8 bytes), for the common block: an address below
/// 2^47 (every user-space address with 4-level paging) and a size below
/// [`PACKED_SIZES`]. Bits 0..44: `(addr >> 4) ^ HIDE_44`, whose bit 43 is
/// then always set, so no entry is 0 (empty); bits 44..64: the size. Half
/// the memory of a wide slot, and eight to a cache line.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct Packed(u64);

const KEY_BITS: u32 = 44;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;
/// Sizes a packed slot holds: below 1 MiB.
const PACKED_SIZES: usize = 1 << (64 - KEY_BITS);
/// Addresses a packed slot holds: below 2^47.
const PACKED_ADDRS: usize = 1 << 47;
/// The disguise of a packed key (see HIDE): bit 43 set, so that a key of
/// an address below 2^47 is never 0.
const HIDE_44: u64 = (HIDE as u64 & KEY_MASK) | (1 << 43);

/// What a table's slots are: an empty value, a key match, the entry's
/// address and size, and the load at which the table doubles.
trait Entry: Copy {
    const EMPTY: Self;
    /// Doubles when `len * LOAD_DEN > capacity * LOAD_NUM`.
    const LOAD_NUM: usize;
    const LOAD_DEN: usize;
    fn new(addr: usize, size: usize) -> Self;
    fn is_empty(self) -> bool;
    fn is(self, addr: usize) -> bool;
    fn addr(self) -> usize;
    fn size(self) -> usize;
}

impl Entry for Wide {
    const EMPTY: Wide = Wide { key: 0, size: 0 };
    const LOAD_NUM: usize = 1;
    const LOAD_DEN: usize = 2;
    #[inline]
    fn new(addr: usize, size: usize) -> Wide {
        Wide {
            key: addr ^ HIDE,
            size,
        }
    }
    #[inline]
    fn is_empty(self) -> bool {
        self.key == 0
    }
    #[inline]
    fn is(self, addr: usize) -> bool {
        self.key == addr ^ HIDE
    }
    #[inline]
    fn addr(self) -> usize {
        self.key ^ HIDE
    }
    #[inline]
    fn size(self) -> usize {
        self.size
    }
}

impl Packed {
    /// Whether an address can be in a packed slot: below 2^47 and 16-byte
    /// aligned (a packed key drops the low 4 bits, so a misaligned pointer
    /// passed to `free` must never match the block it points into).
    #[inline]
    fn holds_addr(addr: usize) -> bool {
        addr < PACKED_ADDRS && addr & 15 == 0
    }

    /// Whether a block goes in a packed slot.
    #[inline]
    fn fits(addr: usize, size: usize) -> bool {
        Packed::holds_addr(addr) && size < PACKED_SIZES
    }

    #[inline]
    fn key(addr: usize) -> u64 {
        (addr as u64 >> 4) ^ HIDE_44
    }
}

impl Entry for Packed {
    const EMPTY: Packed = Packed(0);
    const LOAD_NUM: usize = PACKED_LOAD_NUM;
    const LOAD_DEN: usize = 4;
    #[inline]
    fn new(addr: usize, size: usize) -> Packed {
        Packed(((size as u64) << KEY_BITS) | Packed::key(addr))
    }
    #[inline]
    fn is_empty(self) -> bool {
        self.0 == 0
    }
    #[inline]
    fn is(self, addr: usize) -> bool {
        self.0 & KEY_MASK == Packed::key(addr)
    }
    #[inline]
    fn addr(self) -> usize {
        (((self.0 & KEY_MASK) ^ HIDE_44) << 4) as usize
    }
    #[inline]
    fn size(self) -> usize {
        (self.0 >> KEY_BITS) as usize
    }
}

/// A packed table doubles past this many quarters of load.
const PACKED_LOAD_NUM: usize = 3;

/// One open-addressing table (linear probing, backward-shift deletion).
struct Open<E> {
    slots: *mut E,
    capacity: usize,
    len: usize,
    /// The table doubles before an insert finds `len` at this (its load
    /// limit, `E::LOAD_NUM / E::LOAD_DEN` of the capacity).
    limit: usize,
    /// `64 - log2(capacity)`: the shift that takes a hash to a home slot.
    shift: u32,
}

/// A shard's tables (an entry is in exactly one of them) and its counts.
struct Table {
    packed: Open<Packed>,
    wide: Open<Wide>,
    totals: Totals,
}

/// One shard: a spin lock (no allocation, no futex bookkeeping, short
/// critical sections) around a table and its counts. The counts live here,
/// under the lock already taken, rather than in process-wide atomics: three
/// fewer locked instructions per call.
struct Shard {
    /// 0: free; else the id (`guard::me`) of the thread that holds it.
    owner: AtomicUsize,
    table: UnsafeCell<Table>,
}

/// A shard's share of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub live_blocks: i64,
    pub live_bytes: i64,
    /// Blocks recorded as new allocations, ever.
    pub allocations: u64,
}

// SAFETY: `table` is only touched while `owner` is held (`Shard::with`).
unsafe impl Sync for Shard {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SHARD: Shard = Shard {
    owner: AtomicUsize::new(0),
    table: UnsafeCell::new(Table {
        packed: Open::EMPTY,
        wide: Open::EMPTY,
        totals: Totals {
            live_blocks: 0,
            live_bytes: 0,
            allocations: 0,
        },
    }),
};

static TABLE: [Shard; SHARDS] = [EMPTY_SHARD; SHARDS];

/// Fibonacci hashing of an address's 4 KiB page: the blocks of one page
/// share a shard and a run of slots ([`Table::home`]).
fn hash(addr: usize) -> usize {
    (addr >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Slots a page's blocks start from: its 256 16-byte places.
const PAGE_SLOTS: usize = 256;

/// The top 6 bits of the hash pick the shard; the slot comes from the
/// bits below them ([`Table::home`]): a product's high bits are its
/// well-mixed ones.
fn shard_of(addr: usize) -> &'static Shard {
    &TABLE[(hash(addr) >> 58) % SHARDS]
}

/// Forks being prepared right now (their prepare handler ran, their parent
/// handler not yet): waiting threads then give up after [`FORK_WAIT_NS`].
static FORKS: AtomicUsize = AtomicUsize::new(0);

/// How long a thread waits for a shard while a fork is being prepared
/// before it gives up (records its block as untracked): far longer than
/// any fork takes to copy a process, far shorter than a hang.
pub const FORK_WAIT_NS: u64 = 200_000_000;

/// Bytes the table has mapped for itself now: the shim's own memory, which
/// a watcher takes out of the process's resident size.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// Bytes mapped by the side table (every shard's slots), now.
pub fn mapped_bytes() -> usize {
    MAPPED.load(Relaxed)
}

/// Bytes of the side table resident in memory, now: what of a program's
/// RSS is the table's (a shard's first mapping is mostly untouched in a
/// program with few blocks, so [`mapped_bytes`] would overstate it). Takes
/// each shard's lock in turn, as [`totals`] does.
pub fn resident_bytes() -> usize {
    let me = guard::me();
    TABLE
        .iter()
        .filter_map(|shard| {
            shard.with(me, Wait::Always, |t| {
                super::pages::resident(
                    t.packed.slots.cast(),
                    t.packed.capacity * size_of::<Packed>(),
                ) + super::pages::resident(t.wide.slots.cast(), t.wide.capacity * size_of::<Wide>())
            })
        })
        .sum()
}

/// Test hook: refuse to map more table memory, as when the address space
/// is exhausted (`RLIMIT_AS`), so the "cannot grow" path can be exercised.
static REFUSE_GROWTH: AtomicBool = AtomicBool::new(false);

/// From now on the side table maps no more memory (true), or maps as
/// usual (false): blocks that do not fit are then untracked, as when
/// `mmap` fails. For tests of that path.
#[doc(hidden)]
pub fn refuse_growth(refuse: bool) {
    REFUSE_GROWTH.store(refuse, Relaxed);
}

/// Whether a thread that finds a shard locked waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The allocator path: wait, but give up after [`FORK_WAIT_NS`] while
    /// a fork is being prepared.
    UnlessForking,
    /// A call that re-entered the interposer (a signal handler's): never
    /// wait, as the holder may be the very frame the signal interrupted.
    Never,
    /// The fork handler and the readers (`totals`, `live_blocks`): wait.
    Always,
}

/// Nanoseconds on the monotonic clock (vDSO: no system call, no lock).
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write; CLOCK_MONOTONIC is always there.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

impl Shard {
    /// Takes the lock for `me`; false if it gave up (a lock `me` holds
    /// already, one held at all for [`Wait::Never`], or one a fork held
    /// for longer than [`FORK_WAIT_NS`]).
    #[inline]
    fn lock(&self, me: usize, wait: Wait) -> bool {
        self.owner
            .compare_exchange_weak(0, me, Acquire, Relaxed)
            .is_ok()
            || self.lock_contended(me, wait)
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self, me: usize, wait: Wait) -> bool {
        let mut spins = 0u32;
        let mut forking_since = None;
        loop {
            match self.owner.compare_exchange_weak(0, me, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(owner) if owner == me => return false,
                Err(owner) if owner != 0 && wait == Wait::Never => return false,
                Err(_) => {}
            }
            spins = spins.saturating_add(1);
            if spins < 64 {
                std::hint::spin_loop();
                continue;
            }
            if wait == Wait::UnlessForking && FORKS.load(Relaxed) != 0 {
                let now = now_ns();
                let since = *forking_since.get_or_insert(now);
                if now.wrapping_sub(since) > FORK_WAIT_NS {
                    return false;
                }
            }
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }

    #[inline]
    fn unlock(&self) {
        self.owner.store(0, Release);
    }

    /// Runs `f` on the table under the lock, taken for `me`; None if the
    /// lock was not taken ([`Shard::lock`]).
    #[inline]
    fn with<R>(&self, me: usize, wait: Wait, f: impl FnOnce(&mut Table) -> R) -> Option<R> {
        if !self.lock(me, wait) {
            return None;
        }
        // SAFETY: the lock is held until the unlock below, so this is the
        // only reference to the table.
        let out = f(unsafe { &mut *self.table.get() });
        self.unlock();
        Some(out)
    }
}

impl<E: Entry> Open<E> {
    const EMPTY: Open<E> = Open {
        slots: ptr::null_mut(),
        capacity: 0,
        len: 0,
        limit: 0,
        shift: 64,
    };

    /// Where `addr`'s probe starts: the hash bits just below the shard's.
    #[inline]
    fn home(&self, addr: usize) -> usize {
        // `shift` is 64 only while the capacity is 0, and nothing probes then.
        // The page's run, then the block's place in its page, rotated by
        // the page's own amount: neighbours in memory are neighbours in the
        // table (one cache line holds 8), and two pages sharing a run do
        // not put their blocks on the same slots.
        let h = hash(addr);
        let run = ((h << 6) >> self.shift) & !(PAGE_SLOTS - 1);
        let place = ((addr >> 4).wrapping_add(h >> 32)) & (PAGE_SLOTS - 1);
        (run | place) & self.capacity.wrapping_sub(1)
    }

    /// # Safety
    /// `i < self.capacity` and the table is mapped.
    #[inline]
    unsafe fn slot(&self, i: usize) -> *mut E {
        // SAFETY: in bounds of the mapping, per the caller.
        unsafe { self.slots.add(i) }
    }

    /// Inserts or replaces: None if no memory could be mapped for it, else
    /// the size of the entry it replaced, if any.
    #[inline]
    fn insert(&mut self, addr: usize, size: usize) -> Option<Option<usize>> {
        if self.len >= self.limit && !self.grow() {
            return None;
        }
        let mask = self.capacity - 1;
        let mut i = self.home(addr);
        loop {
            // SAFETY: `i` is masked into the mapped capacity.
            let slot = unsafe { &mut *self.slot(i) };
            if slot.is_empty() {
                self.len += 1;
                *slot = E::new(addr, size);
                return Some(None);
            }
            if slot.is(addr) {
                let replaced = slot.size();
                *slot = E::new(addr, size);
                return Some(Some(replaced));
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `addr`, returning its size, or None if it is not here.
    #[inline]
    fn remove(&mut self, addr: usize) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.capacity - 1;
        let mut i = self.home(addr);
        let size = loop {
            // SAFETY: masked into the mapped capacity.
            let slot = unsafe { *self.slot(i) };
            if slot.is_empty() {
                return None;
            }
            if slot.is(addr) {
                break slot.size();
            }
            i = (i + 1) & mask;
        };
        // Backward-shift deletion: pull later entries of the probe run into
        // the hole, so lookups never need tombstones.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            // SAFETY: masked into the mapped capacity.
            let next = unsafe { *self.slot(j) };
            if next.is_empty() {
                break;
            }
            // `next` may fill the hole unless its home lies cyclically in
            // (hole, j]: the distance from its home to j is then shorter
            // than from the hole to j.
            let home = self.home(next.addr());
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                // SAFETY: both indices are masked into the capacity.
                unsafe { *self.slot(hole) = next };
                hole = j;
            }
        }
        // SAFETY: masked into the mapped capacity.
        unsafe { *self.slot(hole) = E::EMPTY };
        self.len -= 1;
        Some(size)
    }

    /// Doubles the capacity into a fresh mapping; false if mmap refused.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> bool {
        if REFUSE_GROWTH.load(Relaxed) {
            return false;
        }
        let Some(capacity) = self.capacity.checked_mul(2) else {
            return false;
        };
        let capacity = capacity.max(FIRST_CAPACITY);
        let Some(bytes) = capacity.checked_mul(size_of::<E>()) else {
            return false;
        };
        // SAFETY: an anonymous private mapping; no existing memory involved.
        let mapped = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return false;
        }
        MAPPED.fetch_add(bytes, Relaxed);
        let old = std::mem::replace(
            self,
            Open {
                slots: mapped.cast(),
                capacity,
                len: 0,
                limit: capacity / E::LOAD_DEN * E::LOAD_NUM,
                shift: 64 - capacity.trailing_zeros(),
            },
        );
        for i in 0..old.capacity {
            // SAFETY: `i` is below the old mapping's capacity.
            let slot = unsafe { *old.slot(i) };
            if !slot.is_empty() {
                self.insert(slot.addr(), slot.size());
            }
        }
        if !old.slots.is_null() {
            // SAFETY: the old mapping, of exactly this size, is no longer used.
            unsafe { libc::munmap(old.slots.cast(), old.capacity * size_of::<E>()) };
            MAPPED.fetch_sub(old.capacity * size_of::<E>(), Relaxed);
        }
        true
    }

    /// Calls `f(addr, size)` for every entry until it returns false.
    fn each(&self, mut f: impl FnMut(usize, usize) -> bool) -> bool {
        for i in 0..self.capacity {
            // SAFETY: i < capacity, and a non-empty table is mapped.
            let slot = unsafe { *self.slot(i) };
            if !slot.is_empty() && !f(slot.addr(), slot.size()) {
                return false;
            }
        }
        true
    }
}

impl Table {
    /// Inserts or replaces (in whichever table held `addr` before): None
    /// if no memory could be mapped for it, else the size of the entry it
    /// replaced, if any. The packed path inline, the rare rest out of line.
    #[inline]
    fn insert(&mut self, addr: usize, size: usize) -> Option<Option<usize>> {
        if !Packed::fits(addr, size) {
            return self.insert_wide(addr, size);
        }
        let replaced = self.packed.insert(addr, size)?;
        if replaced.is_none() && self.wide.len != 0 {
            // An entry left at `addr` in the wide table is replaced too.
            return Some(self.remove_wide(addr));
        }
        Some(replaced)
    }

    #[cold]
    #[inline(never)]
    fn insert_wide(&mut self, addr: usize, size: usize) -> Option<Option<usize>> {
        let replaced = self.wide.insert(addr, size)?;
        if replaced.is_none() && self.packed.len != 0 && Packed::holds_addr(addr) {
            // An entry left at `addr` in the packed table is replaced too.
            return Some(self.packed.remove(addr));
        }
        Some(replaced)
    }

    /// Removes `addr`, returning its size, or None if it is not here.
    #[inline]
    fn remove(&mut self, addr: usize) -> Option<usize> {
        if Packed::holds_addr(addr)
            && let Some(size) = self.packed.remove(addr)
        {
            return Some(size);
        }
        if self.wide.len == 0 {
            return None;
        }
        self.remove_wide(addr)
    }

    #[cold]
    #[inline(never)]
    fn remove_wide(&mut self, addr: usize) -> Option<usize> {
        self.wide.remove(addr)
    }

    /// Entries in both tables.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.packed.len + self.wide.len
    }
}

/// What [`insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Recorded and counted.
    Yes,
    /// The table could not grow (`mmap` refused): not recorded.
    NoRoom,
    /// The shard's lock could not be taken as `wait` allows (held by the
    /// calling thread itself, held at all for [`Wait::Never`], or by a
    /// fork for too long): not recorded.
    Busy,
}

/// What [`remove`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The block was recorded with this size; it is forgotten and uncounted.
    Size(usize),
    /// Not a block the table knows.
    Missing,
    /// The shard's lock could not be taken (as for [`Inserted::Busy`]):
    /// nothing was done.
    Busy,
}

/// Records a live block and counts it (as a new allocation too if
/// `allocation`). An entry already at `addr` is a block that was freed
/// behind the interposer's back (a `free` found with `dlsym(RTLD_NEXT,
/// ...)`) before glibc handed the address out again: it is uncounted as it
/// is replaced, so it leaves no phantom block in the totals.
/// The lock is taken for `me` (the calling thread's `guard::me`).
pub fn insert(addr: usize, size: usize, allocation: bool, wait: Wait, me: usize) -> Inserted {
    let outcome = shard_of(addr).with(me, wait, |t| {
        let replaced = t.insert(addr, size)?;
        let totals = &mut t.totals;
        if let Some(stale) = replaced {
            totals.live_blocks = totals.live_blocks.wrapping_sub(1);
            totals.live_bytes = totals.live_bytes.wrapping_sub(stale as i64);
        }
        totals.live_blocks = totals.live_blocks.wrapping_add(1);
        totals.live_bytes = totals.live_bytes.wrapping_add(size as i64);
        totals.allocations = totals.allocations.wrapping_add(u64::from(allocation));
        Some(())
    });
    match outcome {
        Some(Some(())) => Inserted::Yes,
        Some(None) => Inserted::NoRoom,
        None => Inserted::Busy,
    }
}

/// Forgets a block and uncounts it (the lock taken for `me`, as in
/// [`insert`]).
pub fn remove(addr: usize, wait: Wait, me: usize) -> Removed {
    let outcome = shard_of(addr).with(me, wait, |t| {
        let size = t.remove(addr)?;
        t.totals.live_blocks = t.totals.live_blocks.wrapping_sub(1);
        t.totals.live_bytes = t.totals.live_bytes.wrapping_sub(size as i64);
        Some(size)
    });
    match outcome {
        Some(Some(size)) => Removed::Size(size),
        Some(None) => Removed::Missing,
        None => Removed::Busy,
    }
}

/// Appends `(address, size)` of live blocks to `out`, as many as fit in
/// its spare capacity: nothing here allocates, as the shards' locks are
/// held and an allocation would come back into this table. A shard the
/// calling thread holds itself (a signal handler that interrupted the
/// interposer) is skipped.
pub fn live_blocks(out: &mut Vec<(usize, usize)>) {
    let me = guard::me();
    for shard in &TABLE {
        shard.with(me, Wait::Always, |t| {
            let mut room = |addr, size| {
                if out.len() == out.capacity() {
                    return false;
                }
                out.push((addr, size));
                true
            };
            t.packed.each(&mut room) && t.wide.each(&mut room)
        });
    }
}

/// The counts of every shard, added up (each shard read under its lock;
/// one the calling thread holds itself is skipped, as in [`live_blocks`]).
pub fn totals() -> Totals {
    let me = guard::me();
    TABLE.iter().fold(Totals::default(), |acc, shard| {
        let t = shard
            .with(me, Wait::Always, |t| t.totals)
            .unwrap_or_default();
        Totals {
            live_blocks: acc.live_blocks.wrapping_add(t.live_blocks),
            live_bytes: acc.live_bytes.wrapping_add(t.live_bytes),
            allocations: acc.allocations.wrapping_add(t.allocations),
        }
    })
}

/// A fork is being prepared from now until [`fork_end`]: threads waiting
/// for a shard on the allocator path give up after [`FORK_WAIT_NS`].
pub(super) fn fork_begin() {
    FORKS.fetch_add(1, Relaxed);
}

/// The fork was made: in the parent, one fork fewer being prepared; in the
/// child, none (no other thread exists there).
pub(super) fn fork_end(in_child: bool) {
    if in_child {
        FORKS.store(0, Relaxed);
    } else {
        FORKS.fetch_sub(1, Relaxed);
    }
}

/// Takes every shard for `me`, waiting for each (their holders never wait
/// on anything while they hold one). Returns the shards `me` held already
/// (a fork from a signal handler that interrupted the table), which it
/// left alone: the interrupted frame resumes in both processes and
/// releases them itself.
pub(super) fn lock_all(me: usize) -> u64 {
    let mut held_already = 0u64;
    for (i, shard) in TABLE.iter().enumerate() {
        if shard.owner.load(Relaxed) == me {
            held_already |= 1 << i;
        } else {
            shard.lock(me, Wait::Always);
        }
    }
    held_already
}

/// Releases what [`lock_all`] took.
pub(super) fn unlock_all(me: usize, held_already: u64) {
    for (i, shard) in TABLE.iter().enumerate() {
        if held_already & (1 << i) == 0 && shard.owner.load(Relaxed) == me {
            shard.unlock();
        }
    }
}

const _: () = assert!(SHARDS <= 64, "lock_all's mask has one bit per shard");

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Table {
        Table {
            packed: Open::EMPTY,
            wide: Open::EMPTY,
            totals: Totals::default(),
        }
    }

    #[test]
    fn insert_remove_and_grow_keep_every_size() {
        let mut t = fresh();
        // Small and large sizes, low and high addresses: both tables.
        let size = |a: usize| if a.is_multiple_of(7) { a << 20 } else { a / 3 };
        let addr = |i: usize| {
            if i.is_multiple_of(5) {
                (1 << 52) + i * 48
            } else {
                i * 48
            }
        };
        let addrs: Vec<usize> = (1..20_000).map(addr).collect();
        for &a in &addrs {
            assert_eq!(t.insert(a, size(a)), Some(None));
        }
        assert_eq!(t.len(), addrs.len());
        assert!(t.packed.len > 0 && t.wide.len > 0);
        for &a in addrs.iter().step_by(2) {
            assert_eq!(t.remove(a), Some(size(a)));
        }
        for &a in addrs.iter().step_by(2) {
            assert_eq!(t.remove(a), None, "removed twice");
        }
        for &a in addrs.iter().skip(1).step_by(2) {
            assert_eq!(t.remove(a), Some(size(a)), "lost by a backward shift");
        }
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn replacing_an_address_keeps_one_entry() {
        let mut t = fresh();
        assert_eq!(t.insert(4096, 1), Some(None));
        assert_eq!(t.insert(4096, 2), Some(Some(1)));
        assert_eq!(t.len(), 1);
        // From the packed table to the wide one and back.
        assert_eq!(t.insert(4096, 1 << 40), Some(Some(2)));
        assert_eq!(t.len(), 1);
        assert_eq!(t.insert(4096, 3), Some(Some(1 << 40)));
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(4096), Some(3));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_misaligned_pointer_is_not_the_block() {
        let mut t = fresh();
        assert_eq!(t.insert(4096, 8), Some(None));
        assert_eq!(t.remove(4104), None);
        assert_eq!(t.remove(4096), Some(8));
    }

    #[test]
    fn packed_slots_round_trip() {
        for addr in [16, 4096, 0x5555_5555_0010, PACKED_ADDRS - 16] {
            for size in [0, 1, 32, PACKED_SIZES - 1] {
                let p = Packed::new(addr, size);
                assert!(!p.is_empty() && p.is(addr) && !p.is(addr + 16));
                assert_eq!((p.addr(), p.size()), (addr, size));
            }
        }
    }
}
