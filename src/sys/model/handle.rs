//! The handle (connector.c): connect, query, store, errors, escape, stat,
//! callbacks and switches. Every function reaches the handle through its
//! raw pointer with short-lived place expressions, never a `&mut LC` held
//! across a call, because the row callback may call back into the handle.

use std::ffi::CStr;
use std::ptr;

use super::errors::Slot;
use super::result;
use super::server::{self, Server};
use crate::api::code;
use crate::sql::{Column, Database, escape};
use crate::sys::{LC, LC_RES, lc_row_callback};
use leaklab::heap::modelled::{alloc_value, free_value, lab_calloc, lab_free, lab_malloc};

/// The handle's error slot.
///
/// # Safety
/// `handle` must be a live handle.
pub(super) unsafe fn slot(handle: *mut LC) -> Slot {
    Slot {
        // SAFETY: places inside the live handle; no reference is made.
        errno: unsafe { &raw mut (*handle).last_errno },
        // SAFETY: as above.
        message: unsafe { &raw mut (*handle).last_error },
    }
}

/// A SELECT of the handle or of one of its statements still owes rows, or
/// a result is being stored.
///
/// # Safety
/// `handle` must be a live, connected handle.
pub(super) unsafe fn rows_owed(handle: *const LC) -> bool {
    // SAFETY: connected, so the server is live.
    unsafe {
        let server = server::of(handle);
        (*handle).has_pending != 0 || (*server).pending_statements > 0 || (*server).storing
    }
}

/// Forgets the handle's owed rows.
///
/// # Safety
/// `handle` must be a live handle.
unsafe fn drop_pending(handle: *mut LC) {
    // SAFETY: live handle; the server, if any, is live with it.
    unsafe {
        let server = server::of(handle);
        if !server.is_null() {
            (*server).pending = None;
        }
        (*handle).pending_count = 0;
        (*handle).has_pending = 0;
    }
}

/// The bytes of a C string, `None` for NULL.
///
/// # Safety
/// `s` must be NULL or NUL-terminated and outlive the returned slice.
unsafe fn c_bytes<'a>(s: *const libc::c_char) -> Option<&'a [u8]> {
    // SAFETY: per the caller.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_bytes())
}

/// The index of a column of `people` in table order (`LC.pending_columns`).
fn column_index(name: &str) -> libc::c_uint {
    Column::ALL
        .iter()
        .position(|c| c.name() == name)
        .unwrap_or_default() as libc::c_uint
}

#[unsafe(no_mangle)]
pub extern "C" fn lc_init() -> *mut LC {
    // Zeroed: no error, not connected.
    lab_calloc(1, std::mem::size_of::<LC>()).cast()
}

/// # Safety
/// `handle` must be NULL or live; the strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_real_connect(
    handle: *mut LC,
    host: *const libc::c_char,
    user: *const libc::c_char,
    passwd: *const libc::c_char,
    db: *const libc::c_char,
    port: libc::c_uint,
) -> *mut LC {
    let _ = (host, port);
    if handle.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live handle and C strings, per the caller.
    unsafe {
        let slot = slot(handle);
        slot.clear();
        if (*handle).connected != 0 {
            slot.code(code::COMMANDS_OUT_OF_SYNC);
            return ptr::null_mut();
        }
        let lab = Some(&b"lab"[..]);
        if c_bytes(user) != lab || c_bytes(passwd) != lab {
            slot.named(code::ACCESS_DENIED, "Access denied for user '%s'", user);
            return ptr::null_mut();
        }
        if c_bytes(db) != Some(&b"shop"[..]) {
            slot.named(code::BAD_DB, "Unknown database '%s'", db);
            return ptr::null_mut();
        }
        let conn = match Database::connect("", "lab", "lab", "shop") {
            Ok(conn) => conn,
            Err(e) => {
                slot.error(&e);
                return ptr::null_mut();
            }
        };
        let Some(server) = alloc_value(Server::new(conn)) else {
            (*handle).server = ptr::null_mut();
            slot.code(code::OUT_OF_MEMORY);
            return ptr::null_mut();
        };
        (*handle).server = server::erase(server.as_ptr());
        (*handle).connected = 1;
    }
    handle
}

