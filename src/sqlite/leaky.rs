//! The leaky SQLite binding: thin unsafe wrappers over the same calls as
//! `safe.rs`, each making one mistake that real SQLite bindings shipped.
//! Everything that is not the mistake is done correctly, so each scenario
//! leaks exactly one thing; the safe counterpart is named beside each.

use std::ffi::CStr;
use std::ptr;

use crate::sqlite::{Error, c_text, error};
use crate::sys::sqlite as sys;

const OK: libc::c_int = sys::SQLITE_OK as libc::c_int;
const ROW: libc::c_int = sys::SQLITE_ROW as libc::c_int;

/// An in-memory database whose `Drop` calls sqlite3_close and ignores the
/// result code. That is harmless while no statement is left unfinalized;
/// `first_value_unfinalized` leaves one, and then it is the leak.
pub struct LeakyDatabase {
    db: *mut sys::sqlite3,
}

impl Drop for LeakyDatabase {
    fn drop(&mut self) {
        // SAFETY: live handle, passed to close once. MISTAKE (half of (b)):
        // SQLITE_BUSY is ignored, so a refused close loses the connection.
        // Safe counterpart: `Database::close` hands the database back on
        // SQLITE_BUSY, and a `Statement` borrows its database, so it cannot
        // outlive it unfinalized.
        unsafe { sys::sqlite3_close(self.db) };
    }
}

impl LeakyDatabase {
    /// Opens a private in-memory database (done right).
    pub fn open_in_memory() -> Result<LeakyDatabase, Error> {
        let name = c_text(crate::sqlite::MEMORY)?;
        let flags = (sys::SQLITE_OPEN_READWRITE | sys::SQLITE_OPEN_CREATE) as libc::c_int;
        let mut db = ptr::null_mut();
        // SAFETY: `name` outlives the call; `db` is a valid out-pointer.
        let code = unsafe { sys::sqlite3_open_v2(name.as_ptr(), &mut db, flags, ptr::null()) };
        let database = LeakyDatabase { db };
        if db.is_null() || code != OK {
            // SAFETY: a handle (closed by Drop) or NULL (SQLite's OOM text).
            return Err(unsafe { error(db, code) });
        }
        Ok(database)
    }

    /// MISTAKE (a): sqlite3_exec's error message is copied into the error
    /// and never passed to sqlite3_free, as a binding that treats it like
    /// sqlite3_errmsg's text, which SQLite owns.
    /// Safe counterpart: `Database::exec` wraps it in a `SqliteString`.
    pub fn exec(&mut self, sql: &str) -> Result<(), Error> {
        let sql = c_text(sql)?;
        let mut message: *mut libc::c_char = ptr::null_mut();
        // SAFETY: live handle; `sql` outlives the call; valid out-pointer.
        let code = unsafe {
            sys::sqlite3_exec(self.db, sql.as_ptr(), None, ptr::null_mut(), &mut message)
        };
        if code == OK {
            return Ok(());
        }
        if message.is_null() {
            // SAFETY: live handle.
            return Err(unsafe { error(self.db, code) });
        }
        // SAFETY: a NUL-terminated message from exec, copied here; the
        // pointer is then dropped without sqlite3_free.
        let text = unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned();
        Err(Error::Sqlite {
            code,
            message: text,
        })
    }

    /// Prepares `sql` (done right), or reports why it could not.
    fn prepare(&mut self, sql: &str) -> Result<*mut sys::sqlite3_stmt, Error> {
        let text = c_text(sql)?;
        let mut stmt = ptr::null_mut();
        // SAFETY: live handle; `text` outlives the call; valid out-pointer.
        let code = unsafe {
            sys::sqlite3_prepare_v2(self.db, text.as_ptr(), -1, &mut stmt, ptr::null_mut())
        };
        if code != OK {
            // SAFETY: live handle.
            return Err(unsafe { error(self.db, code) });
        }
        if stmt.is_null() {
            return Err(Error::EmptyStatement);
        }
        Ok(stmt)
    }

    /// Binds `params` to `?1`, `?2`, ... (done right).
    ///
    /// # Safety
    /// `stmt` must be a live statement of this database.
    unsafe fn bind(&mut self, stmt: *mut sys::sqlite3_stmt, params: &[i64]) -> Result<(), Error> {
        for (index, value) in (1..).zip(params) {
            // SAFETY: live statement per the caller; SQLite checks the index.
            let code = unsafe { sys::sqlite3_bind_int64(stmt, index, *value) };
            if code != OK {
                // SAFETY: live handle.
                return Err(unsafe { error(self.db, code) });
            }
        }
        Ok(())
    }

    /// MISTAKE (b): returns the first column of the first row of `sql`
    /// straight out of the step loop, never finalizing the statement, as a
    /// binding whose statement type has no Drop. The statement stays in the
    /// connection, so this database's close is refused (SQLITE_BUSY) and,
    /// ignored by Drop, loses the connection with it.
    /// Safe counterpart: `Statement` finalizes itself on Drop.
    pub fn first_value_unfinalized(&mut self, sql: &str) -> Result<i64, Error> {
        let stmt = self.prepare(sql)?;
        // SAFETY: a live statement of this database, never finalized.
        let code = unsafe { sys::sqlite3_step(stmt) };
        if code != ROW {
            // SAFETY: live handle.
            return Err(unsafe { error(self.db, code) });
        }
        // SAFETY: a live statement on a row; SQLite checks the index. The
        // pointer `stmt` is then dropped: the statement is never finalized.
        Ok(unsafe { sys::sqlite3_column_int64(stmt, 0) })
    }

    /// MISTAKE (c): the string sqlite3_expanded_sql allocates is copied and
    /// never passed to sqlite3_free (rusqlite #552). The statement itself
    /// is finalized correctly.
    /// Safe counterpart: `Statement::expanded_sql` returns a `SqliteString`.
    pub fn expanded_sql(&mut self, sql: &str, params: &[i64]) -> Result<String, Error> {
        let stmt = self.prepare(sql)?;
        // SAFETY: a live statement of this database.
        let expanded = unsafe { self.bind(stmt, params) }.map(|()| {
            // SAFETY: live statement; the string is copied, then forgotten.
            let raw = unsafe { sys::sqlite3_expanded_sql(stmt) };
            (!raw.is_null()).then(|| {
                // SAFETY: a non-NULL result is a NUL-terminated string.
                unsafe { CStr::from_ptr(raw) }
                    .to_string_lossy()
                    .into_owned()
            })
        });
        // SAFETY: live statement, finalized once (this part is right).
        unsafe { sys::sqlite3_finalize(stmt) };
        expanded?.ok_or(Error::Sqlite {
            code: sys::SQLITE_NOMEM as i32,
            message: "sqlite3_expanded_sql returned NULL".into(),
        })
    }
}
