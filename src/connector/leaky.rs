//! The leaky binding: thin unsafe wrappers over the same C API as `safe/`,
//! each making one mistake that a real Rust binding shipped. Every function
//! says which mistake it makes and which bug it mirrors; the safe binding's
//! counterpart is named beside it. Everything that is not the mistake is
//! done correctly, so each scenario leaks exactly one thing.

use std::ffi::{CStr, CString};

use crate::connector::safe::ConnectOptions;
use crate::connector::types::{Error, code};
use crate::sys;

/// A connection handle with a correct `Drop`: the mistakes are elsewhere.
pub struct LeakyConnection {
    handle: *mut sys::LC,
}

impl Drop for LeakyConnection {
    fn drop(&mut self) {
        // SAFETY: the handle is live and closed once.
        unsafe { sys::lc_close(self.handle) };
    }
}

/// The handle's error, copied (this part is right).
///
/// # Safety
/// `handle` must be a live handle.
unsafe fn handle_error(handle: *const sys::LC) -> Error {
    // SAFETY: live handle per the caller; the message is copied at once.
    unsafe {
        Error::Connector {
            code: sys::lc_errno(handle),
            message: CStr::from_ptr(sys::lc_error(handle))
                .to_string_lossy()
                .into_owned(),
        }
    }
}

/// Copies every value of `row` into Strings.
///
/// # Safety
/// `result` must be a live result whose current row is `row`.
unsafe fn copy_row(result: *mut sys::LC_RES, row: sys::LC_ROW) -> Vec<String> {
    // SAFETY: per the caller, `row` and its lengths hold num_fields entries.
    unsafe {
        let count = sys::lc_num_fields(result) as usize;
        let lengths = sys::lc_fetch_lengths(result);
        (0..count)
            .map(|i| {
                let value = std::slice::from_raw_parts(
                    (*row.add(i)).cast::<u8>(),
                    *lengths.add(i) as usize,
                );
                String::from_utf8_lossy(value).into_owned()
            })
            .collect()
    }
}

impl LeakyConnection {
    /// MISTAKE (failed connect without close): when `lc_real_connect` fails
    /// the handle from `lc_init` is dropped on the floor; the C API says the
    /// caller must still close it (mysqlclient PR #350).
    /// Safe counterpart: `Connection::connect` owns the handle before
    /// connecting, so the error path closes it.
    pub fn connect(options: &ConnectOptions) -> Result<LeakyConnection, Error> {
        let host = CString::new(options.host.as_str()).expect("host");
        let user = CString::new(options.user.as_str()).expect("user");
        let password = CString::new(options.password.as_str()).expect("password");
        let database = CString::new(options.database.as_str()).expect("database");
        // SAFETY: no arguments; NULL is out of memory.
        let handle = unsafe { sys::lc_init() };
        if handle.is_null() {
            return Err(Error::Connector {
                code: code::OUT_OF_MEMORY,
                message: "Client ran out of memory".into(),
            });
        }
        // SAFETY: live handle; the strings outlive the call.
        let connected = unsafe {
            sys::lc_real_connect(
                handle,
                host.as_ptr(),
                user.as_ptr(),
                password.as_ptr(),
                database.as_ptr(),
                options.port,
            )
        };
        if connected.is_null() {
            // SAFETY: live handle. The handle itself is never closed.
            return Err(unsafe { handle_error(handle) });
        }
        Ok(LeakyConnection { handle })
    }

    /// Runs `sql` and stores its result (both done right).
    fn store(&mut self, sql: &str) -> Result<*mut sys::LC_RES, Error> {
        let sql = CString::new(sql).map_err(|e| Error::InteriorNul {
            position: e.nul_position(),
        })?;
        // SAFETY: live handle; the query outlives the call.
        unsafe {
            if sys::lc_query(self.handle, sql.as_ptr()) != 0 {
                return Err(handle_error(self.handle));
            }
            let result = sys::lc_store_result(self.handle);
            if result.is_null() {
                return Err(handle_error(self.handle));
            }
            Ok(result)
        }
    }