/// # Safety
/// `handle` must be NULL or live; on success it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_close(handle: *mut LC) -> libc::c_int {
    if handle.is_null() {
        return 0;
    }
    // SAFETY: a live handle; its server (if any) is freed once, with it.
    unsafe {
        let slot = slot(handle);
        slot.clear();
        let open = (*handle).open_statements;
        if open > 0 {
            let text = format!("Connection has {open} open statements");
            slot.set(code::BUSY, text.as_bytes());
            return code::BUSY as libc::c_int;
        }
        let server = server::of(handle);
        if !server.is_null() && (*server).storing {
            return slot.code(code::COMMANDS_OUT_OF_SYNC) as libc::c_int;
        }
        drop_pending(handle);
        if !server.is_null() {
            free_value(server);
        }
        lab_free(handle.cast());
    }
    0
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_errno(handle: *const LC) -> libc::c_uint {
    if handle.is_null() {
        return 0;
    }
    // SAFETY: a live handle.
    unsafe { (*handle).last_errno }
}

/// # Safety
/// `handle` must be NULL or live; the string lives in the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_error(handle: *const LC) -> *const libc::c_char {
    if handle.is_null() {
        return c"".as_ptr();
    }
    // SAFETY: a place in the live handle; no reference is made, so the
    // pointer keeps the handle's provenance.
    unsafe { (&raw const (*handle).last_error).cast() }
}

/// # Safety
/// `handle` must be NULL or live; `query` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_query(handle: *mut LC, query: *const libc::c_char) -> libc::c_int {
    // SAFETY: per the caller.
    let length = unsafe { c_bytes(query) }.map_or(0, <[u8]>::len);
    // SAFETY: `query` holds `length` bytes.
    unsafe { lc_real_query(handle, query, length as libc::c_ulong) }
}

