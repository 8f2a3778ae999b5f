//! The safe binding: RAII owners over the C connector. Every C object has
//! exactly one Rust owner whose `Drop` calls the C free function; a child
//! borrows its parent only where the C API really invalidates the child
//! (a result's field names live in the handle; a row lives in its result).
//!
//! Read it beside `../leaky.rs`, which binds the same API the way real
//! bindings got it wrong.

mod callback;
mod connection;
mod error;
mod result;
mod statement;
mod string;

pub use callback::CallbackRow;
pub(crate) use callback::CallbackSlot;
pub use connection::{ConnectOptions, Connection};
pub use result::{QueryResult, Row};
pub use statement::Statement;
pub use string::CString as LcString;
