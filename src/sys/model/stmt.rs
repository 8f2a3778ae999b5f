//! Prepared statements (stmt.c). `LC_STMT` is opaque to callers, so the
//! model's statement is its own Rust struct, in one block of the model's
//! allocator as C's is; the query copy and text parameters are model blocks
//! too, so a statement's C-side footprint is the C library's.

use std::ptr::{self, NonNull};

use super::errors::{OK, Slot};
use super::handle::{self, rows_owed};
use super::result;
use super::server::{self};
use crate::api::{MAX_QUERY_LEN, Outcome, Param, code};
use crate::sql::{Statement, parse};
use crate::sys::{LC, LC_ERRMSG_SIZE, LC_RES, LC_STMT};
use leaklab::heap::modelled::{alloc_value, free_value, lab_free, lab_malloc, lab_strndup};

/// One parameter slot.
enum Bound {
    Unbound,
    Int(i64),
    Double(f64),
    /// A `lab_strndup` copy of `len` bytes (plus NUL).
    Text(*mut libc::c_char, usize),
}

struct Stmt {
    handle: *mut LC,
    last_errno: libc::c_uint,
    last_error: [libc::c_char; LC_ERRMSG_SIZE as usize],
    /// The owned query copy (a model block), while prepared.
    query: *mut libc::c_char,
    prepared: Option<Statement>,
    params: Vec<Bound>,
    /// An executed SELECT whose rows are not stored yet.
    pending: Option<Outcome>,
    affected_rows: u64,
}

fn model(stmt: *const LC_STMT) -> *mut Stmt {
    stmt.cast_mut().cast()
}

/// # Safety
/// `s` must be a live statement.
unsafe fn slot(s: *mut Stmt) -> Slot {
    Slot {
        // SAFETY: places inside the live statement; no reference is made.
        errno: unsafe { &raw mut (*s).last_errno },
        // SAFETY: as above.
        message: unsafe { &raw mut (*s).last_error },
    }
}

/// Forgets owed rows, releasing the server's count of owing statements.
///
/// # Safety
/// `s` must be a live statement.
unsafe fn drop_pending(s: *mut Stmt) {
    // SAFETY: a live statement; owed rows imply a connected handle.
    unsafe {
        if (*s).pending.take().is_some() {
            (*server::of((*s).handle)).pending_statements -= 1;
        }
    }
}

/// Drops the parse, the query copy, the bindings and owed rows.
///
/// # Safety
/// `s` must be a live statement.
unsafe fn unprepare(s: *mut Stmt) {
    // SAFETY: a live statement; every freed pointer is a model block it owns.
    unsafe {
        drop_pending(s);
        (*s).prepared = None;
        lab_free((*s).query.cast());
        (*s).query = ptr::null_mut();
        for bound in std::mem::take(&mut (*s).params) {
            if let Bound::Text(text, _) = bound {
                lab_free(text.cast());
            }
        }
        (*s).affected_rows = 0;
    }
}

/// The values to run with; `None` for an unbound slot.
///
/// # Safety
/// `s` must be a live statement.
unsafe fn values(s: *const Stmt) -> Vec<Option<Param>> {
    // SAFETY: a live statement; text slots hold `len` readable bytes.
    unsafe {
        (*s).params
            .iter()
            .map(|bound| match *bound {
                Bound::Unbound => None,
                Bound::Int(v) => Some(Param::Int(v)),
                Bound::Double(v) => Some(Param::Double(v)),
                Bound::Text(text, len) => Some(Param::Text(
                    std::slice::from_raw_parts(text.cast::<u8>(), len).to_vec(),
                )),
            })
            .collect()
    }
}

/// # Safety
/// `handle` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_init(handle: *mut LC) -> *mut LC_STMT {
    if handle.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live handle.
    unsafe {
        let slot = handle::slot(handle);
        slot.clear();
        let Some(s) = alloc_value(Stmt {
            handle,
            last_errno: OK,
            last_error: [0; LC_ERRMSG_SIZE as usize],
            query: ptr::null_mut(),
            prepared: None,
            params: Vec::new(),
            pending: None,
            affected_rows: 0,
        }) else {
            slot.code(code::OUT_OF_MEMORY);
            return ptr::null_mut();
        };
        (*handle).open_statements += 1;
        s.as_ptr().cast()
    }
}

