//! A user's binding whose program runs on jemalloc (tikv-jemallocator): one leak on each side
//! of the boundary, and their fixed versions.
//!
//! ```
//! assert_eq!(with_jemalloc::fixed::c_block(), 24);
//! ```

/// Keeps memory on purpose: one block per call on one side.
pub mod leaky {
    /// A `Vec<u8>` of 40 bytes, forgotten: 1 Rust block of 40 B per call.
    ///
    /// ```
    /// assert_eq!(with_jemalloc::leaky::rust_vec(), 40);
    /// ```
    pub fn rust_vec() -> usize {
        let v = vec![7u8; 40];
        let len = v.len();
        std::mem::forget(v);
        len
    }

    /// `malloc(24)`, never freed: 1 C block of 24 B per call.
    ///
    /// ```
    /// assert_eq!(with_jemalloc::leaky::c_block(), 24);
    /// ```
    pub fn c_block() -> usize {
        // SAFETY: a plain allocation, never freed: the leak this shows.
        let p = unsafe { libc::malloc(24) };
        assert!(!p.is_null(), "malloc failed");
        std::hint::black_box(p);
        24
    }
}

/// The same work, everything freed.
pub mod fixed {
    /// As `leaky::rust_vec`, the `Vec` dropped.
    ///
    /// ```
    /// assert_eq!(with_jemalloc::fixed::rust_vec(), 40);
    /// ```
    pub fn rust_vec() -> usize {
        std::hint::black_box(vec![7u8; 40]).len()
    }

    /// As `leaky::c_block`, the block freed.
    ///
    /// ```
    /// assert_eq!(with_jemalloc::fixed::c_block(), 24);
    /// ```
    pub fn c_block() -> usize {
        // SAFETY: a malloc/free pair.
        unsafe {
            let p = libc::malloc(24);
            assert!(!p.is_null(), "malloc failed");
            libc::free(std::hint::black_box(p));
        }
        24
    }
}
