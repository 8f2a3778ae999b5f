//! `Database`: owns one `sqlite3*` from sqlite3_open_v2 to its close.

use std::ptr::{self, NonNull};

use super::statement::Statement;
use super::string::SqliteString;
use crate::sqlite::{Error, c_text, error};
use crate::sys::sqlite as sys;

const OK: libc::c_int = sys::SQLITE_OK as libc::c_int;

/// An open connection. Dropping it closes it.
pub struct Database {
    db: NonNull<sys::sqlite3>,
}

impl Database {
    /// Opens (creating if need be) the database file `filename`, or a
    /// private in-memory one for [`crate::sqlite::MEMORY`]. SQLite hands
    /// out a handle even when opening fails; it is closed here then.
    pub fn open(filename: &str) -> Result<Database, Error> {
        let filename = c_text(filename)?;
        let flags = (sys::SQLITE_OPEN_READWRITE | sys::SQLITE_OPEN_CREATE) as libc::c_int;
        let mut raw = ptr::null_mut();
        // SAFETY: `filename` is NUL-terminated and outlives the call; `raw`
        // is a valid out-pointer; NULL selects the default VFS.
        let code = unsafe { sys::sqlite3_open_v2(filename.as_ptr(), &mut raw, flags, ptr::null()) };
        // NULL only if SQLite could not allocate the handle at all.
        let Some(db) = NonNull::new(raw) else {
            return Err(Error::Sqlite {
                code,
                message: "out of memory".into(),
            });
        };
        // Owned from here: the error path below closes the handle on Drop.
        let database = Database { db };
        if code != OK {
            // SAFETY: a live handle, whose message is copied before Drop.
            return Err(unsafe { error(database.raw(), code) });
        }
        Ok(database)
    }

    /// A private, in-memory database.
    pub fn open_in_memory() -> Result<Database, Error> {
        Database::open(crate::sqlite::MEMORY)
    }

    pub(crate) fn raw(&self) -> *mut sys::sqlite3 {
        self.db.as_ptr()
    }

    /// Runs `sql` (any number of statements, rows discarded). On failure
    /// the error message sqlite3_exec allocated is copied, then freed.
    pub fn exec(&self, sql: &str) -> Result<(), Error> {
        let sql = c_text(sql)?;
        let mut message = ptr::null_mut();
        // SAFETY: live handle; `sql` outlives the call; no callback; the
        // message out-pointer is valid.
        let code = unsafe {
            sys::sqlite3_exec(
                self.raw(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                &mut message,
            )
        };
        // SAFETY: exec's message (or NULL) is ours to sqlite3_free.
        let message = unsafe { SqliteString::from_raw(message) };
        if code == OK {
            return Ok(());
        }
        Err(match message {
            Some(message) => Error::Sqlite {
                code,
                message: message.to_string_lossy(),
            },
            // SAFETY: live handle.
            None => unsafe { error(self.raw(), code) },
        })
    }

    /// Compiles the first statement of `sql`. The statement borrows the
    /// database, which cannot be closed while the statement lives.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>, Error> {
        Statement::prepare(self, sql)
    }

    /// Closes with sqlite3_close. SQLITE_BUSY (a statement was leaked with
    /// `mem::forget`, so it is still unfinalized) comes back as an error
    /// with the database, still open.
    pub fn close(self) -> Result<(), (Database, Error)> {
        // SAFETY: live handle; on success it is gone, so `self` is
        // forgotten instead of dropped.
        let code = unsafe { sys::sqlite3_close(self.raw()) };
        if code == OK {
            std::mem::forget(self);
            return Ok(());
        }
        // SAFETY: still a live handle: sqlite3_close refused to close it.
        let error = unsafe { error(self.raw(), code) };
        Err((self, error))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: live handle, closed once. sqlite3_close_v2 cannot fail:
        // with a statement still unfinalized (only a forgotten one can be)
        // the connection is freed when that statement is finalized.
        unsafe { sys::sqlite3_close_v2(self.raw()) };
    }
}
