//! The interposer's side table: the requested size of every live C block,
//! keyed by its address, so no header sits inside a block.
//!
//! It must never allocate through the functions it serves, so its memory
//! comes from `mmap`. Addresses spread over `SHARDS` independently locked
//! open-addressing tables (linear probing, backward-shift deletion), each
//! doubled by a fresh mapping at half load.

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};

// Keys are disguised addresses: see HIDE.
use crate::heap::HIDE;

/// Independent tables: threads freeing and allocating at once rarely wait.
const SHARDS: usize = 64;
/// Slots in a shard's first mapping (a 64 KiB page run).
const FIRST_CAPACITY: usize = 4096;

#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    /// `addr ^ HIDE`; 0: empty (HIDE is odd, so no block address gives 0).
    key: usize,
    size: usize,
}

struct Table {
    slots: *mut Slot,
    capacity: usize,
    len: usize,
    totals: Totals,
}

/// One shard: a spin lock (no allocation, no futex bookkeeping, short
/// critical sections) around a table and its counts. The counts live here,
/// under the lock already taken, rather than in process-wide atomics: three
/// fewer locked instructions per call.
struct Shard {
    locked: AtomicBool,
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

// SAFETY: `table` is only touched while `locked` is held (`Shard::with`).
unsafe impl Sync for Shard {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SHARD: Shard = Shard {
    locked: AtomicBool::new(false),
    table: UnsafeCell::new(Table {
        slots: ptr::null_mut(),
        capacity: 0,
        len: 0,
        totals: Totals {
            live_blocks: 0,
            live_bytes: 0,
            allocations: 0,
        },
    }),
};

static TABLE: [Shard; SHARDS] = [EMPTY_SHARD; SHARDS];

/// Fibonacci hashing of an address (its low 4 bits are always 0).
fn hash(addr: usize) -> usize {
    (addr >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The top 6 bits of the hash pick the shard; the slot comes from the
/// bits below them ([`Table::home`]): a product's high bits are its
/// well-mixed ones.
fn shard_of(addr: usize) -> &'static Shard {
    &TABLE[(hash(addr) >> 58) % SHARDS]
}

impl Shard {
    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Acquire, std::sync::atomic::Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
        }
        // SAFETY: the lock is held until the store below, so this is the
        // only reference to the table.
        let out = f(unsafe { &mut *self.table.get() });
        self.locked.store(false, Release);
        out
    }
}

impl Table {
    fn mask(&self) -> usize {
        self.capacity - 1
    }

    /// Where `addr`'s probe starts: the hash bits just below the shard's.
    fn home(&self, addr: usize) -> usize {
        let bits = self.capacity.trailing_zeros();
        ((hash(addr) << 6) >> (64 - bits)) & self.mask()
    }

    /// # Safety
    /// `i < self.capacity` and the table is mapped.
    unsafe fn slot(&self, i: usize) -> *mut Slot {
        // SAFETY: in bounds of the mapping, per the caller.
        unsafe { self.slots.add(i) }
    }