/// # Safety
/// `stmt` must be NULL or live; `query` NULL or valid for `length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_prepare(
    stmt: *mut LC_STMT,
    query: *const libc::c_char,
    length: libc::c_ulong,
) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return code::NO_PREPARED_STMT as libc::c_int;
    }
    // SAFETY: a live statement of a live handle; `query` holds `length`
    // bytes per the caller, copied before use.
    unsafe {
        let slot = slot(s);
        slot.clear();
        unprepare(s);
        if (*(*s).handle).connected == 0 {
            return slot.code(code::SERVER_GONE) as libc::c_int;
        }
        let (query, length) = if query.is_null() {
            (c"".as_ptr(), 0)
        } else {
            (query, length as usize)
        };
        if length > MAX_QUERY_LEN {
            let text = format!("Query is longer than {MAX_QUERY_LEN} bytes");
            slot.set(code::NET_PACKET_TOO_LARGE, text.as_bytes());
            return code::NET_PACKET_TOO_LARGE as libc::c_int;
        }
        let copy = lab_strndup(query, length);
        if copy.is_null() {
            return slot.code(code::OUT_OF_MEMORY) as libc::c_int;
        }
        (*s).query = copy;
        let sql = std::slice::from_raw_parts(copy.cast::<u8>(), length);
        match parse(sql, true) {
            Ok(statement) => {
                (*s).params = (0..statement.param_count())
                    .map(|_| Bound::Unbound)
                    .collect();
                (*s).prepared = Some(statement);
                0
            }
            Err(e) => {
                let rc = slot.error(&e);
                unprepare(s);
                rc as libc::c_int
            }
        }
    }
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_param_count(stmt: *const LC_STMT) -> libc::c_ulong {
    let s = model(stmt);
    if s.is_null() {
        return 0;
    }
    // SAFETY: a live statement.
    unsafe { (*s).params.len() as libc::c_ulong }
}

/// Checks the statement and index, then stores `value` (freeing an old text).
///
/// # Safety
/// `s` must be a live statement; a `Bound::Text` must be a model block.
unsafe fn bind(s: *mut Stmt, index: libc::c_uint, make: impl FnOnce() -> Option<Bound>) -> u32 {
    // SAFETY: a live statement; the replaced text is a model block it owns.
    unsafe {
        let slot = slot(s);
        slot.clear();
        if (*s).prepared.is_none() {
            return slot.code(code::NO_PREPARED_STMT);
        }
        let params = &mut (*s).params;
        let Some(target) = params.get_mut(index as usize) else {
            return slot.code(code::INVALID_PARAMETER_NO);
        };
        let Some(value) = make() else {
            // Out of memory copying text: the old binding stays.
            return slot.code(code::OUT_OF_MEMORY);
        };
        if let Bound::Text(old, _) = std::mem::replace(target, value) {
            lab_free(old.cast());
        }
        0
    }
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_bind_int(
    stmt: *mut LC_STMT,
    index: libc::c_uint,
    value: libc::c_longlong,
) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return code::NO_PREPARED_STMT as libc::c_int;
    }
    // SAFETY: a live statement.
    unsafe { bind(s, index, || Some(Bound::Int(value))) as libc::c_int }
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_bind_double(
    stmt: *mut LC_STMT,
    index: libc::c_uint,
    value: f64,
) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return code::NO_PREPARED_STMT as libc::c_int;
    }
    // SAFETY: a live statement.
    unsafe { bind(s, index, || Some(Bound::Double(value))) as libc::c_int }
}

/// # Safety
/// `stmt` must be NULL or live; `value` NULL or valid for `length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_bind_text(
    stmt: *mut LC_STMT,
    index: libc::c_uint,
    value: *const libc::c_char,
    length: libc::c_ulong,
) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return code::NO_PREPARED_STMT as libc::c_int;
    }
    let (value, length) = if value.is_null() {
        (c"".as_ptr(), 0)
    } else {
        (value, length as usize)
    };
    // SAFETY: a live statement; `value` holds `length` bytes per the
    // caller, copied into a model block only after the checks pass.
    unsafe {
        bind(s, index, || {
            let copy = lab_strndup(value, length);
            (!copy.is_null()).then_some(Bound::Text(copy, length))
        }) as libc::c_int
    }
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_execute(stmt: *mut LC_STMT) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return code::NO_PREPARED_STMT as libc::c_int;
    }
    // SAFETY: a live statement of a live handle, connected before the
    // server is touched; the parse and the server are distinct blocks.
    unsafe {
        let slot = slot(s);
        slot.clear();
        let h = (*s).handle;
        let Some(statement) = (*s).prepared.as_ref() else {
            return slot.code(code::NO_PREPARED_STMT) as libc::c_int;
        };
        if (*h).connected == 0 {
            return slot.code(code::SERVER_GONE) as libc::c_int;
        }
        if rows_owed(h) {
            return slot.code(code::COMMANDS_OUT_OF_SYNC) as libc::c_int;
        }
        (*s).affected_rows = 0;
        let params = values(s);
        if params.iter().any(Option::is_none) {
            return slot.code(code::PARAMS_NOT_BOUND) as libc::c_int;
        }
        let server = server::of(h);
        let outcome = match (*server).conn.run(statement, &params) {
            Ok(outcome) => outcome,
            Err(e) => return slot.error(&e) as libc::c_int,
        };
        (*h).queries += 1;
        (*s).affected_rows = outcome.affected_rows;
        if !statement.fields().is_empty() {
            (*s).pending = Some(outcome);
            (*server).pending_statements += 1;
        }
    }
    0
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_affected_rows(stmt: *const LC_STMT) -> u64 {
    let s = model(stmt);
    if s.is_null() {
        return 0;
    }
    // SAFETY: a live statement.
    unsafe { (*s).affected_rows }
}

