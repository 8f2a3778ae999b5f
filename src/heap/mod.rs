//! Exact heap accounting, one source per side of the boundary:
//! the Rust global allocator ([`rust`]) and the process's C allocator,
//! interposed ([`c`], [`interpose`]).

pub mod c;
#[cfg(all(leaklab_interpose, not(miri)))]
pub mod interpose;
pub mod rust;

use serde::{Deserialize, Serialize};

/// Live blocks and bytes on one side at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub blocks: i64,
    pub bytes: i64,
}

impl Live {
    /// What grew from `before` to `self` (negative if memory was released).
    pub fn since(self, before: Live) -> Live {
        Live {
            blocks: self.blocks - before.blocks,
            bytes: self.bytes - before.bytes,
        }
    }
}

/// Both sides at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn now_this_thread() -> Snapshot {
        Snapshot {
            c: c::thread_live(),
            rust: rust::thread_live(),
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