    /// Inserts or replaces; false if no memory could be mapped for it.
    fn insert(&mut self, addr: usize, size: usize) -> bool {
        if (self.len + 1) * 2 > self.capacity && !self.grow() {
            return false;
        }
        let mut i = self.home(addr);
        loop {
            // SAFETY: `i` is masked into the mapped capacity.
            let slot = unsafe { &mut *self.slot(i) };
            if slot.key == 0 || slot.key == addr ^ HIDE {
                if slot.key == 0 {
                    self.len += 1;
                }
                *slot = Slot {
                    key: addr ^ HIDE,
                    size,
                };
                return true;
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Removes `addr`, returning its size, or None if it is not here.
    fn remove(&mut self, addr: usize) -> Option<usize> {
        if self.capacity == 0 {
            return None;
        }
        let mut i = self.home(addr);
        loop {
            // SAFETY: masked into the mapped capacity.
            let slot = unsafe { *self.slot(i) };
            if slot.key == 0 {
                return None;
            }
            if slot.key == addr ^ HIDE {
                break;
            }
            i = (i + 1) & self.mask();
        }
        // SAFETY: masked into the mapped capacity.
        let size = unsafe { (*self.slot(i)).size };
        // Backward-shift deletion: pull later entries of the probe run into
        // the hole, so lookups never need tombstones.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask();
            // SAFETY: masked into the mapped capacity.
            let next = unsafe { *self.slot(j) };
            if next.key == 0 {
                break;
            }
            let home = self.home(next.key ^ HIDE);
            // `next` may fill the hole unless its home lies cyclically in
            // (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                // SAFETY: both indices are masked into the capacity.
                unsafe { *self.slot(hole) = next };
                hole = j;
            }
        }
        // SAFETY: masked into the mapped capacity.
        unsafe { *self.slot(hole) = Slot { key: 0, size: 0 } };
        self.len -= 1;
        Some(size)
    }

    /// Doubles the capacity into a fresh mapping; false if mmap refused.
    fn grow(&mut self) -> bool {
        let capacity = (self.capacity * 2).max(FIRST_CAPACITY);
        let bytes = capacity * size_of::<Slot>();
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
        let old = std::mem::replace(
            self,
            Table {
                slots: mapped.cast(),
                capacity,
                len: 0,
                totals: Totals::default(),
            },
        );
        self.totals = old.totals;
        for i in 0..old.capacity {
            // SAFETY: `i` is below the old mapping's capacity.
            let slot = unsafe { *old.slot(i) };
            if slot.key != 0 {
                self.insert(slot.key ^ HIDE, slot.size);
            }
        }
        if !old.slots.is_null() {
            // SAFETY: the old mapping, of exactly this size, is no longer used.
            unsafe { libc::munmap(old.slots.cast(), old.capacity * size_of::<Slot>()) };
        }
        true
    }
}

/// Records a live block and counts it (as a new allocation too if
/// `allocation`); false if the table could not grow (the block is then not
/// counted, and the caller says so).
pub fn insert(addr: usize, size: usize, allocation: bool) -> bool {
    shard_of(addr).with(|t| {
        let inserted = t.insert(addr, size);
        if inserted {
            t.totals.live_blocks += 1;
            t.totals.live_bytes += size as i64;
            t.totals.allocations += u64::from(allocation);
        }
        inserted
    })
}

/// Forgets a block and uncounts it, returning its recorded size (None: not
/// a block the interposer handed out).
pub fn remove(addr: usize) -> Option<usize> {
    shard_of(addr).with(|t| {
        let size = t.remove(addr)?;
        t.totals.live_blocks -= 1;
        t.totals.live_bytes -= size as i64;
        Some(size)
    })
}

/// Appends `(address, size)` of live blocks to `out`, as many as fit in
/// its spare capacity: nothing here allocates, as the shards' locks are
/// held and an allocation would come back into this table.
pub fn live_blocks(out: &mut Vec<(usize, usize)>) {
    for shard in &TABLE {
        shard.with(|t| {
            for i in 0..t.capacity {
                if out.len() == out.capacity() {
                    return;
                }
                // SAFETY: i < capacity, and a non-empty table is mapped.
                let slot = unsafe { *t.slot(i) };
                if slot.key != 0 {
                    out.push((slot.key ^ HIDE, slot.size));
                }
            }
        });
    }
}

/// The counts of every shard, added up (each shard read under its lock).
pub fn totals() -> Totals {
    TABLE.iter().fold(Totals::default(), |acc, shard| {
        let t = shard.with(|t| t.totals);
        Totals {
            live_blocks: acc.live_blocks + t.live_blocks,
            live_bytes: acc.live_bytes + t.live_bytes,
            allocations: acc.allocations + t.allocations,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Table {
        Table {
            slots: ptr::null_mut(),
            capacity: 0,
            len: 0,
            totals: Totals::default(),
        }
    }

    #[test]
    fn insert_remove_and_grow_keep_every_size() {
        let mut t = fresh();
        let addrs: Vec<usize> = (1..20_000).map(|i| i * 48).collect();
        for &a in &addrs {
            assert!(t.insert(a, a / 3));
        }
        assert_eq!(t.len, addrs.len());
        for &a in addrs.iter().step_by(2) {
            assert_eq!(t.remove(a), Some(a / 3));
        }
        for &a in addrs.iter().step_by(2) {
            assert_eq!(t.remove(a), None, "removed twice");
        }
        for &a in addrs.iter().skip(1).step_by(2) {
            assert_eq!(t.remove(a), Some(a / 3), "lost by a backward shift");
        }
        assert_eq!(t.len, 0);
    }

    #[test]
    fn replacing_an_address_keeps_one_entry() {
        let mut t = fresh();
        assert!(t.insert(4096, 1));
        assert!(t.insert(4096, 2));
        assert_eq!(t.len, 1);
        assert_eq!(t.remove(4096), Some(2));
    }
}
