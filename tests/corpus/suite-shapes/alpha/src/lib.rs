//! Member `alpha`: a leaking test whose name `beta` uses for a clean one,
//! two doctests, and a test that never ends.
//!
//! A doctest that loses one 77-byte C block:
//!
//! ```
//! // SAFETY: malloc has no precondition; never freed: the leak.
//! let p = unsafe { libc::malloc(77) };
//! std::hint::black_box(p);
//! ```
//!
//! A clean doctest:
//!
//! ```
//! let v: Vec<u32> = (1..=10).collect();
//! assert_eq!(v.iter().sum::<u32>(), 55);
//! ```

#[cfg(test)]
mod tests {
    /// The same name as beta's clean test: this one loses malloc(24).
    #[test]
    fn same_name() {
        // SAFETY: malloc has no precondition; never freed: the leak.
        std::hint::black_box(unsafe { libc::malloc(24) });
    }

    /// Never ends: stopped by the detector's time limit.
    #[test]
    fn hangs() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
