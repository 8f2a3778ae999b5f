//! leaklab with jemalloc as the global allocator: `Counting` wraps it, the
//! Rust side is counted exactly through it, and the C side (glibc's
//! malloc, which tikv-jemallocator leaves alone: its symbols are prefixed)
//! is counted by the interposer as usual.

use std::ffi::c_void;

use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting<tikv_jemallocator::Jemalloc> =
    leaklab::Counting::new(tikv_jemallocator::Jemalloc);

/// Whether jemalloc finds the block at `ptr` among its own: its
/// `arenas.lookup` gives the arena of one of its blocks. Only for pointers
/// jemalloc should have handed out: on another allocator's block it may
/// read memory that is not its own (that crashed here, 7 runs in 20, on a
/// glibc block), so the C side is shown by the counters instead.
fn from_jemalloc(ptr: *const c_void) -> bool {
    let mut arena: u32 = 0;
    let mut arena_len = size_of::<u32>();
    let mut ptr = ptr;
    // SAFETY: a NUL-terminated mallctl name; `arena`/`arena_len` are the
    // output (a u32 and its size), `ptr` the input, read by value; the
    // caller passes a block of the global allocator, which is jemalloc's.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arenas.lookup".as_ptr(),
            (&raw mut arena).cast(),
            &mut arena_len,
            (&raw mut ptr).cast(),
            size_of::<*const c_void>(),
        )
    };
    rc == 0
}

#[test]
fn rust_allocations_come_from_jemalloc() {
    let boxed = Box::new([0u8; 40]);
    assert!(
        from_jemalloc((&raw const *boxed).cast()),
        "Box not from jemalloc"
    );
}

#[leaklab::test]
fn a_forgotten_vec_is_one_rust_block_of_40_bytes_per_call() {
    let m =
        check::measure(100, || assert_eq!(with_jemalloc::leaky::rust_vec(), 40)).expect("counted");
    m.assert_leaks(Side::Rust, 1, 40);
    m.assert_lost_at_most(Side::Rust, 40);
}

#[leaklab::test]
fn a_leaked_malloc_is_one_c_block_of_24_bytes_per_call() {
    check::measure(100, || assert_eq!(with_jemalloc::leaky::c_block(), 24))
        .expect("counted")
        .assert_leaks(Side::C, 1, 24);
}

#[leaklab::test]
fn the_fixed_versions_are_clean() {
    check::measure(100, || {
        assert_eq!(with_jemalloc::fixed::rust_vec(), 40);
        assert_eq!(with_jemalloc::fixed::c_block(), 24);
    })
    .expect("counted")
    .assert_clean();
}
