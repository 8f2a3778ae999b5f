//! The scenario registry: every leak the lab reproduces, with its origin,
//! its expected leak per iteration on each side, its fix, and a leaky and a
//! safe workload of the same job, side by side in one file.
//!
//! This registry is the only place a scenario (or a new C library's
//! scenarios) is named: the CLI, the runner and the detectors read it.

pub mod code;
pub mod expect;
pub mod fidelity;
pub mod footprint;
#[cfg(feature = "mariadb")]
pub mod mariadb;
pub mod sqlite_footprint;

mod c_extension_bug;
mod callback_box;
mod cstring_into_raw;
mod early_return;
mod escape_buffer;
mod expat_parser;
mod failed_connect;
mod ffi_cycle;
mod forget_owner;
mod growing_cache;
mod libxml2_document;
mod libyaml_parser;
mod panic_unwind;
mod prepared_statement;
mod rc_cycle;
mod sized_leak;
mod sqlite_exec_errmsg;
mod sqlite_expanded_sql;
mod sqlite_unfinalized_statement;
mod statement_refcount;
mod unbounded_int;
mod unfreed_c_string;
mod unfreed_result;
mod zlib_deflate_stream;

use serde::Serialize;

pub use expect::{Expected, LeakKind, SideExpectation};

use crate::connector::pure::PureConnection;
use crate::connector::safe::Connection;
use crate::connector::{Backend, Error};

/// Which binding of the workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Leaky,
    Safe,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Leaky => "leaky",
            Variant::Safe => "safe",
        }
    }
}

/// Which connector backend a workload talks to: the C library through the
/// safe binding, or the pure-Rust backend (mysql-connector's `use_pure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    C,
    Pure,
}

impl BackendChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::C => "c",
            BackendChoice::Pure => "pure",
        }
    }

    /// Opens a connection on this backend, behind the shared trait.
    pub fn open(self) -> Result<Box<dyn Backend>, Error> {
        Ok(match self {
            BackendChoice::C => Box::new(Connection::open_default()?),
            BackendChoice::Pure => {
                Box::new(PureConnection::connect("localhost", "lab", "lab", "shop")?)
            }
        })
    }
}

/// One iteration of a workload. An `Err` is a failure of the lab, not the
/// leak: expected errors (the early-return pattern) are handled inside.
pub type Iteration = Box<dyn FnMut() -> Result<(), String>>;

/// Builds a workload's state (a connection, say) and returns its iteration.
/// Dropping the iteration tears the state down.
pub type Setup = fn(BackendChoice) -> Result<Iteration, String>;

/// Where a scenario comes from.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Origin {
    /// Which of the lab's sources: "python-leak-1/2/3" or "rust-binding".
    pub source: &'static str,
    /// The bug or write-up it reproduces, with its reference.
    pub reference: &'static str,
}

/// One leak, reproducible.
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    pub origin: Origin,
    /// The mistake, in one sentence.
    pub pattern: &'static str,
    /// The fix, in one sentence.
    pub fix: &'static str,
    /// The C library the scenario exercises ("connector", "sqlite", "none").
    pub library: &'static str,
    pub leaky: Setup,
    pub safe: Setup,
    /// Backend the safe variant uses unless told otherwise.
    pub safe_backend: BackendChoice,
    /// Whether the safe variant may run on the pure backend too.
    pub pure_capable: bool,
    /// Expected leak per iteration, derived from sizes and data.
    pub expected: fn(Variant, BackendChoice) -> Expected,
    /// The most iterations a leaky run keeps within the default memory cap,
    /// for a leak big enough to need a limit (runs asking for more are cut
    /// to it, and say so); `None`: any number.
    pub iteration_budget: Option<u64>,
    /// The file holding both workloads, for `explain`.
    pub source_file: &'static str,
    pub source: &'static str,
    /// Where the mistake and its fix are, for `explain`.
    pub code: code::Code,
}

impl Scenario {
    pub fn setup(&self, variant: Variant) -> Setup {
        match variant {
            Variant::Leaky => self.leaky,
            Variant::Safe => self.safe,
        }
    }

