//! The safe SQLite binding: RAII owners, one per SQLite object, each
//! releasing it with the function SQLite documents for it:
//!
//! - [`Database`] owns a `sqlite3*`: `close` (sqlite3_close) reports
//!   SQLITE_BUSY as an error and hands the database back; `Drop` uses
//!   sqlite3_close_v2, which cannot fail;
//! - [`Statement`] owns a `sqlite3_stmt*`, borrows its database (so the
//!   database cannot be closed while it lives) and is finalized on Drop;
//! - [`SqliteString`] owns a string SQLite allocated for the caller
//!   (sqlite3_expanded_sql, sqlite3_exec's error message), released with
//!   sqlite3_free on Drop.
//!
//! Read it beside `leaky.rs`, which binds the same calls the way real
//! bindings got them wrong.

mod database;
mod statement;
mod string;

pub use database::Database;
pub use statement::{Statement, Step};
pub use string::SqliteString;
