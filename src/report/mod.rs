//! Turning child runs into result records, and records into tables, JSON,
//! plots and one HTML page.

pub mod html;
pub mod plot;
pub mod record;
pub mod table;
