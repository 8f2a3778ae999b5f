//! Exact leak checks for Rust/C bindings, in your own tests.
//!
//! [`check::measure`] runs a closure N times and tells what it kept per
//! call on each side of the boundary: the C side (every `malloc` family
//! call of the process, whichever C library makes it, counted at an
//! interposed C allocator) and the Rust side (counted by [`Counting`], the
//! global allocator wrapper you install). When something was kept, the
//! allocation stacks of two more calls say where, lost or still reachable.
//! [`check::fault_sweep`] fails each C allocation of a call in turn, each
//! point first in a forked child, so a library that crashes on the NULL is
//! a reported finding, not the end of the test binary.
//!
//! Set-up: the dev-dependency, one line naming the global allocator, and
//! `#[leaklab::test]` on the tests that measure:
//!
//! ```
//! // tests/leaks.rs
//! #[global_allocator]
//! static ALLOC: leaklab::Counting = leaklab::Counting::system();
//!
//! #[leaklab::test]
//! fn malloc_free_is_clean() {
//!     leaklab::check::measure(100, || {
//!         // SAFETY: a malloc/free pair.
//!         unsafe { libc::free(libc::malloc(24)) }
//!     })
//!     .expect("counted")
//!     .assert_clean();
//! }
//! # fn main() {}
//! ```
//!
//! `#[leaklab::test]` makes the test name itself and, where the C
//! allocator is not counted in the test process (under valgrind, which
//! replaces it), re-run itself natively in a child process that is.
//!
//! Already have a global allocator (jemalloc, mimalloc)? Wrap it:
//! `static ALLOC: leaklab::Counting<tikv_jemallocator::Jemalloc> =
//! leaklab::Counting::new(tikv_jemallocator::Jemalloc);`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod check;
#[doc(hidden)]
pub mod heap;
#[doc(hidden)]
pub mod watch_page;
#[doc(hidden)]
pub mod watch_sites;

pub use heap::rust::Counting;

/// Where this crate's sources are: the preload shim's build reads them.
#[doc(hidden)]
pub const SOURCE_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Makes a test a counted test: `#[leaklab::test]` in place of `#[test]`.
///
/// The test names itself (`module_path!()` and its function name, as
/// libtest's `--exact` matches it) and runs in a process where both sides
/// are counted: its own when they are, else (under valgrind, or wherever
/// the C allocator is replaced) a child re-running this test binary on
/// this test alone, natively. A panic in the child fails the test with the
/// child's message and location.
///
/// ```
/// #[global_allocator]
/// static ALLOC: leaklab::Counting = leaklab::Counting::system();
///
/// #[leaklab::test]
/// fn boxes_are_freed() {
///     leaklab::check::measure(10, || drop(Box::new(7u32)))
///         .expect("counted")
///         .assert_clean();
/// }
/// # fn main() {}
/// ```
pub use leaklab_macros::test;

/// The crate's own unit tests measure, so their binary counts.
#[cfg(test)]
#[global_allocator]
static ALLOC: Counting = Counting::system();
