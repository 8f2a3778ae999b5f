//! What tests/consumers/install.sh runs `cargo leaklab test` on: two tests
//! that leak, one on each side of the Rust/C boundary, and one clean.
//!
//! The script reads the two constants below out of this file (a line
//! `pub const NAME: usize = N;` each, so keep them on one line) and
//! expects, for the default detector (the counters, sides by memcheck):
//!
//! - `tests::leaks_a_malloc`: C lost `1 blk / C_LEAK_BYTES B`, Rust lost
//!   nothing. One `malloc(C_LEAK_BYTES)` is one block of exactly that
//!   size, and the pointer is dropped: no static, no live variable keeps
//!   it, so at exit it is definitely lost.
//! - `tests::leaks_a_boxed_vec`: Rust lost `1 blk / RUST_LEAK_BYTES B`, C
//!   lost nothing. A `Vec<u8>` of `RUST_LEAK_BYTES` bytes made exact
//!   (`into_boxed_slice`: capacity = length, one block of that size, and no
//!   header block, as `Box::leak(Box::new(vec))` would add) and
//!   `Box::leak`'d: Rust's global allocator made it, and nothing keeps the
//!   reference `Box::leak` returned.
//! - `tests::clean`: frees what it allocates on both sides: nothing lost.
//!
//! Both sizes are multiples of 16 on purpose. The counters' scan classes
//! a leaked block of n bytes with n % 16 in 1..=8 "possibly lost", not
//! lost (measured with glibc 2.36: 24, 33, 40 and 56 bytes possibly lost;
//! 48 and 64 lost), so the default detector misses, today, a `malloc(40)`
//! or a leaked 40-byte `Vec`, which memcheck and LeakSanitizer call lost.
//! The likely cause: glibc's chunk for n bytes is n + 8 rounded up to 16
//! and the block starts 16 bytes into it, so the next chunk's header
//! starts at the block's offset (chunk - 16), inside its last 8 bytes for
//! those n; glibc's own pointers to chunk headers (its arena's `top`, its
//! bins, in libc's data) are roots to the scan: interior pointers. The detector's to fix
//! (crates/leaklab/src/heap/reach.rs), not this crate's subject: this one
//! proves the installed tools run.

/// Bytes `tests::leaks_a_malloc` leaks on C's side.
pub const C_LEAK_BYTES: usize = 64;

/// Bytes `tests::leaks_a_boxed_vec` leaks on Rust's side.
pub const RUST_LEAK_BYTES: usize = 48;

#[cfg(test)]
mod tests {
    use super::{C_LEAK_BYTES, RUST_LEAK_BYTES};

    unsafe extern "C" {
        fn malloc(size: usize) -> *mut u8;
        fn free(ptr: *mut u8);
    }

    #[test]
    fn leaks_a_malloc() {
        // SAFETY: a plain allocation, never freed: the leak under test.
        let p = unsafe { malloc(C_LEAK_BYTES) };
        assert!(!p.is_null());
        std::hint::black_box(p);
    }

    #[test]
    fn leaks_a_boxed_vec() {
        let bytes = vec![7u8; RUST_LEAK_BYTES].into_boxed_slice();
        let leaked: &'static mut [u8] = Box::leak(bytes);
        assert_eq!(leaked.len(), RUST_LEAK_BYTES);
        std::hint::black_box(leaked);
    }

    #[test]
    fn clean() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(v.iter().sum::<u32>(), 5050);
        // SAFETY: allocated here, freed once, not used after.
        unsafe {
            let p = malloc(C_LEAK_BYTES);
            assert!(!p.is_null());
            free(p);
        }
    }
}
