//! `Statement`: owns one `sqlite3_stmt*` from sqlite3_prepare_v2 to
//! sqlite3_finalize, borrowing its database.

use std::ptr::{self, NonNull};

use super::database::Database;
use super::string::SqliteString;
use crate::sqlite::{Error, c_text, error};
use crate::sys::sqlite as sys;

const OK: libc::c_int = sys::SQLITE_OK as libc::c_int;
const ROW: libc::c_int = sys::SQLITE_ROW as libc::c_int;
const DONE: libc::c_int = sys::SQLITE_DONE as libc::c_int;

/// What one step gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A row is ready for the `column_*` readers.
    Row,
    /// The statement has run to completion.
    Done,
}

/// A compiled statement. Dropping it finalizes it.
pub struct Statement<'db> {
    stmt: NonNull<sys::sqlite3_stmt>,
    db: &'db Database,
}

impl<'db> Statement<'db> {
    pub(super) fn prepare(db: &'db Database, sql: &str) -> Result<Statement<'db>, Error> {
        let text = c_text(sql)?;
        let mut raw = ptr::null_mut();
        // SAFETY: live handle; `text` is NUL-terminated (-1: read to the
        // NUL) and outlives the call; `raw` is a valid out-pointer.
        let code = unsafe {
            sys::sqlite3_prepare_v2(db.raw(), text.as_ptr(), -1, &mut raw, ptr::null_mut())
        };
        if code != OK {
            // SAFETY: live handle; on error SQLite set `raw` to NULL.
            return Err(unsafe { error(db.raw(), code) });
        }
        // NULL with SQLITE_OK: the text held no statement.
        let stmt = NonNull::new(raw).ok_or(Error::EmptyStatement)?;
        Ok(Statement { stmt, db })
    }

    fn raw(&self) -> *mut sys::sqlite3_stmt {
        self.stmt.as_ptr()
    }

    /// Binds `value` to parameter `index` (1-based, as `?1`).
    pub fn bind_int64(&mut self, index: i32, value: i64) -> Result<(), Error> {
        // SAFETY: live statement; SQLite checks the index (SQLITE_RANGE).
        let code = unsafe { sys::sqlite3_bind_int64(self.raw(), index, value) };
        self.check(code)
    }

    /// Runs the statement to its next row, or to its end.
    pub fn step(&mut self) -> Result<Step, Error> {
        // SAFETY: live statement.
        match unsafe { sys::sqlite3_step(self.raw()) } {
            ROW => Ok(Step::Row),
            DONE => Ok(Step::Done),
            code => Err(self.check(code).expect_err("a failed step")),
        }
    }

    /// Columns of the statement's result.
    pub fn column_count(&self) -> usize {
        // SAFETY: live statement.
        unsafe { sys::sqlite3_column_count(self.raw()) as usize }
    }

    /// Column `index` of the current row as an integer (0 for NULL or out
    /// of range, as SQLite defines it).
    pub fn column_int64(&self, index: i32) -> i64 {
        // SAFETY: live statement; SQLite checks the index.
        unsafe { sys::sqlite3_column_int64(self.raw(), index) }
    }

    /// Column `index` of the current row as text, `None` for NULL.
    pub fn column_text(&self, index: i32) -> Option<String> {
        // SAFETY: live statement; SQLite checks the index. The text lives
        // until the next step or finalize, and is copied at once; its
        // length is read after the text, as SQLite requires.
        unsafe {
            let text = sys::sqlite3_column_text(self.raw(), index);
            if text.is_null() {
                return None;
            }
            let len = sys::sqlite3_column_bytes(self.raw(), index) as usize;
            let bytes = std::slice::from_raw_parts(text, len);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    /// The SQL text with the bound parameters written in, in a string
    /// SQLite allocates for us (freed with sqlite3_free when dropped).
    pub fn expanded_sql(&self) -> Result<SqliteString, Error> {
        // SAFETY: live statement; the result (or NULL) is ours to free.
        unsafe { SqliteString::from_raw(sys::sqlite3_expanded_sql(self.raw())) }.ok_or(
            Error::Sqlite {
                code: sys::SQLITE_NOMEM as i32,
                message: "sqlite3_expanded_sql returned NULL".into(),
            },
        )
    }

    /// The expanded SQL, copied.
    pub fn expanded_sql_string(&self) -> Result<String, Error> {
        Ok(self.expanded_sql()?.to_string_lossy())
    }

    fn check(&self, code: libc::c_int) -> Result<(), Error> {
        if code == OK {
            Ok(())
        } else {
            // SAFETY: the database outlives its statement.
            Err(unsafe { error(self.db.raw(), code) })
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: live statement, finalized once. Its return code repeats
        // the last step's error, already reported.
        unsafe { sys::sqlite3_finalize(self.raw()) };
    }
}
