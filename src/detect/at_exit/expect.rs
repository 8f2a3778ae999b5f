//! What a whole-process heap checker (valgrind, LeakSanitizer) should see
//! at exit, derived from a scenario's declared per-iteration leak.
//!
//! One thing separates it from the counters' view: priming. The child runs
//! one iteration before its `before` snapshot (src/run/measure.rs) so
//! one-time lazy allocations are not counted. The counters subtract it
//! away; a whole-process checker cannot, so a leaky iteration leaks
//! `iterations + 1` times. Scenarios expected to grow without bound are not
//! primed (and are not run by these checkers). Sizes are the same on both
//! views: the counters record the requested size of the very block `malloc`
//! handed out, on either side.

use serde::Serialize;

use super::attribution::Side;
use crate::heap::Live;
use crate::scenarios::{Expected, LeakKind, SideExpectation};

/// Blocks and bytes as `malloc` saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub blocks: i64,
    pub bytes: i64,
}

impl std::ops::Add for Amount {
    type Output = Amount;

    fn add(self, other: Amount) -> Amount {
        Amount {
            blocks: self.blocks + other.blocks,
            bytes: self.bytes + other.bytes,
        }
    }
}

impl Amount {
    pub fn is_zero(&self) -> bool {
        *self == Amount::default()
    }

    /// "66 blk/4697 B": exact, so that two amounts that differ never read
    /// the same.
    pub fn describe(&self) -> String {
        format!("{} blk/{} B", self.blocks, self.bytes)
    }
}

/// One side's memory at exit, by how a checker classifies it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SideAmounts {
    /// No start pointer to it from a root: valgrind's definitely,
    /// indirectly and possibly lost (LSan: direct plus indirect leaks).
    pub lost: Amount,
    /// The part of `lost` valgrind called "possibly lost" (a word somewhere
    /// points inside the block): shown, never expected or compared.
    pub possibly_lost: Amount,
    /// Still pointed to from a root (valgrind's "still reachable").
    pub reachable: Amount,
}

/// What a checker should see at exit on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AtExit {
    /// Iterations the process ran in all, the priming one included.
    pub runs: u64,
    pub c: SideAmounts,
    pub rust: SideAmounts,
}

impl AtExit {
    pub fn side(&self, side: Side) -> &SideAmounts {
        match side {
            Side::C => &self.c,
            Side::Rust => &self.rust,
        }
    }
}

/// Iterations a child runs for `iterations` asked: one more, the priming
/// one, unless the scenario is expected to grow without bound (see
/// src/run/measure.rs, which decides the same way).
pub fn runs(expected: &Expected, iterations: u64) -> u64 {
    if expected.is_unbounded() {
        iterations
    } else {
        iterations + 1
    }
}

/// The memory at exit for `iterations` asked, or `None` for a scenario
/// expected to grow without bound (it has no exit to look at).
pub fn at_exit(expected: &Expected, iterations: u64) -> Option<AtExit> {
    let runs = runs(expected, iterations);
    Some(AtExit {
        runs,
        c: side(expected.c, runs)?,
        rust: side(expected.rust, runs)?,
    })
}

/// One side: `runs` times the per-iteration leak, in the class its kind
/// says.
fn side(expectation: SideExpectation, runs: u64) -> Option<SideAmounts> {
    let per_iteration = expectation.per_iteration()?;
    let total = scaled(per_iteration, runs);
    Some(match expectation {
        SideExpectation::Exact {
            memory: LeakKind::Reachable,
            ..
        } => SideAmounts {
            reachable: total,
            ..SideAmounts::default()
        },
        _ => SideAmounts {
            lost: total,
            ..SideAmounts::default()
        },
    })
}

/// `runs` x (blocks, bytes).
pub fn scaled(per_iteration: Live, runs: u64) -> Amount {
    let runs = runs as i64;
    Amount {
        blocks: per_iteration.blocks * runs,
        bytes: per_iteration.bytes * runs,
    }
}

/// "C 66 blk/4697 B lost", "C 66 blk/4697 B lost (2 blk/96 B of them
/// possibly)", "Rust 11 blk/704 B reachable", "C clean".
pub fn describe_side(side: Side, amounts: &SideAmounts) -> String {
    let name = match side {
        Side::C => "C",
        Side::Rust => "Rust",
    };
    let mut parts = Vec::new();
    if !amounts.lost.is_zero() {
        let possibly = amounts.possibly_lost;
        parts.push(if possibly.is_zero() {
            format!("{} lost", amounts.lost.describe())
        } else {
            format!(
                "{} lost ({} of them possibly)",
                amounts.lost.describe(),
                possibly.describe()
            )
        });
    }
    if !amounts.reachable.is_zero() {
        parts.push(format!("{} reachable", amounts.reachable.describe()));
    }
    if parts.is_empty() {
        format!("{name} clean")
    } else {
        format!("{name} {}", parts.join(", "))
    }
}

/// Lines saying how `seen` differs from `want` on each side (none: it
/// matches exactly).
pub fn differences(seen: &AtExit, want: &AtExit) -> Vec<String> {
    let mut out = Vec::new();
    for side in [Side::C, Side::Rust] {
        let (s, w) = (seen.side(side), want.side(side));
        for (class, got, expected) in [
            ("lost", s.lost, w.lost),
            ("reachable", s.reachable, w.reachable),
        ] {
            if got != expected {
                out.push(format!(
                    "{side:?} {class}: saw {}, expected {}",
                    got.describe(),
                    expected.describe()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(blocks: i64, bytes: i64) -> Live {
        Live { blocks, bytes }
    }

    #[test]
    fn c_blocks_count_the_priming_iteration_and_nothing_else() {
        let expected = Expected::c_lost(live(6, 331));
        let at = at_exit(&expected, 10).expect("bounded");
        assert_eq!(at.runs, 11);
        assert_eq!(
            at.c.lost,
            Amount {
                blocks: 66,
                bytes: 11 * 331
            }
        );
        assert!(at.rust.lost.is_zero());
    }

    #[test]
    fn rust_blocks_count_the_priming_iteration() {
        let at = at_exit(&Expected::rust_lost(live(4, 136)), 10).expect("bounded");
        assert_eq!(
            at.rust.lost,
            Amount {
                blocks: 44,
                bytes: 1496
            }
        );
    }

    #[test]
    fn reachable_memory_is_expected_reachable_not_lost() {
        let expected = Expected {
            c: SideExpectation::Clean,
            rust: SideExpectation::reachable(live(1, 64)),
        };
        let at = at_exit(&expected, 4).expect("bounded");
        assert!(at.rust.lost.is_zero());
        assert_eq!(
            at.rust.reachable,
            Amount {
                blocks: 5,
                bytes: 320
            }
        );
    }

    #[test]
    fn unbounded_has_no_exit() {
        let expected = Expected {
            c: SideExpectation::Clean,
            rust: SideExpectation::Unbounded,
        };
        assert_eq!(at_exit(&expected, 3), None);
        assert_eq!(runs(&expected, 3), 3);
    }

    #[test]
    fn differences_name_the_side_and_class() {
        let want = at_exit(&Expected::c_lost(live(1, 20)), 1).expect("bounded");
        let mut seen = want;
        seen.c.lost.bytes -= 1;
        let diff = differences(&seen, &want);
        assert_eq!(diff.len(), 1);
        assert!(diff[0].starts_with("C lost"), "{diff:?}");
        assert!(differences(&want, &want).is_empty());
    }
}
