//! SQLite, the lab's second C library and its worked example of binding a
//! real one (see EXTENDING.md): bound twice, like the connector, as a leaky
//! binding (`leaky.rs`) and a safe one (`safe.rs`). It is the amalgamation
//! the `libsqlite3-sys` crate bundles, compiled and linked by that crate,
//! so every machine measures the same SQLite built the same way.
//!
//! SQLite allocates with the process's malloc (its default allocator,
//! mem1.c), so the C counters and fault injection of [`crate::heap::c`]
//! see its heap with no hook installed.

mod error;
pub mod leaky;
pub mod safe;

use std::ffi::CString;

pub use error::Error;

use crate::sys::sqlite as sys;

/// The filename of a private, in-memory database.
pub const MEMORY: &str = ":memory:";

/// `text` as a C string for SQLite, or `Error::InteriorNul`.
pub(crate) fn c_text(text: &str) -> Result<CString, Error> {
    CString::new(text).map_err(|e| Error::InteriorNul {
        position: e.nul_position(),
    })
}

/// The connection's current error message, copied (SQLite owns it).
///
/// # Safety
/// `db` must be a live connection handle (or NULL, for SQLite's
/// out-of-memory message).
pub(crate) unsafe fn errmsg(db: *mut sys::sqlite3) -> String {
    // SAFETY: per the caller; sqlite3_errmsg never returns NULL and the
    // text is copied before any other call on `db`.
    unsafe { std::ffi::CStr::from_ptr(sys::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned()
}

/// The error for result code `code` on `db`, with the connection's message.
///
/// # Safety
/// As [`errmsg`].
pub(crate) unsafe fn error(db: *mut sys::sqlite3, code: libc::c_int) -> Error {
    Error::Sqlite {
        code,
        // SAFETY: per the caller.
        message: unsafe { errmsg(db) },
    }
}