/// # Safety
/// `stmt` must be NULL or live. The result is the caller's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_result_metadata(stmt: *mut LC_STMT) -> *mut LC_RES {
    let s = model(stmt);
    if s.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live statement; prepared implies a connected handle.
    unsafe {
        let slot = slot(s);
        slot.clear();
        let Some(statement) = (*s).prepared.as_ref() else {
            slot.code(code::NO_PREPARED_STMT);
            return ptr::null_mut();
        };
        let fields = statement.fields();
        if fields.is_empty() {
            return ptr::null_mut();
        }
        let res = result::metadata(server::of((*s).handle), &fields);
        if res.is_null() {
            slot.code(code::OUT_OF_MEMORY);
        }
        res
    }
}

/// # Safety
/// `stmt` must be NULL or live. The result is the caller's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_store_result(stmt: *mut LC_STMT) -> *mut LC_RES {
    let s = model(stmt);
    if s.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live statement; owed rows imply a connected handle. No row
    // callback runs here, but the outcome is moved out all the same.
    unsafe {
        let slot = slot(s);
        slot.clear();
        if (*s).prepared.is_none() {
            slot.code(code::NO_PREPARED_STMT);
            return ptr::null_mut();
        }
        let Some(outcome) = (*s).pending.take() else {
            return ptr::null_mut();
        };
        (*server::of((*s).handle)).pending_statements -= 1;
        match result::build((*s).handle, &outcome, false) {
            Ok(res) => res.as_ptr(),
            Err(code) => {
                slot.code(code);
                ptr::null_mut()
            }
        }
    }
}

/// # Safety
/// `stmt` must be NULL or live. The string is the caller's, for `lc_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_expanded_sql(stmt: *mut LC_STMT) -> *mut libc::c_char {
    let s = model(stmt);
    if s.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a live statement; the block holds the text and its NUL.
    unsafe {
        let slot = slot(s);
        slot.clear();
        let Some(statement) = (*s).prepared.as_ref() else {
            slot.code(code::NO_PREPARED_STMT);
            return ptr::null_mut();
        };
        let text = statement.expanded_sql(&values(s));
        let Some(sql) = NonNull::new(lab_malloc(text.len() + 1).cast::<u8>()) else {
            slot.code(code::OUT_OF_MEMORY);
            return ptr::null_mut();
        };
        let sql = sql.as_ptr();
        ptr::copy_nonoverlapping(text.as_ptr(), sql, text.len());
        sql.add(text.len()).write(0);
        sql.cast()
    }
}

/// # Safety
/// `stmt` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_errno(stmt: *const LC_STMT) -> libc::c_uint {
    let s = model(stmt);
    if s.is_null() {
        return 0;
    }
    // SAFETY: a live statement.
    unsafe { (*s).last_errno }
}

/// # Safety
/// `stmt` must be NULL or live; the string lives in the statement.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_error(stmt: *const LC_STMT) -> *const libc::c_char {
    let s = model(stmt);
    if s.is_null() {
        return c"".as_ptr();
    }
    // SAFETY: a place in the live statement; no reference is made.
    unsafe { (&raw const (*s).last_error).cast() }
}

/// # Safety
/// `stmt` must be NULL or live; it is freed and must not be used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_stmt_close(stmt: *mut LC_STMT) -> libc::c_int {
    let s = model(stmt);
    if s.is_null() {
        return 0;
    }
    // SAFETY: a live statement of a live handle; freed once.
    unsafe {
        unprepare(s);
        (*(*s).handle).open_statements -= 1;
        free_value(s);
    }
    0
}
