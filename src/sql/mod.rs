//! The in-memory SQL server the C connector defines
//! (csrc/connector/connector.h), in safe Rust: what the pure backend
//! ([`crate::connector::pure`]) runs and the model of the C API that Miri
//! checks (src/sys/model) keeps behind each handle.
//!
//! The parser and the engine are usable apart: [`parse`] is
//! `lc_stmt_prepare` (length, empty, syntax, table, columns) and
//! [`Database::run`] is `lc_stmt_execute` (binding, literal types,
//! execution).

mod database;
mod engine;
mod error;
mod format;
mod lexer;
mod literal;
mod parser;
mod statement;
mod table;

pub use database::Database;
pub use format::{escape, format_double, format_int, quote_text};
pub use parser::{MAX_PARAMS, MAX_SELECT_COLUMNS};
pub use statement::{Statement, parse};
pub use table::{Column, TABLE_NAME};
