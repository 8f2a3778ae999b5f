//! The connector's patterns on the real MySQL C API: MariaDB Connector/C
//! (src/mariadb/), against a private server the lab starts itself
//! (src/mariadb/server.rs). Behind the `mariadb` feature.
//!
//! Each scenario here is the twin of a stand-in scenario (its fidelity
//! row, src/scenarios/fidelity.rs, says which and how the two compare).
//! libmariadb's structures are its own, so what a leaky iteration keeps is
//! a footprint measured with the safe binding ([`footprint`]), or, where the
//! library's source fixes it, derived from a bound struct's size.

pub mod footprint;

mod early_return;
mod escape_buffer;
mod failed_connect;
mod forget_owner;
mod panic_unwind;
mod stmt_metadata;
mod unfreed_result;

pub use early_return::SCENARIO as EARLY_RETURN;
pub use escape_buffer::SCENARIO as ESCAPE_BUFFER;
pub use failed_connect::SCENARIO as FAILED_CONNECT;
pub use forget_owner::SCENARIO as FORGET_OWNER;
pub use panic_unwind::SCENARIO as PANIC_UNWIND;
pub use stmt_metadata::SCENARIO as STMT_METADATA;
pub use unfreed_result::SCENARIO as UNFREED_RESULT;

use super::lab_err;
use crate::mariadb::leaky::LeakyConnection;
use crate::mariadb::safe::Connection;
use crate::mariadb::server;

/// The `library` of these scenarios.
pub const LIBRARY: &str = "mariadb";

/// A safe connection to the run's server, in the `shop` database.
pub(crate) fn connect() -> Result<Connection, String> {
    Connection::connect(&server::socket()?, Some(server::DATABASE)).map_err(lab_err)
}

/// A leaky connection to the run's server, in the `shop` database.
pub(crate) fn connect_leaky() -> Result<LeakyConnection, String> {
    LeakyConnection::connect(&server::socket()?, Some(server::DATABASE)).map_err(lab_err)
}
