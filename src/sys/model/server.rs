//! The in-memory server behind a connected handle (`LC.server`): the SQL
//! engine's database (`crate::sql`) plus the bookkeeping engine.h keeps, and the column
//! names that result fields point at ("valid until lc_close", so Miri sees
//! a name read after close as a use after free).

use crate::api::Outcome;
use crate::sql::{Column, Database};
use crate::sys::{LC, lc_server};

/// NUL-terminated column names, indexed as `Column::ALL`.
const NAMES: [[u8; 8]; 3] = [*b"name\0\0\0\0", *b"age\0\0\0\0\0", *b"score\0\0\0"];

pub(super) struct Server {
    pub(super) conn: Database,
    /// Statements with a SELECT not yet stored.
    pub(super) pending_statements: u32,
    /// Inside `lc_store_result` (the row callback may be running).
    pub(super) storing: bool,
    /// The handle's SELECT outcome until `lc_store_result` (C keeps the
    /// matching row numbers instead; the model keeps the rows' text).
    pub(super) pending: Option<Outcome>,
    names: [[u8; 8]; 3],
}

impl Server {
    pub(super) fn new(conn: Database) -> Server {
        Server {
            conn,
            pending_statements: 0,
            storing: false,
            pending: None,
            names: NAMES,
        }
    }
}

/// The handle's server; NULL until connected.
///
/// # Safety
/// `handle` must be a live handle.
pub(super) unsafe fn of(handle: *const LC) -> *mut Server {
    // SAFETY: live handle per the caller; `server` is NULL or a `Server`
    // block that the model put there in lc_real_connect.
    unsafe { (*handle).server.cast() }
}

/// As stored in `LC.server`.
pub(super) fn erase(server: *mut Server) -> *mut lc_server {
    server.cast()
}

/// Where `column`'s NUL-terminated name lives in `server`.
///
/// # Safety
/// `server` must be a live server.
pub(super) unsafe fn name_ptr(server: *const Server, column: Column) -> *const libc::c_char {
    let index = Column::ALL
        .iter()
        .position(|&c| c == column)
        .unwrap_or_default();
    // SAFETY: a live server per the caller; `index` < 3. No reference is
    // made, so the pointer keeps the server block's provenance.
    unsafe {
        (&raw const (*server).names)
            .cast::<[u8; 8]>()
            .add(index)
            .cast()
    }
}
