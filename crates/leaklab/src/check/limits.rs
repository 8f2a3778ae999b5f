//! Threshold assertions beside the exact ones: a budget on what one side
//! keeps per call (the shape of pytest-memray's `limit_leaks("1 MB")`),
//! and a lost-only judgement that lets reachable growth (a cache, a
//! static) through and fails on memory no pointer reaches any more.

use super::{Measurement, Side, Split};

/// `bytes / calls`, rounded up (towards +∞, so a remainder of one byte
/// over N calls still counts as a byte per call). `calls` is never 0 here.
fn per_call_rounded_up(bytes: i64, calls: u64) -> i64 {
    let calls = calls as i64;
    let quotient = bytes / calls;
    // Integer division truncates towards zero: that already rounds a
    // negative quotient up; a positive one with a remainder needs one more.
    if bytes % calls > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// What the recorded calls lost on one side, per recorded call (rounded
/// up), with the split it came from; or why it cannot be told.
fn lost_per_call(m: &Measurement, side: Side) -> Result<(i64, Option<Split>), String> {
    let kept_something = !(m.c.is_clean() && m.rust.is_clean());
    if !kept_something {
        // Nothing was kept on either side: nothing can have been lost.
        return Ok((0, None));
    }
    if m.recorded_calls == 0 {
        return Err(format!(
            "cannot judge lost memory: no call was recorded, so there is no lost/reachable \
             split (a measurement from check::measure_counts records none): measure with \
             check::measure, whose {} recorded calls tell lost from reachable; {m}",
            super::RECORDED_CALLS
        ));
    }
    if m.sites.is_empty() {
        return Err(format!(
            "cannot judge lost memory: the measured calls kept memory, but the {} recorded \
             calls left no allocation stacks (their recording was unavailable here, or they \
             kept nothing: memory kept only now and then); use assert_kept_at_most for a \
             budget on what is kept; {m}",
            m.recorded_calls
        ));
    }
    Ok(match m.side(side).split {
        Some(split) => (
            per_call_rounded_up(split.lost_bytes as i64, split.calls.max(1)),
            Some(split),
        ),
        // The recording worked (the other side has stacks) and kept
        // nothing on this side.
        None => (0, None),
    })
}

/// "the 2 recorded calls lost 80 B (40 B per call, rounded up)".
fn lost_phrase(lost: i64, split: Option<Split>) -> String {
    match split {
        Some(split) => format!(
            "the {} recorded calls lost {} blocks / {} B ({lost} B per call, rounded up)",
            split.calls, split.lost_blocks, split.lost_bytes
        ),
        None => "the recorded calls lost nothing".into(),
    }
}

/// Tells (on stderr, which the test harness shows with the test's
/// output) about reachable growth a lost-only assertion let through.
#[track_caller]
fn report_reachable(side: Side, split: Option<Split>) {
    if let Some(split) = split.filter(|s| s.reachable_bytes > 0) {
        eprintln!(
            "leaklab: {side} kept {} blocks / {} B still reachable over {} recorded calls \
             (a cache, a static, a live structure): growth, not lost, so not a failure of the \
             lost-only assertion at {}",
            split.reachable_blocks,
            split.reachable_bytes,
            split.calls,
            std::panic::Location::caller()
        );
    }
}

impl Measurement {
    /// Panics unless `side` kept at most `bytes_per_call` bytes per
    /// measured call: its kept bytes over all the measured calls divided by
    /// their number, rounded up. A budget rather than an exact figure, the
    /// shape of pytest-memray's `limit_leaks`: for code whose footprint is
    /// small but not worth pinning to the byte. Only `side` is judged;
    /// on the C side, frees of memory the C allocator never handed out
    /// ([`Measurement::foreign_frees`]) fail it too, since they make its
    /// figures unreliable. The message names the side, the bytes per call,
    /// the limit and the allocation stacks of what was kept.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use leaklab::check::{measure, Side};
    ///
    /// // 24 B of C memory per call: within a 32 B budget, and at 24 B.
    /// let m = measure(10, || {
    ///     // SAFETY: a plain malloc, never freed: the leak under test.
    ///     std::hint::black_box(unsafe { libc::malloc(24) });
    /// })
    /// .unwrap();
    /// m.assert_kept_at_most(Side::C, 32);
    /// m.assert_kept_at_most(Side::C, 24);
    /// m.assert_kept_at_most(Side::Rust, 0);
    /// ```
    ///
    /// Over the budget it fails:
    ///
    /// ```should_panic
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use leaklab::check::{measure, Side};
    /// measure(10, || std::mem::forget(vec![0u8; 100]))
    ///     .unwrap()
    ///     .assert_kept_at_most(Side::Rust, 64); // kept 100 B per call
    /// ```
    #[track_caller]
    pub fn assert_kept_at_most(&self, side: Side, bytes_per_call: i64) {
        let leak = self.side(side);
        if leak.calls == 0 {
            panic!(
                "expected {side} to keep at most {bytes_per_call} B per call, but no call was measured"
            );
        }
        let kept = per_call_rounded_up(leak.bytes, leak.calls);
        let stacks = if self.sites.is_empty() && !leak.is_clean() {
            " (no allocation stacks: check::measure_counts records none, check::measure does)"
        } else {
            ""
        };
        if kept > bytes_per_call {
            panic!(
                "expected {side} to keep at most {bytes_per_call} B per call, but it kept \
                 {kept} B per call (rounded up), over the limit by {} B{stacks}: {self}",
                kept - bytes_per_call
            );
        }
        if side == Side::C && self.foreign_frees > 0 {
            panic!(
                "expected C to keep at most {bytes_per_call} B per call; it kept {kept} B per \
                 call, but the figure cannot be trusted: {self}"
            );
        }
    }

    /// Panics if the recorded calls lost more than `bytes_per_call` bytes
    /// per call on `side`: lost as memcheck and LeakSanitizer mean it, no
    /// pointer to the block anywhere in memory. Memory still reachable (a
    /// cache, a static, a live structure that grows) is reported on stderr
    /// but never fails it; use [`Measurement::assert_kept_at_most`] to
    /// bound that too.
    ///
    /// The judgement is the lost/reachable split of the
    /// [`RECORDED_CALLS`](super::RECORDED_CALLS) calls
    /// [`measure`](super::measure) makes after a leaking measurement
    /// ([`SideLeak::split`](super::SideLeak::split)); lost bytes per call
    /// are theirs over their number, rounded up. It refuses, by panicking,
    /// rather than pass on no evidence: a leaking measurement without
    /// recorded calls ([`measure_counts`](super::measure_counts)), or one
    /// whose recorded calls left no stacks at all. A measurement that kept
    /// nothing passes.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use leaklab::check::{measure, Side};
    ///
    /// // One lost C block of 16 B per call: at most 16 B lost per call.
    /// measure(10, || {
    ///     // SAFETY: a plain malloc, never freed and not kept anywhere.
    ///     std::hint::black_box(unsafe { libc::malloc(16) });
    /// })
    /// .unwrap()
    /// .assert_lost_at_most(Side::C, 16);
    /// ```
    #[track_caller]
    pub fn assert_lost_at_most(&self, side: Side, bytes_per_call: i64) {
        let (lost, split) = match lost_per_call(self, side) {
            Ok(judged) => judged,
            Err(why) => {
                panic!("expected {side} to lose at most {bytes_per_call} B per call, but {why}")
            }
        };
        if lost > bytes_per_call {
            panic!(
                "expected {side} to lose at most {bytes_per_call} B per call, but {}: {self}",
                lost_phrase(lost, split)
            );
        }
        report_reachable(side, split);
    }

    /// Panics if the recorded calls lost anything on either side:
    /// [`Measurement::assert_lost_at_most`] with a limit of 0 on both. A
    /// cache that keeps what it is given passes (its growth is reported on
    /// stderr); a forgotten `Vec` fails.
    ///
    /// ```
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// use std::sync::Mutex;
    /// static CACHE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    ///
    /// // Every call keeps a String, reachable through CACHE: not lost.
    /// leaklab::check::measure(10, || CACHE.lock().unwrap().push("cached".into()))
    ///     .unwrap()
    ///     .assert_no_lost();
    /// ```
    ///
    /// A forgotten allocation is lost:
    ///
    /// ```should_panic
    /// # #[global_allocator] static ALLOC: leaklab::Counting = leaklab::Counting::system();
    /// leaklab::check::measure(10, || std::mem::forget(vec![0u8; 40]))
    ///     .unwrap()
    ///     .assert_no_lost();
    /// ```
    #[track_caller]
    pub fn assert_no_lost(&self) {
        let mut judged = Vec::new();
        for side in [Side::C, Side::Rust] {
            match lost_per_call(self, side) {
                Ok((lost, split)) => judged.push((side, lost, split)),
                Err(why) => panic!("expected nothing lost, but {why}"),
            }
        }
        let lost: Vec<String> = judged
            .iter()
            .filter(|(_, lost, _)| *lost > 0)
            .map(|(side, lost, split)| format!("on the {side} side {}", lost_phrase(*lost, *split)))
            .collect();
        if !lost.is_empty() {
            panic!("expected nothing lost, but {}: {self}", lost.join(", and "));
        }
        for (side, _, split) in judged {
            report_reachable(side, split);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::SideLeak;

    #[test]
    fn bytes_per_call_round_up() {
        assert_eq!(per_call_rounded_up(100, 10), 10);
        assert_eq!(per_call_rounded_up(101, 10), 11);
        assert_eq!(per_call_rounded_up(1, 10), 1);
        assert_eq!(per_call_rounded_up(0, 10), 0);
        assert_eq!(per_call_rounded_up(-15, 10), -1);
    }

    fn leaking(sites: bool) -> Measurement {
        Measurement {
            c: SideLeak {
                blocks: 10,
                bytes: 240,
                calls: 10,
                split: None,
            },
            rust: SideLeak {
                calls: 10,
                ..SideLeak::default()
            },
            foreign_frees: 0,
            sites: Vec::new(),
            recorded_calls: if sites { 2 } else { 0 },
            unrecorded_blocks: 0,
        }
    }

    #[test]
    fn a_lost_only_assertion_refuses_without_recorded_calls() {
        let refused = lost_per_call(&leaking(false), Side::C).unwrap_err();
        assert!(refused.contains("measure_counts"), "{refused}");
        let refused = lost_per_call(&leaking(true), Side::C).unwrap_err();
        assert!(refused.contains("left no allocation stacks"), "{refused}");
    }

    #[test]
    fn a_clean_measurement_has_nothing_lost() {
        let mut clean = leaking(false);
        clean.c = clean.rust;
        assert_eq!(lost_per_call(&clean, Side::C), Ok((0, None)));
    }
}
