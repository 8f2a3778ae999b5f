//! The part of the lab's `heap` module the interposer refers to, for the
//! interposer compiled alone: its counts' type, the address disguise, and
//! the stack recorder's and fresh-address region's hooks, which do nothing
//! here (no thread of a watched program records stacks).

// The interposer's API for the lab's own measurements (per-thread counts,
// fault injection, stats) has no caller in the shim.
#[allow(dead_code)]
#[path = "../../src/heap/interpose.rs"]
pub mod interpose;

/// The conservative scan, run once at exit over every live block.
// Its boolean form is the lab's; the shim wants the classes.
#[allow(dead_code)]
#[path = "../../src/heap/reach.rs"]
pub mod reach;

/// Side-table keys are stored disguised (`addr ^ HIDE`), as in the lab;
/// any odd value serves, this is the lab's.
pub(crate) const HIDE: usize = 0x5a5a_5a5a_5a5a_5a5b;

/// Live blocks and bytes (the interposer's per-thread count type, unread
/// in the shim).
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    pub blocks: i64,
    pub bytes: i64,
}

/// Which allocator a block came from (the recorder's argument).
#[derive(Debug, Clone, Copy)]
pub enum Side {
    C,
}

/// The stack recorder's hooks: nothing records in the shim. What the scan
/// reads of a recording is, here, the live blocks at exit.
pub mod stacks {
    use super::{HIDE, Side};

    /// One live block.
    pub struct Block {
        hidden: usize,
        pub size: usize,
    }

    impl Block {
        /// A block at `addr`, stored disguised as the lab's are.
        pub fn new(addr: usize, size: usize) -> Block {
            Block {
                hidden: addr ^ HIDE,
                size,
            }
        }

        pub fn address(&self) -> usize {
            self.hidden ^ HIDE
        }
    }

    /// The blocks to classify; none was freed while "recording".
    pub struct Recorded {
        pub kept: Vec<Block>,
    }

    impl Recorded {
        pub fn freed_regions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
            std::iter::empty()
        }
    }

    /// No store in the shim.
    pub fn store_regions() -> [(usize, usize); 0] {
        []
    }

    /// No recording thread here, so no block comes from fresh addresses.
    pub fn fresh_block(_size: usize, _align: usize) -> Option<*mut u8> {
        None
    }

    /// Nothing to record.
    pub fn on_alloc(_addr: usize, _size: usize, _side: Side) {}

    /// Nothing to forget.
    pub fn on_free(_addr: usize, _size: usize) {}
}

/// The fresh-address region: never mapped in the shim.
pub mod fresh {
    /// No address is in a region that does not exist.
    pub fn contains(_addr: usize) -> bool {
        false
    }

    /// No unused part to skip.
    pub fn unused() -> (usize, usize) {
        (0, 0)
    }
}