    /// The backend a variant runs on when none is asked for.
    pub fn default_backend(&self, variant: Variant) -> BackendChoice {
        match variant {
            Variant::Leaky => BackendChoice::C,
            Variant::Safe => self.safe_backend,
        }
    }

    /// The file holding both workloads.
    pub fn file(&self) -> code::File {
        code::File {
            path: self.source_file,
            text: self.source,
        }
    }

    /// `requested` iterations, cut to the scenario's budget.
    pub fn budgeted(&self, requested: u64) -> u64 {
        self.iteration_budget
            .map_or(requested, |budget| requested.min(budget))
    }

    /// Whether `variant` can run on `backend`.
    pub fn supports(&self, variant: Variant, backend: BackendChoice) -> bool {
        match (variant, backend) {
            (Variant::Leaky, BackendChoice::C) => true,
            (Variant::Leaky, BackendChoice::Pure) => false,
            (Variant::Safe, BackendChoice::C) => true,
            (Variant::Safe, BackendChoice::Pure) => self.pure_capable,
        }
    }
}

/// Every scenario, in the order `list` shows them.
pub fn all() -> &'static [&'static Scenario] {
    static ALL: &[&Scenario] = &[
        &unbounded_int::SCENARIO,
        &rc_cycle::SCENARIO,
        &ffi_cycle::SCENARIO,
        &unfreed_result::SCENARIO,
        &unfreed_c_string::SCENARIO,
        &early_return::SCENARIO,
        &panic_unwind::SCENARIO,
        &cstring_into_raw::SCENARIO,
        &callback_box::SCENARIO,
        &forget_owner::SCENARIO,
        &failed_connect::SCENARIO,
        &prepared_statement::SCENARIO,
        &statement_refcount::SCENARIO,
        &escape_buffer::SCENARIO,
        &c_extension_bug::SCENARIO,
        &growing_cache::SCENARIO,
        &sized_leak::SCENARIO,
        // SQLite, bundled by libsqlite3-sys (EXTENDING.md walks through
        // binding it).
        &sqlite_exec_errmsg::SCENARIO,
        &sqlite_unfinalized_statement::SCENARIO,
        &sqlite_expanded_sql::SCENARIO,
        // System libraries with no allocator hook, counted at the C
        // allocator (EXTENDING.md).
        &zlib_deflate_stream::SCENARIO,
        &libxml2_document::SCENARIO,
        &libyaml_parser::SCENARIO,
        &expat_parser::SCENARIO,
        // The connector's patterns on the real MySQL C API (libmariadb),
        // against a server the lab starts: the `mariadb` feature.
        #[cfg(feature = "mariadb")]
        &mariadb::UNFREED_RESULT,
        #[cfg(feature = "mariadb")]
        &mariadb::FAILED_CONNECT,
        #[cfg(feature = "mariadb")]
        &mariadb::STMT_METADATA,
        #[cfg(feature = "mariadb")]
        &mariadb::EARLY_RETURN,
        #[cfg(feature = "mariadb")]
        &mariadb::PANIC_UNWIND,
        #[cfg(feature = "mariadb")]
        &mariadb::FORGET_OWNER,
        #[cfg(feature = "mariadb")]
        &mariadb::ESCAPE_BUFFER,
    ];
    ALL
}

pub fn find(id: &str) -> Option<&'static Scenario> {
    all().iter().copied().find(|s| s.id == id)
}

/// Checks the environment a scenario's children will read, in the parent
/// before any child starts: a bad value is one line for the user rather
/// than a failure in every child. sized-leak reads `LEAKLAB_LEAK_BYTES`;
/// the MariaDB scenarios need a server, started here (once) and handed to
/// every child (its socket in `LEAKLAB_MARIADB_SOCKET`).
pub fn check_environment(scenario: &Scenario) -> Result<(), String> {
    if std::ptr::eq(scenario, &sized_leak::SCENARIO) {
        sized_leak::leak_bytes()?;
    }
    #[cfg(feature = "mariadb")]
    if scenario.library == mariadb::LIBRARY {
        crate::mariadb::server::socket()?;
    }
    Ok(())
}

pub fn ids() -> Vec<&'static str> {
    all().iter().map(|s| s.id).collect()
}

/// Turns any displayable error into the workload's error string.
pub(crate) fn lab_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
