//! leaklab: reproduce, measure and explain memory leaks across a Rust/C boundary.
//!
//! In your own tests, [`check`] is the API: measure a closure's leak per
//! call on each side, assert it clean or leaking exactly, sweep it with
//! failing C allocations. The rest is the lab itself:
//!
//! - [`api`]: the connector's values, errors and backend trait;
//! - [`sys`]: raw bindings to the lab's C libraries (csrc/);
//! - [`connector`]: the leaky binding, the safe binding and the pure backend;
//! - [`sql`]: the in-memory SQL server the pure backend and the C API model run;
//! - [`heap`]: exact live-memory counters for each side;
//! - [`scenarios`]: the registry of reproducible leaks;
//! - [`run`]: the measurement protocol and child-process isolation;
//! - [`report`]: result records and tables; [`cli`]: the command line;
//! - [`watch`]: any program's memory over time, and whether it grows;
//! - [`suite`]: `cargo leaklab test`, any crate's tests one process each
//!   under a leak detector.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod api;
pub mod check;
pub mod cli;
pub mod connector;
pub mod detect;
pub mod hardening;
pub mod heap;
#[cfg(feature = "mariadb")]
pub mod mariadb;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod sql;
pub mod sqlite;
pub mod suite;
pub mod sys;
pub mod watch;

/// Every binary and test linking the lab counts its Rust heap exactly.
#[cfg(not(feature = "uncounted"))]
#[global_allocator]
static ALLOCATOR: heap::rust::CountingAllocator = heap::rust::CountingAllocator;
