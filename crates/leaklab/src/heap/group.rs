//! Threads counted with the thread that measures: a measurement opens a
//! group ([`open`]), and every thread created while a thread of the group
//! runs `pthread_create` joins it (the interposer's `pthread_create`,
//! [`super::interpose::threads`]). What the group's other threads allocate
//! minus free, on either side, is added up in the group's ledger, which the
//! measurement adds to its own thread's counts ([`members_live`]). A
//! spawned and joined thread then costs nothing: the blocks the spawning
//! thread handed it (its boxed closure, its share of the result) are freed
//! there, and that free is counted in the same measurement; what a spawned
//! thread keeps is kept by the measured closure.
//!
//! The ledgers are a fixed array of atomics: counting into one never
//! allocates, locks or panics, so the allocator hooks and signal handlers
//! may do it. A thread that outlives its group (never joined) counts into
//! nothing once the group is closed: its ledger's id has moved on.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};

use super::{Live, Side};

/// Groups open at once (one per measuring thread): a measurement that
/// finds none free counts its own thread alone.
const LEDGERS: usize = 64;

struct Ledger {
    /// The open group's id; 0: free.
    id: AtomicU64,
    c_blocks: AtomicI64,
    c_bytes: AtomicI64,
    rust_blocks: AtomicI64,
    rust_bytes: AtomicI64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Ledger = Ledger {
    id: AtomicU64::new(0),
    c_blocks: AtomicI64::new(0),
    c_bytes: AtomicI64::new(0),
    rust_blocks: AtomicI64::new(0),
    rust_bytes: AtomicI64::new(0),
};

static LEDGER: [Ledger; LEDGERS] = [FREE; LEDGERS];
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Groups open right now, process-wide: while none is, [`count`] returns
/// before it looks at thread-local state (in the preload shim, a call
/// into the dynamic loader).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// A group membership: the ledger's index and the group's id (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    slot: usize,
    id: u64,
}

impl Member {
    const NONE: Member = Member { slot: 0, id: 0 };
}

thread_local! {
    /// The group this thread opened (it counts in its own counters).
    static OPENED: Cell<Member> = const { Cell::new(Member::NONE) };
    /// The group this thread was created into (it counts in the ledger).
    static JOINED: Cell<Member> = const { Cell::new(Member::NONE) };
}

/// The group a thread created now by the calling thread joins: the one it
/// opened or the one it belongs to (`None`: no group).
pub fn inherited() -> Option<Member> {
    let opened = OPENED.try_with(Cell::get).unwrap_or(Member::NONE);
    let joined = JOINED.try_with(Cell::get).unwrap_or(Member::NONE);
    [opened, joined].into_iter().find(|m| m.id != 0)
}

/// Makes the calling thread (just created) a member of `member`'s group.
pub fn join(member: Member) {
    let _ = JOINED.try_with(|j| j.set(member));
}

/// Counts an allocation (positive) or a free (negative) of the calling
/// thread in its group's ledger, if it is a member of an open group.
#[inline]
pub fn count(side: Side, blocks: i64, bytes: i64) {
    if OPEN.load(Relaxed) == 0 {
        return;
    }
    let Ok(member) = JOINED.try_with(Cell::get) else {
        return;
    };
    if member.id == 0 {
        return;
    }
    let ledger = &LEDGER[member.slot];
    if ledger.id.load(Relaxed) != member.id {
        return;
    }
    let (b, n) = match side {
        Side::C => (&ledger.c_blocks, &ledger.c_bytes),
        Side::Rust => (&ledger.rust_blocks, &ledger.rust_bytes),
    };
    b.fetch_add(blocks, Relaxed);
    n.fetch_add(bytes, Relaxed);
}

/// An open group; closed when dropped.
pub struct Group {
    opened: Option<Member>,
}

/// Opens a group for the calling thread (or keeps the one it has open, or
/// belongs to): threads it creates from now count with it.
pub fn open() -> Group {
    if inherited().is_some() {
        return Group { opened: None };
    }
    let id = NEXT_ID.fetch_add(1, Relaxed);
    for (slot, ledger) in LEDGER.iter().enumerate() {
        if ledger.id.load(Relaxed) != 0 {
            continue;
        }
        // Counted before the ledger opens, so no member's count is skipped.
        OPEN.fetch_add(1, SeqCst);
        for counter in [
            &ledger.c_blocks,
            &ledger.c_bytes,
            &ledger.rust_blocks,
            &ledger.rust_bytes,
        ] {
            counter.store(0, SeqCst);
        }
        if ledger.id.compare_exchange(0, id, SeqCst, Relaxed).is_ok() {
            let member = Member { slot, id };
            let _ = OPENED.try_with(|o| o.set(member));
            return Group {
                opened: Some(member),
            };
        }
        OPEN.fetch_sub(1, SeqCst);
    }
    Group { opened: None }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(member) = self.opened {
            let _ = OPENED.try_with(|o| o.set(Member::NONE));
            let _ = LEDGER[member.slot]
                .id
                .compare_exchange(member.id, 0, SeqCst, Relaxed);
            OPEN.fetch_sub(1, SeqCst);
        }
    }
}

/// What the other threads of the calling thread's open group allocated
/// minus freed on `side` so far (zero without one).
pub fn members_live(side: Side) -> Live {
    let member = OPENED.try_with(Cell::get).unwrap_or(Member::NONE);
    if member.id == 0 {
        return Live::default();
    }
    let ledger = &LEDGER[member.slot];
    let (b, n) = match side {
        Side::C => (&ledger.c_blocks, &ledger.c_bytes),
        Side::Rust => (&ledger.rust_blocks, &ledger.rust_bytes),
    };
    Live {
        blocks: b.load(SeqCst),
        bytes: n.load(SeqCst),
    }
}
