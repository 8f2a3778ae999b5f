//! leaklab: reproduce, measure and explain memory leaks across a Rust/C boundary.
//!
//! The lab: every leak pattern as a scenario with a leaky and a safe
//! variant, measured by every detector. (For your own code, the `leaklab`
//! crate and `cargo leaklab` are the tools; the lab is built on them.)
//!
//! - [`api`]: the connector's values, errors and backend trait;
//! - [`sys`]: raw bindings to the lab's C libraries (csrc/);
//! - [`connector`]: the leaky binding, the safe binding and the pure backend;
//! - [`sql`]: the in-memory SQL server the pure backend and the C API model run;
//! - [`scenarios`]: the registry of reproducible leaks;
//! - [`run`]: the measurement protocol and child-process isolation;
//! - [`report`]: result records and tables; [`cli`]: the command line;
#![deny(unsafe_op_in_unsafe_fn)]

pub mod api;
pub mod cli;
pub mod connector;
pub mod detect;
pub mod hardening;
#[cfg(feature = "mariadb")]
pub mod mariadb;
pub mod record;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod sql;
pub mod sqlite;
pub mod sys;

/// The user crate's measurement API and heap counters, as the lab uses
/// them (the lab is built on the same crate users add to their tests).
pub use leaklab::{check, heap};

/// Every binary and test linking the lab counts its Rust heap exactly.
#[cfg(not(feature = "uncounted"))]
#[global_allocator]
static ALLOCATOR: leaklab::Counting = leaklab::Counting::system();
