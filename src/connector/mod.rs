//! The connector: one C API (csrc/connector), bound twice (the leaky
//! binding in `leaky.rs`, the safe one in `safe/`), plus a pure-Rust backend
//! with the same semantics (`pure/`): the lab's "disable the C extension".

pub mod leaky;
pub mod pure;
pub mod safe;
pub use crate::api as types;

pub use types::{Backend, Error, Field, FieldType, Outcome, Param};