/// # Safety
/// `handle` must be NULL or live; `query` NULL or valid for `length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_real_query(
    handle: *mut LC,
    query: *const libc::c_char,
    length: libc::c_ulong,
) -> libc::c_int {
    if handle.is_null() {
        return code::SERVER_GONE as libc::c_int;
    }
    // SAFETY: a live handle, connected before the server is touched;
    // `query` holds `length` bytes per the caller.
    unsafe {
        let slot = slot(handle);
        slot.clear();
        if (*handle).connected == 0 {
            return slot.code(code::SERVER_GONE) as libc::c_int;
        }
        if rows_owed(handle) {
            return slot.code(code::COMMANDS_OUT_OF_SYNC) as libc::c_int;
        }
        (*handle).affected_rows = 0;
        (*handle).pending_fields = 0;
        let sql: &[u8] = if query.is_null() {
            b""
        } else {
            std::slice::from_raw_parts(query.cast(), length as usize)
        };
        let server = server::of(handle);
        let outcome = match (*server).conn.query_bytes(sql) {
            Ok(outcome) => outcome,
            Err(e) => return slot.error(&e) as libc::c_int,
        };
        (*handle).queries += 1;
        (*handle).affected_rows = outcome.affected_rows;
        // Only a SELECT has columns.
        if !outcome.fields.is_empty() {
            (*handle).has_pending = 1;
            (*handle).pending_count = outcome.rows.len() as u64;
            (*handle).pending_fields = outcome.fields.len() as libc::c_uint;
            for (i, field) in outcome.fields.iter().enumerate() {
                (*handle).pending_columns[i] = column_index(&field.name);
            }
            (*server).pending = Some(outcome);
        }
    }
    0
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_store_result(handle: *mut LC) -> *mut LC_RES {
    if handle.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live handle; owed rows imply a connected one. The outcome
    // is moved out of the server first, so nothing the callback reaches
    // is borrowed while it runs.
    unsafe {
        let slot = slot(handle);
        slot.clear();
        let server = server::of(handle);
        if !server.is_null() && (*server).storing {
            slot.code(code::COMMANDS_OUT_OF_SYNC);
            return ptr::null_mut();
        }
        if (*handle).has_pending == 0 {
            return ptr::null_mut();
        }
        let outcome = (*server).pending.take().unwrap_or_default();
        // has_pending stays set while building: a callback cannot run a statement.
        (*server).storing = true;
        let built = result::build(handle, &outcome, true);
        (*server).storing = false;
        drop_pending(handle);
        match built {
            Ok(res) => res.as_ptr(),
            Err(code) => {
                slot.code(code);
                ptr::null_mut()
            }
        }
    }
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_field_count(handle: *const LC) -> libc::c_uint {
    if handle.is_null() {
        return 0;
    }
    // SAFETY: a live handle.
    unsafe { (*handle).pending_fields }
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_affected_rows(handle: *const LC) -> u64 {
    if handle.is_null() {
        return 0;
    }
    // SAFETY: a live handle.
    unsafe { (*handle).affected_rows }
}

/// # Safety
/// `to` must be NULL or hold `2 * length + 1` bytes; `from` NULL or hold
/// `length` bytes. The handle is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_real_escape_string(
    handle: *mut LC,
    to: *mut libc::c_char,
    from: *const libc::c_char,
    length: libc::c_ulong,
) -> libc::c_ulong {
    let _ = handle;
    if to.is_null() {
        return 0;
    }
    let input: &[u8] = if from.is_null() {
        b""
    } else {
        // SAFETY: `from` holds `length` bytes per the caller.
        unsafe { std::slice::from_raw_parts(from.cast(), length as usize) }
    };
    let escaped = escape(input);
    // SAFETY: escaping at most doubles the input, so `to` holds the output
    // and its NUL per the caller; `escaped` is a fresh Vec.
    unsafe {
        ptr::copy_nonoverlapping(escaped.as_ptr(), to.cast(), escaped.len());
        to.add(escaped.len()).write(0);
    }
    escaped.len() as libc::c_ulong
}

/// # Safety
/// `handle` must be NULL or live. The string is the caller's, for `lc_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stat(handle: *mut LC) -> *mut libc::c_char {
    if handle.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live handle; connected before the server is read; the
    // string block holds the text and its NUL.
    unsafe {
        let slot = slot(handle);
        slot.clear();
        if (*handle).connected == 0 {
            slot.code(code::SERVER_GONE);
            return ptr::null_mut();
        }
        let text = (*server::of(handle)).conn.stat_line();
        let s = lab_malloc(text.len() + 1).cast::<u8>();
        if s.is_null() {
            slot.code(code::OUT_OF_MEMORY);
            return ptr::null_mut();
        }
        ptr::copy_nonoverlapping(text.as_ptr(), s, text.len());
        s.add(text.len()).write(0);
        s.cast()
    }
}

/// # Safety
/// `ptr` must be NULL or a string from `lc_stat` / `lc_stmt_expanded_sql`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_free(ptr: *mut libc::c_void) {
    // SAFETY: a model block, per the caller.
    unsafe { lab_free(ptr) }
}

/// # Safety
/// `handle` must be NULL or live; `user_data` is kept, never freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_set_row_callback(
    handle: *mut LC,
    callback: lc_row_callback,
    user_data: *mut libc::c_void,
) {
    if handle.is_null() {
        return;
    }
    // SAFETY: a live handle.
    unsafe {
        (*handle).row_callback = callback;
        (*handle).row_callback_data = if callback.is_some() {
            user_data
        } else {
            ptr::null_mut()
        };
    }
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_set_compat_float_leak(handle: *mut LC, on: libc::c_int) {
    if !handle.is_null() {
        // SAFETY: a live handle.
        unsafe { (*handle).compat_float_leak = libc::c_int::from(on != 0) };
    }
}
