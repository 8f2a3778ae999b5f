//! Turning the C library's return conventions into `Result`s.

use std::ffi::CStr;

use crate::connector::types::{Error, check_c_string};
use crate::sys;

/// The handle's current error, copied out: the C string is owned by the
/// handle and only valid until the next call on it.
///
/// # Safety
/// `handle` must point to a live handle from `lc_init`.
#[cold]
pub(crate) unsafe fn from_handle(handle: *const sys::LC) -> Error {
    // SAFETY: the caller guarantees a live handle; lc_error returns a
    // NUL-terminated string inside it, copied before any other call.
    unsafe { connector_error(sys::lc_errno(handle), sys::lc_error(handle)) }
}

/// The statement's current error, copied out.
///
/// # Safety
/// `stmt` must point to a live statement from `lc_stmt_init`.
#[cold]
pub(crate) unsafe fn from_stmt(stmt: *const sys::LC_STMT) -> Error {
    // SAFETY: as `from_handle`, for a statement the caller keeps alive.
    unsafe { connector_error(sys::lc_stmt_errno(stmt), sys::lc_stmt_error(stmt)) }
}

/// # Safety
/// `message` must be NULL or a valid NUL-terminated string.
unsafe fn connector_error(code: u32, message: *const libc::c_char) -> Error {
    let message = if message.is_null() {
        String::new()
    } else {
        // SAFETY: non-null and NUL-terminated per the caller.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    };
    Error::Connector { code, message }
}

/// A query as a C string, refused before C sees it if it cannot be one or
/// is longer than the connector takes.
pub(crate) fn query_cstring(sql: &str) -> Result<std::ffi::CString, Error> {
    check_c_string(sql)?;
    std::ffi::CString::new(sql).map_err(|e| Error::InteriorNul {
        position: e.nul_position(),
    })
}
