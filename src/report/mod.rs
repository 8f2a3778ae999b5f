//! Turning result records into tables, JSON, plots and one HTML page: the
//! renderers, above the detectors (the record itself is [`crate::record`],
//! below them).

pub mod html;
pub mod plot;
pub mod table;
