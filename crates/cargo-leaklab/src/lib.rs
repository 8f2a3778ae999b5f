//! cargo-leaklab: leak checks for anyone's code, from the command line.
//!
//! - `cargo leaklab test` ([`suite`]): any crate's tests through
//!   cargo-nextest, one process each, under a leak detector (the preload
//!   shim's counters, valgrind memcheck, or LeakSanitizer), and a table of
//!   what each test lost, on which side of the Rust/C boundary;
//! - `cargo leaklab run` ([`run`]): a package's binary, built by cargo and
//!   run once under the counters or memcheck, and what it lost at exit;
//! - `leaklab watch` ([`watch`]): any program's memory over time, fitted,
//!   and whether it grows.
//!
//! The preload shim's allocation sites are read and named in one place
//! ([`sites`]), for watch and for the test runner alike.
//!
//! Both need the preload shim, which travels inside the binaries and is
//! written to a cache directory on first use ([`shim`]).
//!
//! The library half is what the lab reuses: the detectors' parsers
//! ([`parse`]), the growth fit ([`fit`]) and the plots ([`plot`]).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cli;
pub mod fit;
pub mod parse;
pub mod plot;
pub mod run;
pub mod shim;
pub mod sites;
pub mod suite;
pub mod symbolize;
pub mod units;
pub mod watch;
