//! leaklab with mimalloc as the global allocator: `Counting` wraps it, the
//! Rust side is counted exactly through it, and the C side (glibc's
//! malloc, which the mimalloc crate leaves alone: it does not override
//! malloc unless its `override` feature is on) is counted by the
//! interposer as usual.

use std::ffi::c_void;

use leaklab::check::{self, Side};

#[global_allocator]
static ALLOC: leaklab::Counting<mimalloc::MiMalloc> = leaklab::Counting::new(mimalloc::MiMalloc);

// In the mimalloc library the mimalloc crate links (libmimalloc-sys
// declares it only behind its `extended` feature).
unsafe extern "C" {
    /// Whether `p` points into mimalloc's heap; takes any pointer.
    fn mi_is_in_heap_region(p: *const c_void) -> bool;
}

/// Whether mimalloc handed out the block at `ptr`.
fn from_mimalloc(ptr: *const c_void) -> bool {
    // SAFETY: mi_is_in_heap_region only compares the address with
    // mimalloc's own regions; any pointer value is allowed.
    unsafe { mi_is_in_heap_region(ptr) }
}

#[test]
fn rust_allocations_come_from_mimalloc_and_c_ones_do_not() {
    let boxed = Box::new([0u8; 40]);
    assert!(
        from_mimalloc((&raw const *boxed).cast()),
        "Box not from mimalloc"
    );
    // SAFETY: a malloc/free pair; the pointer is only looked up between.
    unsafe {
        let c = libc::malloc(24);
        assert!(!from_mimalloc(c), "glibc's malloc went to mimalloc");
        libc::free(c);
    }
}

#[leaklab::test]
fn a_forgotten_vec_is_one_rust_block_of_40_bytes_per_call() {
    let m =
        check::measure(100, || assert_eq!(with_mimalloc::leaky::rust_vec(), 40)).expect("counted");
    m.assert_leaks(Side::Rust, 1, 40);
    m.assert_lost_at_most(Side::Rust, 40);
}

#[leaklab::test]
fn a_leaked_malloc_is_one_c_block_of_24_bytes_per_call() {
    check::measure(100, || assert_eq!(with_mimalloc::leaky::c_block(), 24))
        .expect("counted")
        .assert_leaks(Side::C, 1, 24);
}

#[leaklab::test]
fn the_fixed_versions_are_clean() {
    check::measure(100, || {
        assert_eq!(with_mimalloc::fixed::rust_vec(), 40);
        assert_eq!(with_mimalloc::fixed::c_block(), 24);
    })
    .expect("counted")
    .assert_clean();
}
