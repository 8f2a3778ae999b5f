//! A leaked block of every size from 1 to 64 bytes, on both sides, is
//! counted exactly and split as lost by `check::measure`. The truth is by
//! construction: the block's only pointer is dropped before the scan.

use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting = leaklab::Counting::system();

/// Leaks one C block of `size` bytes; its address is not kept anywhere.
#[inline(never)]
fn leak_c(size: usize) {
    // SAFETY: a plain malloc, deliberately never freed.
    let p = unsafe { libc::malloc(size) };
    assert!(!p.is_null());
    std::hint::black_box(p as usize ^ 0x5555);
}

/// Leaks one Rust block of `size` bytes.
#[inline(never)]
fn leak_rust(size: usize) {
    std::mem::forget(Vec::<u8>::with_capacity(size));
}

fn assert_all_lost(side: Side, size: usize, leak: fn(usize)) {
    let m = check::measure(4, || leak(size)).expect("counted");
    let kept = m.side(side);
    assert_eq!(
        kept.per_call(),
        Some((1, size as i64)),
        "{side} {size} B: {m}"
    );
    let split = kept.split.expect("recorded");
    assert_eq!(
        (split.lost_blocks, split.reachable_blocks),
        (check::RECORDED_CALLS, 0),
        "{side} block of {size} B: {m}"
    );
}

#[leaklab::test]
fn c_blocks_of_every_size_are_lost() {
    for size in 1..=64 {
        assert_all_lost(Side::C, size, leak_c);
    }
}

#[leaklab::test]
fn rust_blocks_of_every_size_are_lost() {
    for size in 1..=64 {
        assert_all_lost(Side::Rust, size, leak_rust);
    }
}
