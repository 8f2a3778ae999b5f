//! Blocks handed out but not recorded in the side table (a re-entered
//! call, a table that could not grow, a fork that held it too long): a
//! small lock-free set of their addresses, so that their later `free` (or
//! `realloc`) is known for what it is, rather than counted as a foreign
//! free, and never waits on a lock.
//!
//! Buckets of [`WAYS`] words, one cache line each; an address may sit in
//! any word of its bucket, and a lookup reads them all, so removal simply
//! clears a word (no tombstones, no probing across buckets). A full bucket
//! refuses: the block is still counted as untracked, and its free will
//! count as a foreign one. Addresses are stored disguised (`addr ^ HIDE`),
//! as in the side table.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::heap::HIDE;

const WAYS: usize = 8;
const BUCKETS: usize = 1024;

#[repr(align(64))]
struct Bucket([AtomicUsize; WAYS]);

static SET: [Bucket; BUCKETS] = [const { Bucket([const { AtomicUsize::new(0) }; WAYS]) }; BUCKETS];

fn bucket(addr: usize) -> &'static Bucket {
    let hash = (addr >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    &SET[(hash >> (64 - BUCKETS.trailing_zeros())) % BUCKETS]
}

/// Remembers `addr`; false if its bucket is full.
pub(super) fn remember(addr: usize) -> bool {
    let key = addr ^ HIDE;
    let ways = &bucket(addr).0;
    if ways.iter().any(|w| w.load(Relaxed) == key) {
        return true;
    }
    ways.iter()
        .any(|w| w.compare_exchange(0, key, Relaxed, Relaxed).is_ok())
}

/// Forgets `addr`; false if it was not remembered.
pub(super) fn forget(addr: usize) -> bool {
    let key = addr ^ HIDE;
    bucket(addr)
        .0
        .iter()
        .any(|w| w.compare_exchange(key, 0, Relaxed, Relaxed).is_ok())
}

const _: () = assert!(BUCKETS.is_power_of_two());
