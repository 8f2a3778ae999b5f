//! The pure-Rust backend (the lab's `use_pure=True`): the semantics of the C
//! connector (csrc/connector/connector.h) in safe Rust, with no FFI, so the
//! lab can run it, and model the C API with it, under Miri.
//!
//! The parser and the engine are usable apart: [`parse`] is
//! `lc_stmt_prepare` (length, empty, syntax, table, columns) and
//! [`PureConnection::run`] is `lc_stmt_execute` (binding, literal types,
//! execution).

mod connection;
mod engine;
mod error;
mod format;
mod lexer;
mod literal;
mod parser;
mod statement;
mod table;

#[cfg(test)]
mod tests;

pub use connection::PureConnection;
pub use format::{escape, format_double, format_int, quote_text};
pub use parser::{MAX_PARAMS, MAX_SELECT_COLUMNS};
pub use statement::{Statement, parse};
pub use table::{Column, TABLE_NAME};
