//! What a scenario declares it leaks, per iteration and per side.

use serde::Serialize;

use crate::heap::Live;

/// How the memory a scenario keeps looks to a heap checker at exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeakKind {
    /// No pointer to it is left: valgrind's "definitely/indirectly lost".
    Lost,
    /// Still pointed to (a cache, a cycle of Rc's reachable from nothing but
    /// itself is *lost*; a global cache is *reachable*): valgrind's "still
    /// reachable", which it does not call a leak.
    Reachable,
}

/// One side's expectation per iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SideExpectation {
    Clean,
    /// Exactly this much more live memory after every iteration.
    Exact {
        blocks: i64,
        bytes: i64,
        memory: LeakKind,
    },
    /// Grows without bound inside one iteration: the run must hit its cap.
    Unbounded,
}

impl SideExpectation {
    pub fn lost(live: Live) -> SideExpectation {
        SideExpectation::exact(live, LeakKind::Lost)
    }

    pub fn reachable(live: Live) -> SideExpectation {
        SideExpectation::exact(live, LeakKind::Reachable)
    }

    fn exact(live: Live, memory: LeakKind) -> SideExpectation {
        if live == Live::default() {
            SideExpectation::Clean
        } else {
            SideExpectation::Exact {
                blocks: live.blocks,
                bytes: live.bytes,
                memory,
            }
        }
    }

    /// Per-iteration blocks and bytes (zero for clean, `None` if unbounded).
    pub fn per_iteration(&self) -> Option<Live> {
        match *self {
            SideExpectation::Clean => Some(Live::default()),
            SideExpectation::Exact { blocks, bytes, .. } => Some(Live { blocks, bytes }),
            SideExpectation::Unbounded => None,
        }
    }

    pub fn is_leak(&self) -> bool {
        !matches!(self, SideExpectation::Clean)
    }

    /// "clean", "+3 blocks / +120 B", "unbounded"; with "(reachable)" when so.
    pub fn describe(&self) -> String {
        match *self {
            SideExpectation::Clean => "clean".into(),
            SideExpectation::Exact {
                blocks,
                bytes,
                memory,
            } => {
                let tail = match memory {
                    LeakKind::Lost => "",
                    LeakKind::Reachable => " (reachable)",
                };
                format!("{blocks} blk / {bytes} B{tail}")
            }
            SideExpectation::Unbounded => "unbounded".into(),
        }
    }
}

/// Both sides' expectations per iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub c: SideExpectation,
    pub rust: SideExpectation,
}

impl Expected {
    pub const CLEAN: Expected = Expected {
        c: SideExpectation::Clean,
        rust: SideExpectation::Clean,
    };

    pub fn c_lost(live: Live) -> Expected {
        Expected {
            c: SideExpectation::lost(live),
            rust: SideExpectation::Clean,
        }
    }

    pub fn rust_lost(live: Live) -> Expected {
        Expected {
            c: SideExpectation::Clean,
            rust: SideExpectation::lost(live),
        }
    }

    pub fn is_leak(&self) -> bool {
        self.c.is_leak() || self.rust.is_leak()
    }

    pub fn is_unbounded(&self) -> bool {
        self.c == SideExpectation::Unbounded || self.rust == SideExpectation::Unbounded
    }
}
