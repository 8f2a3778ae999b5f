//! Exact heap accounting, one source per side of the boundary:
//! the Rust global allocator ([`rust`]) and the process's C allocator,
//! interposed ([`c`], [`interpose`]).
//!
//! Not part of leaklab's stable API: this is what leaklab's own crates
//! (the preload shim, the CLI, the lab) build on. Use [`crate::check`].

pub mod c;
#[cfg(not(miri))]
pub mod fresh;
pub mod group;
#[cfg(all(leaklab_interpose, not(miri)))]
pub mod interpose;
#[cfg(miri)]
pub mod modelled;
#[cfg(not(miri))]
pub mod reach;
pub mod rust;
#[cfg(not(miri))]
pub mod stacks;
pub mod unwind;

use std::fmt;

/// Addresses the lab's own bookkeeping keeps (the interposer's size table,
/// the stack recorder) are stored disguised, `addr ^ HIDE`: a heap checker
/// that scans memory for pointers (memcheck beside the interposer, the
/// lab's own reachability scan) must not find the bookkeeping pointing at
/// every block, or it would call leaked blocks "still reachable". Odd, so
/// no block address disguises to 0.
pub(crate) const HIDE: usize = 0x5a5a_5a5a_5a5a_5a5b;

/// One side of the boundary: which allocator a block came from.
///
/// ```
/// use leaklab::check::Side;
/// assert_eq!(Side::C.to_string(), "C");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Side {
    /// Everything allocated through the C allocator (`malloc` & co.).
    C,
    /// Everything allocated through the Rust global allocator.
    Rust,
}

impl Side {
    /// The other side.
    ///
    /// ```
    /// use leaklab::check::Side;
    /// assert_eq!(Side::Rust.other(), Side::C);
    /// ```
    pub fn other(self) -> Side {
        match self {
            Side::C => Side::Rust,
            Side::Rust => Side::C,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::C => "C",
            Side::Rust => "Rust",
        })
    }
}

/// Live blocks and bytes on one side at one moment.
///
/// ```
/// let a = leaklab::check::Live { blocks: 3, bytes: 96 };
/// let b = leaklab::check::Live { blocks: 1, bytes: 32 };
/// assert_eq!(a.since(b), leaklab::check::Live { blocks: 2, bytes: 64 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Live {
    /// Blocks allocated and not freed.
    pub blocks: i64,
    /// Their requested bytes.
    pub bytes: i64,
}

impl Live {
    /// What grew from `before` to `self` (negative if memory was released).
    ///
    /// ```
    /// use leaklab::check::Live;
    /// assert_eq!(Live { blocks: 1, bytes: 8 }.since(Live::default()).bytes, 8);
    /// ```
    pub fn since(self, before: Live) -> Live {
        Live {
            blocks: self.blocks - before.blocks,
            bytes: self.bytes - before.bytes,
        }
    }
}

/// Both sides at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    pub c: Live,
    pub rust: Live,
}

impl Snapshot {
    pub fn now() -> Snapshot {
        Snapshot {
            c: c::live(),
            rust: rust::live(),
        }
    }

    /// This thread's C and Rust allocations: for tests that share a process
    /// with a harness allocating on its threads.
    ///
    /// The threads of the calling thread's open group ([`group`]) count
    /// with it.
    pub fn now_this_thread() -> Snapshot {
        let with_members = |own: Live, side| {
            let members = group::members_live(side);
            Live {
                blocks: own.blocks + members.blocks,
                bytes: own.bytes + members.bytes,
            }
        };
        Snapshot {
            c: with_members(c::thread_live(), Side::C),
            rust: with_members(rust::thread_live(), Side::Rust),
        }
    }

    /// Growth on each side from `before` to `self`.
    pub fn since(self, before: Snapshot) -> Snapshot {
        Snapshot {
            c: self.c.since(before.c),
            rust: self.rust.since(before.rust),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Snapshot::default()
    }
}

/// Zeroes the stack below the caller's frame, which the workload used. A
/// heap checker that scans memory for pointers at exit (memcheck,
/// LeakSanitizer) reads the stack too, from the exit handlers' frames up,
/// and a stale copy of a pointer that a C library kept in a local or a
/// register (zlib's window cursor, say) left in a dead frame would make a
/// block it lost look "possibly lost", or reachable. The child calls this
/// once the protocol is done, and the leak checks before a reachability
/// scan ([`reach`]).
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; SCRUBBED_STACK];
    // black_box: the zeroes must really be written.
    std::hint::black_box(&mut area);
}

/// How much stack below the loop [`scrub_stack`] clears: more than any
/// workload's deepest call chain uses.
const SCRUBBED_STACK: usize = 256 * 1024;