    /// MISTAKE (result never freed): rows are copied out and the `LC_RES`
    /// is forgotten, as a binding without a Drop on its result type does
    /// (rust-openssl #1475: a type with no Drop at all).
    /// Safe counterpart: `QueryResult` frees itself in Drop.
    pub fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        let result = self.store(sql)?;
        let mut rows = Vec::new();
        // SAFETY: live result; each row is copied before the next fetch.
        unsafe {
            loop {
                let row = sys::lc_fetch_row(result);
                if row.is_null() {
                    break;
                }
                rows.push(copy_row(result, row));
            }
        }
        // Missing: sys::lc_free_result(result);
        Ok(rows)
    }

    /// MISTAKE (library string copied, never released): `lc_stat` returns a
    /// string the caller must `lc_free`; it is copied into a `String` and
    /// the original is lost (rusqlite #552 did this with
    /// `sqlite3_expanded_sql`).
    /// Safe counterpart: `Connection::stat` holds it in `LcString`.
    pub fn stat(&mut self) -> Result<String, Error> {
        // SAFETY: live handle.
        let raw = unsafe { sys::lc_stat(self.handle) };
        if raw.is_null() {
            // SAFETY: live handle.
            return Err(unsafe { handle_error(self.handle) });
        }
        // SAFETY: non-null, NUL-terminated, ours.
        let text = unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned();
        // Missing: sys::lc_free(raw.cast());
        Ok(text)
    }

    /// MISTAKE (early return with `?` between allocation and free): a value
    /// that does not parse returns from the middle of the loop, and the
    /// `lc_free_result` at the end never runs (git2's `try_call!` before
    /// `git_odb_free`).
    /// Safe counterpart: the same `?` through a `QueryResult` frees it.
    pub fn sum_column(&mut self, sql: &str, column: usize) -> Result<i64, Error> {
        let result = self.store(sql)?;
        let mut sum = 0i64;
        // SAFETY: live result; rows read before the next fetch.
        unsafe {
            loop {
                let row = sys::lc_fetch_row(result);
                if row.is_null() {
                    break;
                }
                let values = copy_row(result, row);
                let value = values.get(column).ok_or(Error::ColumnOutOfRange {
                    index: column,
                    count: values.len(),
                })?;
                sum += parse_i64(value)?;
            }
            sys::lc_free_result(result);
        }
        Ok(sum)
    }

    /// MISTAKE (panic between allocation and free): `expect` on a value that
    /// does not parse unwinds past the `lc_free_result`.
    /// Safe counterpart: unwinding drops the `QueryResult`, which frees it.
    pub fn first_as_i64(&mut self, sql: &str) -> i64 {
        let result = self.store(sql).expect("query");
        // SAFETY: live result; the row is read before the free.
        unsafe {
            let row = sys::lc_fetch_row(result);
            let values = if row.is_null() {
                Vec::new()
            } else {
                copy_row(result, row)
            };
            let first = values.first().map(String::as_str).unwrap_or("");
            let value = first.parse::<i64>().expect("first value is an integer");
            sys::lc_free_result(result);
            value
        }
    }

    /// MISTAKE (`CString::into_raw` never reclaimed): the query text is
    /// handed to C as a raw pointer and never taken back with
    /// `CString::from_raw` (git2 did this). C only reads it during the call.
    /// Safe counterpart: `Connection::query` keeps the `CString` on the stack.
    pub fn query_count(&mut self, sql: &str) -> Result<u64, Error> {
        let raw_sql = CString::new(sql)
            .map_err(|e| Error::InteriorNul {
                position: e.nul_position(),
            })?
            .into_raw();
        // SAFETY: live handle; raw_sql is a valid C string (never freed).
        unsafe {
            if sys::lc_query(self.handle, raw_sql) != 0 {
                return Err(handle_error(self.handle));
            }
            let result = sys::lc_store_result(self.handle);
            if result.is_null() {
                return Err(handle_error(self.handle));
            }
            let rows = sys::lc_num_rows(result);
            sys::lc_free_result(result);
            // Missing: drop(CString::from_raw(raw_sql));
            Ok(rows)
        }
    }

    /// MISTAKE (`Box::into_raw` user data never reclaimed): the closure is
    /// boxed into C's `user_data` and, when it is replaced or unregistered,
    /// the old box is never rebuilt with `Box::from_raw` and dropped
    /// (rusqlite's hooks; rust-openssl #2102). Also unsound: a panic in the
    /// closure unwinds into C (the trampoline aborts then, as Rust 1.81+
    /// does for `extern "C"`).
    /// Safe counterpart: `Connection::set_row_callback` keeps the box in
    /// the connection and drops it on replace, clear and close.
    pub fn set_row_callback<F>(&mut self, callback: F)
    where
        F: FnMut(&[&[u8]]) -> bool + 'static,
    {
        let boxed: Box<LeakyRowFn> = Box::new(callback);
        let user_data = Box::into_raw(Box::new(boxed));
        // SAFETY: live handle; user_data stays valid because it is never freed.
        unsafe { sys::lc_set_row_callback(self.handle, Some(leaky_trampoline), user_data.cast()) };
    }

    /// Unregisters the callback, forgetting its box (same mistake).
    pub fn clear_row_callback(&mut self) {
        // SAFETY: live handle; NULL unregisters.
        unsafe { sys::lc_set_row_callback(self.handle, None, std::ptr::null_mut()) };
    }

    /// Runs `sql` for its rows, calling the callback on each (done right).
    pub fn query_with_callback(&mut self, sql: &str) -> Result<u64, Error> {
        let result = self.store(sql)?;
        // SAFETY: live result, freed once.
        unsafe {
            let rows = sys::lc_num_rows(result);
            sys::lc_free_result(result);
            Ok(rows)
        }
    }

    /// MISTAKE (`mem::forget` of an owner): the result is wrapped in an owner
    /// with a correct Drop, then the owner is `mem::forget`-ten "to avoid a
    /// double free" once its raw pointer is handed on; nothing frees it
    /// (rust-openssl #836 forgot an object the C side had only copied).
    /// Safe counterpart: let the owner drop.
    pub fn count_rows(&mut self, sql: &str) -> Result<u64, Error> {
        let owner = ResultOwner(self.store(sql)?);
        let raw = owner.0;
        std::mem::forget(owner);
        // SAFETY: the result is still live (and now owned by nobody).
        Ok(unsafe { sys::lc_num_rows(raw) })
    }

    /// MISTAKE (prepared-statement metadata never freed): the column names
    /// are read from `lc_stmt_result_metadata`, a caller-owned result that
    /// is never passed to `lc_free_result` (the shape of
    /// mysql-connector-python's `MySQLPrepStmt_handle_result`, whose
    /// metadata result is not freed on its success path).
    /// Safe counterpart: `Statement::metadata` returns a `QueryResult`.
    pub fn prepared_columns(&mut self, sql: &str) -> Result<Vec<String>, Error> {
        // SAFETY: live handle; the statement is closed on every path below.
        unsafe {
            let stmt = sys::lc_stmt_init(self.handle);
            if stmt.is_null() {
                return Err(handle_error(self.handle));
            }
            if sys::lc_stmt_prepare(stmt, sql.as_ptr().cast(), sql.len() as libc::c_ulong) != 0 {
                sys::lc_stmt_close(stmt);
                return Err(handle_error(self.handle));
            }
            let meta = sys::lc_stmt_result_metadata(stmt);
            let mut names = Vec::new();
            if !meta.is_null() {
                for i in 0..sys::lc_num_fields(meta) {
                    let field = &*sys::lc_fetch_field_direct(meta, i);
                    let name = std::slice::from_raw_parts(
                        field.name.cast::<u8>(),
                        field.name_length as usize,
                    );
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
            }
            // Missing: sys::lc_free_result(meta);
            sys::lc_stmt_close(stmt);
            Ok(names)
        }
    }

    /// MISTAKE (escape buffer never released): the 2n+1-byte buffer for
    /// `lc_real_escape_string` is made from a `Vec` that is then
    /// `mem::forget`-ten after its pointer is taken, and the text is copied
    /// out (mysql-connector-python BUG#22825962: escape_string's temporary
    /// never released).
    /// Safe counterpart: `Connection::escape` keeps the `Vec` and truncates it.
    pub fn escape(&mut self, input: &[u8]) -> String {
        let mut buffer = vec![0u8; input.len() * 2 + 1];
        let out = buffer.as_mut_ptr();
        std::mem::forget(buffer);
        // SAFETY: `out` has 2n+1 bytes and is never freed, so it stays valid.
        unsafe {
            let written = sys::lc_real_escape_string(
                self.handle,
                out.cast(),
                input.as_ptr().cast(),
                input.len() as libc::c_ulong,
            );
            String::from_utf8_lossy(std::slice::from_raw_parts(out, written as usize)).into_owned()
        }
    }
}

