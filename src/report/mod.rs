//! Turning child runs into result records, and records into tables and JSON.

pub mod record;
pub mod table;
