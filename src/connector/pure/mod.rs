//! The pure-Rust backend (the lab's `use_pure=True`): the SQL engine of
//! [`crate::sql`], which has the semantics of the C connector
//! (csrc/connector/connector.h) in safe Rust, behind the [`Backend`]
//! trait, so the lab can run it, and model the C API with it, under Miri.
//!
//! [`Backend`]: crate::connector::Backend

mod backend;

#[cfg(test)]
mod tests;

pub use crate::sql::Database as PureConnection;
pub use crate::sql::{
    Column, MAX_PARAMS, MAX_SELECT_COLUMNS, Statement, TABLE_NAME, escape, format_double,
    format_int, parse, quote_text,
};
