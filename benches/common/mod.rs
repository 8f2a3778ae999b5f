//! The operations both bench binaries measure, one `#[inline(never)]`
//! function each (callgrind toggles collection on their names), in three
//! flavours: the safe binding, the minimal correct sequence of raw `sys`
//! calls doing the same work, and the pure-Rust backend. Setup (handles,
//! results with rows) lives here too, outside the measured functions.
//!
//! Fairness: both sides build their C strings from `&str` at run time
//! (the safe binding must, so the raw baseline does too) and check every
//! return value a correct caller has to check.

#![allow(dead_code)]

pub mod raw;
pub mod safe;

/// A SELECT of 2 of the 5 seeded rows (the scenarios' unfreed-result query).
pub const QUERY: &str = "SELECT name, age, score FROM people WHERE age > 30";

/// Every row of the table, after [`GROW`] inserts: the fetch benches' input.
pub const QUERY_ALL: &str = "SELECT name, age, score FROM people";

/// Rows inserted before the fetch benches, so one result holds many rows.
pub const GROW: usize = 1000;

/// The INSERT run [`GROW`] times.
pub const INSERT: &str = "INSERT INTO people VALUES ('bench', 41, 2.5)";

/// Where to connect, as plain strings (what a caller holds).
pub struct Opts {
    pub host: String,
    pub user: String,
    pub password: String,
    pub database: String,
    pub port: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            host: "localhost".into(),
            user: "lab".into(),
            password: "lab".into(),
            database: "shop".into(),
            port: 3306,
        }
    }
}

/// A value's bytes folded into one word, so neither side can skip reading them.
#[inline(always)]
pub fn fold(bytes: &[u8]) -> usize {
    bytes.as_ptr() as usize ^ bytes.len()
}
