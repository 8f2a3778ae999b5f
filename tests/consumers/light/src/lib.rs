//! A tiny binding over libc's `strdup` and `malloc`, in a leaky and a
//! fixed version: the kind of crate that adds leaklab to its
//! `[dev-dependencies]`.
//!
//! ```
//! assert_eq!(light::fixed::greeting(), "hello");
//! ```

use std::ffi::CStr;

/// The text `greeting` copies with `strdup`: 5 bytes and its NUL.
///
/// ```
/// assert_eq!(light::HELLO.to_bytes_with_nul(), b"hello\0");
/// ```
pub const HELLO: &CStr = c"hello";

/// The binding as first written: it forgets to free what C gave it.
pub mod leaky {
    use std::ffi::CStr;

    /// `strdup(HELLO)`, copied into a `String`; the C copy is never freed.
    ///
    /// ```
    /// assert_eq!(light::leaky::greeting(), "hello");
    /// ```
    pub fn greeting() -> String {
        // SAFETY: HELLO is a NUL-terminated string; strdup returns a
        // malloc'd copy of it, or NULL.
        let copy = unsafe { libc::strdup(super::HELLO.as_ptr()) };
        assert!(!copy.is_null(), "strdup failed");
        // SAFETY: `copy` is the NUL-terminated string strdup just made.
        unsafe { CStr::from_ptr(copy) }
            .to_string_lossy()
            .into_owned()
    }

    /// The sum of `len` bytes, each its index mod 256, computed in a
    /// malloc'd scratch buffer that is never freed.
    ///
    /// ```
    /// assert_eq!(light::leaky::checksum(4), 6);
    /// ```
    pub fn checksum(len: usize) -> u64 {
        // SAFETY: a plain allocation of `len` bytes (or NULL).
        let scratch = unsafe { libc::malloc(len) }.cast::<u8>();
        assert!(!scratch.is_null() || len == 0, "malloc failed");
        super::fill_and_sum(scratch, len)
    }
}

/// The same binding, each C allocation freed.
pub mod fixed {
    use std::ffi::CStr;

    /// `strdup(HELLO)`, copied into a `String`; the C copy freed.
    ///
    /// ```
    /// assert_eq!(light::fixed::greeting(), "hello");
    /// ```
    pub fn greeting() -> String {
        // SAFETY: as in `leaky::greeting`.
        let copy = unsafe { libc::strdup(super::HELLO.as_ptr()) };
        assert!(!copy.is_null(), "strdup failed");
        // SAFETY: `copy` is the NUL-terminated string strdup just made.
        let text = unsafe { CStr::from_ptr(copy) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: `copy` came from strdup (malloc) and is freed once.
        unsafe { libc::free(copy.cast()) };
        text
    }

    /// As `leaky::checksum`, the scratch buffer freed.
    ///
    /// ```
    /// assert_eq!(light::fixed::checksum(300), 256 * 255 / 2 + 44 * 43 / 2);
    /// ```
    pub fn checksum(len: usize) -> u64 {
        // SAFETY: a plain allocation of `len` bytes (or NULL).
        let scratch = unsafe { libc::malloc(len) }.cast::<u8>();
        assert!(!scratch.is_null() || len == 0, "malloc failed");
        let sum = super::fill_and_sum(scratch, len);
        // SAFETY: `scratch` came from malloc and is freed once.
        unsafe { libc::free(scratch.cast()) };
        sum
    }
}

/// Writes `i % 256` at each of the `len` bytes at `at` and sums them.
fn fill_and_sum(at: *mut u8, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    // SAFETY: `at` is a live allocation of `len` bytes, written before it
    // is read.
    let bytes = unsafe {
        for i in 0..len {
            at.add(i).write(i as u8);
        }
        std::slice::from_raw_parts(at, len)
    };
    bytes.iter().map(|&b| u64::from(b)).sum()
}
