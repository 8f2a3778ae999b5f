//! The stack recorder follows a bounded number of blocks per recording:
//! past it, the message says how many blocks were not recorded.

use leaklab::check;

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// More blocks per call than half the recorder's capacity, so the two
/// recorded calls overflow it.
const BLOCKS: usize = 40_000;

#[leaklab::test]
fn blocks_past_the_recorders_capacity_are_named_not_silently_dropped() {
    let m = check::measure(1, || {
        for _ in 0..BLOCKS {
            // SAFETY: plain mallocs, deliberately never freed.
            std::hint::black_box(unsafe { libc::malloc(8) });
        }
    })
    .expect("counted");
    assert_eq!(
        m.c.per_call(),
        Some((BLOCKS as i64, 8 * BLOCKS as i64)),
        "{m}"
    );
    let recorded: u64 = m.sites.iter().map(|s| s.blocks).sum();
    let all = BLOCKS as u64 * check::RECORDED_CALLS;
    assert!(recorded < all, "{recorded} recorded");
    assert_eq!(recorded + m.unrecorded_blocks, all, "{m}");
    let text = m.to_string();
    assert!(
        text.contains(&format!(
            "… {} more blocks not recorded",
            m.unrecorded_blocks
        )),
        "{text}"
    );
}
