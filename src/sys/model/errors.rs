//! Error reporting into a handle's or statement's `last_errno` /
//! `last_error` (errors.c): the C library's messages, cut to
//! `LC_ERRMSG_SIZE - 1` bytes, names printed up to their first NUL.

use std::ffi::CStr;

use crate::api::{Error, code};
use crate::sys::LC_ERRMSG_SIZE;

const MESSAGE_SIZE: usize = LC_ERRMSG_SIZE as usize;

/// No error (`LC_OK`).
pub(super) const OK: u32 = crate::sys::LC_OK;

/// MySQL's CR_UNKNOWN_ERROR: what a non-connector error from the pure
/// backend would be reported as (none is raised today).
const UNKNOWN: u32 = 2000;

/// Where one object keeps its error: raw pointers into the handle or
/// statement, so reporting never holds a reference to the whole object
/// (a row callback may be inside a call on it).
pub(super) struct Slot {
    pub(super) errno: *mut libc::c_uint,
    pub(super) message: *mut [libc::c_char; MESSAGE_SIZE],
}

impl Slot {
    /// Sets the code and message.
    ///
    /// # Safety
    /// Both pointers must be valid for writes (a live handle or statement).
    pub(super) unsafe fn set(&self, code: u32, text: &[u8]) {
        let len = text.len().min(MESSAGE_SIZE - 1);
        // SAFETY: valid per the caller; `len + 1 <= MESSAGE_SIZE` bytes
        // are written into the message buffer, which `text` cannot overlap
        // (it is a Rust value, never the buffer itself).
        unsafe {
            self.errno.write(code);
            let buffer = self.message.cast::<u8>();
            std::ptr::copy_nonoverlapping(text.as_ptr(), buffer, len);
            buffer.add(len).write(0);
        }
    }

    /// Each call that can fail first clears the error.
    ///
    /// # Safety
    /// As [`Slot::set`].
    pub(super) unsafe fn clear(&self) {
        // SAFETY: forwarded contract.
        unsafe { self.set(OK, b"") }
    }

    /// An error whose message has no argument.
    ///
    /// # Safety
    /// As [`Slot::set`].
    pub(super) unsafe fn code(&self, code: u32) -> u32 {
        // SAFETY: forwarded contract.
        unsafe { self.set(code, plain_message(code).as_bytes()) };
        code
    }

    /// An error of the pure backend, whose messages are the C library's.
    ///
    /// # Safety
    /// As [`Slot::set`].
    pub(super) unsafe fn error(&self, error: &Error) -> u32 {
        match error {
            // SAFETY: forwarded contract.
            Error::Connector { code, message } => unsafe {
                self.set(*code, message.as_bytes());
                *code
            },
            // The parser and engine raise connector errors only; anything
            // else would be a bug in the model, reported as C would an
            // unknown code.
            // SAFETY: forwarded contract.
            _ => unsafe { self.code(UNKNOWN) },
        }
    }

    /// An error naming a C string ('' for NULL), as `%.*s` prints it.
    ///
    /// # Safety
    /// As [`Slot::set`]; `name` must be NULL or NUL-terminated.
    pub(super) unsafe fn named(&self, code: u32, template: &str, name: *const libc::c_char) -> u32 {
        let name: &[u8] = if name.is_null() {
            b""
        } else {
            // SAFETY: non-null and NUL-terminated per the caller.
            unsafe { CStr::from_ptr(name) }.to_bytes()
        };
        let (before, after) = template.split_once("%s").unwrap_or((template, ""));
        let text = [before.as_bytes(), name, after.as_bytes()].concat();
        // SAFETY: forwarded contract.
        unsafe { self.set(code, &text) };
        code
    }
}

/// The message of each code whose message takes no argument.
pub(super) fn plain_message(code: u32) -> String {
    match code {
        OK => String::new(),
        code::EMPTY_QUERY => "Query was empty".into(),
        code::QUERY_INTERRUPTED => "Query execution was interrupted".into(),
        code::SERVER_GONE => "Not connected".into(),
        code::OUT_OF_MEMORY => "Client ran out of memory".into(),
        code::COMMANDS_OUT_OF_SYNC => "Commands out of sync; you can't run this command now".into(),
        code::PARAMS_NOT_BOUND => "No data supplied for parameters in prepared statement".into(),
        code::INVALID_PARAMETER_NO => "Invalid parameter number".into(),
        code::NO_PREPARED_STMT => "Statement not prepared".into(),
        other => format!("Unknown error {other}"),
    }
}
