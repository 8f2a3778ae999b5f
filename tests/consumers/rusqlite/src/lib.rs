//! A user's code over rusqlite: the SQL text a statement runs, read
//! through rusqlite's raw FFI (`rusqlite::ffi`, libsqlite3-sys) as a
//! tracing layer would log it, in a leaky and a fixed version.
//!
//! ```
//! let conn = rusqlite::Connection::open_in_memory().unwrap();
//! assert_eq!(with_rusqlite::fixed::expanded_sql(&conn, "SELECT 1"), "SELECT 1");
//! ```

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use rusqlite::{Connection, ffi};

/// Prepares `sql` on `conn` with the raw API, passes the statement to `f`,
/// and finalizes it.
fn with_raw_statement<R>(
    conn: &Connection,
    sql: &str,
    f: impl FnOnce(*mut ffi::sqlite3_stmt) -> R,
) -> R {
    let sql = CString::new(sql).expect("SQL without NUL bytes");
    let mut stmt = ptr::null_mut();
    // SAFETY: `conn.handle()` is the live connection `conn` owns, used on
    // this thread only while `conn` is borrowed; `sql` is NUL-terminated
    // (-1: read to the NUL); `stmt` is a valid out-pointer.
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(conn.handle(), sql.as_ptr(), -1, &mut stmt, ptr::null_mut())
    };
    assert_eq!(rc, ffi::SQLITE_OK, "prepare failed");
    let out = f(stmt);
    // SAFETY: `stmt` was prepared above and is finalized once.
    unsafe { ffi::sqlite3_finalize(stmt) };
    out
}

/// The statement's SQL with its parameters expanded, as SQLite returns it:
/// a string SQLite allocated, which the caller must `sqlite3_free`.
fn raw_expanded_sql(stmt: *mut ffi::sqlite3_stmt) -> *mut c_char {
    // SAFETY: `stmt` is a live prepared statement.
    let text = unsafe { ffi::sqlite3_expanded_sql(stmt) };
    assert!(!text.is_null(), "sqlite3_expanded_sql failed");
    text
}

/// A copy of the NUL-terminated string at `text`.
fn copy(text: *const c_char) -> String {
    // SAFETY: `text` is a live NUL-terminated string SQLite returned.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// The binding as first written: it forgets `sqlite3_free`.
pub mod leaky {
    use rusqlite::Connection;

    /// `sql` prepared on `conn` and expanded by `sqlite3_expanded_sql`;
    /// SQLite's copy of the text is never freed.
    ///
    /// ```
    /// let conn = rusqlite::Connection::open_in_memory().unwrap();
    /// assert_eq!(with_rusqlite::leaky::expanded_sql(&conn, "SELECT 1"), "SELECT 1");
    /// ```
    pub fn expanded_sql(conn: &Connection, sql: &str) -> String {
        super::with_raw_statement(conn, sql, |stmt| super::copy(super::raw_expanded_sql(stmt)))
    }
}

/// The same, each SQLite allocation freed.
pub mod fixed {
    use rusqlite::{Connection, ffi};

    /// As `leaky::expanded_sql`, SQLite's copy freed with `sqlite3_free`.
    ///
    /// ```
    /// let conn = rusqlite::Connection::open_in_memory().unwrap();
    /// assert_eq!(with_rusqlite::fixed::expanded_sql(&conn, "SELECT 2"), "SELECT 2");
    /// ```
    pub fn expanded_sql(conn: &Connection, sql: &str) -> String {
        super::with_raw_statement(conn, sql, |stmt| {
            let text = super::raw_expanded_sql(stmt);
            let copy = super::copy(text);
            // SAFETY: `text` came from sqlite3_expanded_sql and is freed once.
            unsafe { ffi::sqlite3_free(text.cast()) };
            copy
        })
    }
}
