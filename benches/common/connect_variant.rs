//! A copy of `Connection::connect` (src/connector/safe/connection.rs), to
//! measure a proposed change without editing src/connector: `copy` is the
//! code as it is, `lazy` the change.
//!
//! The changes:
//! 1. `lazy`: the out-of-memory error is built with `ok_or(Error { ..,
//!    message: "Client ran out of memory".into() })`, which evaluates its
//!    argument, a 24-byte `String` (one malloc, one memcpy, one free), on
//!    every successful connect too; `ok_or_else(|| ...)` builds it only on
//!    failure. In leaklab the counting allocator inlines into the caller
//!    (a direct `malloc` call), so LLVM cannot drop the unused allocation;
//!    here `out_of_memory` is `#[inline(never)]` to keep it, as it is kept
//!    there.
//! 2. `seq`: also build the four C strings one by one with `?`, instead of
//!    `[..].map(query_cstring)` into an array of `Result<CString, Error>`
//!    (each element the size of an `Error`), destructured, then unwrapped.

use std::ffi::CStr;
use std::ptr::NonNull;

use leaklab::connector::Error;
use leaklab::connector::safe::ConnectOptions;
use leaklab::connector::types::{MAX_QUERY_LEN, code};
use leaklab::sys;

/// `Connection` as the safe binding lays it out (the callback slot's
/// owner replaced by a stand-in of the same shape: `None` here).
struct Owned {
    handle: NonNull<sys::LC>,
    callback: Option<Box<u64>>,
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: live handle from lc_init, closed once.
        unsafe { sys::lc_close(self.handle.as_ptr()) };
    }
}

/// `error::query_cstring`, copied.
fn query_cstring(sql: &str) -> Result<std::ffi::CString, Error> {
    if sql.len() > MAX_QUERY_LEN {
        return Err(Error::QueryTooLong {
            length: sql.len(),
            max: MAX_QUERY_LEN,
        });
    }
    std::ffi::CString::new(sql).map_err(|e| Error::InteriorNul {
        position: e.nul_position(),
    })
}

/// `error::from_handle`, copied.
#[cold]
fn from_handle(handle: *const sys::LC) -> Error {
    // SAFETY: live handle; lc_error is NUL-terminated inside it, copied now.
    let (code, message) = unsafe { (sys::lc_errno(handle), CStr::from_ptr(sys::lc_error(handle))) };
    Error::Connector {
        code,
        message: message.to_string_lossy().into_owned(),
    }
}

#[inline(never)]
fn out_of_memory() -> Error {
    Error::Connector {
        code: code::OUT_OF_MEMORY,
        message: "Client ran out of memory".into(),
    }
}

/// Which version of `Connection::connect`.
#[derive(Clone, Copy, PartialEq)]
enum Version {
    Copy,
    Lazy,
    Seq,
}

/// The body of `Connection::connect` in each version.
#[inline(always)]
fn connect(options: &ConnectOptions, version: Version) -> Result<Owned, Error> {
    let (host, user, password, database) = if version == Version::Seq {
        (
            query_cstring(&options.host)?,
            query_cstring(&options.user)?,
            query_cstring(&options.password)?,
            query_cstring(&options.database)?,
        )
    } else {
        let strings = [
            &options.host,
            &options.user,
            &options.password,
            &options.database,
        ]
        .map(|s| query_cstring(s));
        let [host, user, password, database] = strings;
        (host?, user?, password?, database?)
    };
    // SAFETY: lc_init takes no arguments; NULL means out of memory.
    let raw = unsafe { sys::lc_init() };
    let handle = if version == Version::Copy {
        NonNull::new(raw).ok_or(out_of_memory())?
    } else {
        NonNull::new(raw).ok_or_else(out_of_memory)?
    };
    let connection = Owned {
        handle,
        callback: None,
    };
    // SAFETY: live handle; the strings outlive the call.
    let connected = unsafe {
        sys::lc_real_connect(
            connection.handle.as_ptr(),
            host.as_ptr(),
            user.as_ptr(),
            password.as_ptr(),
            database.as_ptr(),
            options.port,
        )
    };
    if connected.is_null() {
        return Err(from_handle(connection.handle.as_ptr()));
    }
    Ok(connection)
}

/// The copy, as it is.
#[inline(never)]
pub fn measured_connect_copy(o: &ConnectOptions) -> bool {
    connect(o, Version::Copy).is_ok_and(|c| c.callback.is_none())
}

/// Change 1: `ok_or_else`.
#[inline(never)]
pub fn measured_connect_lazy(o: &ConnectOptions) -> bool {
    connect(o, Version::Lazy).is_ok_and(|c| c.callback.is_none())
}

/// Changes 1 and 2: `ok_or_else`, and the C strings built one by one.
#[inline(never)]
pub fn measured_connect_seq(o: &ConnectOptions) -> bool {
    connect(o, Version::Seq).is_ok_and(|c| c.callback.is_none())
}