type LeakyRowFn = dyn FnMut(&[&[u8]]) -> bool;

/// # Safety
/// `user_data` must be the `Box<Box<LeakyRowFn>>` registered above; `row`
/// and `lengths` hold `field_count` entries.
unsafe extern "C" fn leaky_trampoline(
    user_data: *mut libc::c_void,
    field_count: libc::c_uint,
    row: sys::LC_ROW,
    lengths: *const libc::c_ulong,
) -> libc::c_int {
    // SAFETY: per the contract above; C keeps the row alive for the call.
    unsafe {
        let callback = &mut *user_data.cast::<Box<LeakyRowFn>>();
        let values: Vec<&[u8]> = (0..field_count as usize)
            .map(|i| {
                std::slice::from_raw_parts((*row.add(i)).cast::<u8>(), *lengths.add(i) as usize)
            })
            .collect();
        if callback(&values) { 0 } else { 1 }
    }
}

/// A result owner whose Drop is right; `count_rows` forgets it.
struct ResultOwner(*mut sys::LC_RES);

impl Drop for ResultOwner {
    fn drop(&mut self) {
        // SAFETY: the owner holds a live, caller-owned result.
        unsafe { sys::lc_free_result(self.0) }
    }
}

fn parse_i64(value: &str) -> Result<i64, Error> {
    value.parse().map_err(|_| Error::Conversion {
        value: value.to_owned(),
        target: "i64",
    })
}
