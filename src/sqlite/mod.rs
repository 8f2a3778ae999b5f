//! The system's libsqlite3, the lab's second C library and its worked
//! example of binding a real one (see EXTENDING.md): bound twice, like the
//! connector, as a leaky binding (`leaky.rs`) and a safe one (`safe.rs`).
//!
//! Every SQLite allocation goes through lab_alloc (csrc/sqlite/
//! lab_sqlite_mem.c installs SQLite's allocator hook), so the C counters and
//! fault injection of [`crate::heap::c`] see SQLite's heap. [`install`]
//! must run before SQLite's first use; both bindings call it before opening.

mod error;
pub mod leaky;
pub mod safe;

use std::ffi::CString;
use std::sync::OnceLock;

pub use error::Error;

use crate::sys::sqlite as sys;

/// The filename of a private, in-memory database.
pub const MEMORY: &str = ":memory:";

/// Installs the lab's allocator into SQLite and initialises SQLite, once
/// per process. An error means SQLite was initialised before the hook
/// could be installed (its allocations would not be counted).
pub fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<libc::c_int> = OnceLock::new();
    // SAFETY: takes no arguments; runs once, before any other SQLite call
    // of the lab (every open goes through here first).
    let code = *INSTALLED.get_or_init(|| unsafe { sys::lab_sqlite_install() });
    if code == sys::SQLITE_OK as libc::c_int {
        Ok(())
    } else {
        Err(Error::Sqlite {
            code,
            message: "cannot install the lab's allocator into SQLite".into(),
        })
    }
}

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
