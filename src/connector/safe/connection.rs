//! `Connection`: owns one `LC` handle from `lc_init` to `lc_close`.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::callback::{CallbackRow, CallbackSlot, SlotOwner};
use super::error::{from_handle, query_cstring};
use super::result::QueryResult;
use super::statement::Statement;
use super::string::CString as LcString;
use crate::connector::types::{Backend, Error, Outcome, Param};
use crate::sys;

/// Where and how to connect. The defaults reach the in-memory server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    pub host: String,
    pub user: String,
    pub password: String,
    pub database: String,
    pub port: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: "localhost".into(),
            user: "lab".into(),
            password: "lab".into(),
            database: "shop".into(),
            port: 3306,
        }
    }
}

/// A connected handle. Dropping it closes it.
pub struct Connection {
    handle: NonNull<sys::LC>,
    /// The row callback's user data: owned here, because C never frees it.
    callback: Option<SlotOwner>,
    /// Not `Sync`: every C call, even `lc_error`, reads or writes the handle.
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the handle holds no thread-local state and the library keeps no
// global state besides its atomic allocation counters, so the handle may
// move to another thread; the callback slot is `Send` (its closure must be).
unsafe impl Send for Connection {}

impl Connection {
    /// Allocates a handle and connects it. On failure the handle is closed
    /// here: `lc_real_connect` does not free it (the leak of mysqlclient PR #350).
    pub fn connect(options: &ConnectOptions) -> Result<Connection, Error> {
        let host = query_cstring(&options.host)?;
        let user = query_cstring(&options.user)?;
        let password = query_cstring(&options.password)?;
        let database = query_cstring(&options.database)?;

        // SAFETY: lc_init takes no arguments; NULL means out of memory.
        let raw = unsafe { sys::lc_init() };
        // ok_or_else: the message is built only on failure, not on every connect.
        let handle = NonNull::new(raw).ok_or_else(|| Error::Connector {
            code: crate::connector::types::code::OUT_OF_MEMORY,
            message: "Client ran out of memory".into(),
        })?;
        // Owned from here on: any early return below closes the handle.
        let connection = Connection {
            handle,
            callback: None,
            _not_sync: PhantomData,
        };
        // SAFETY: live handle; the strings outlive the call and C copies
        // what it keeps.
        let connected = unsafe {
            sys::lc_real_connect(
                connection.raw(),
                host.as_ptr(),
                user.as_ptr(),
                password.as_ptr(),
                database.as_ptr(),
                options.port,
            )
        };
        if connected.is_null() {
            // SAFETY: live handle.
            return Err(unsafe { from_handle(connection.raw()) });
        }
        Ok(connection)
    }

    /// Connects with the default options.
    pub fn open_default() -> Result<Connection, Error> {
        Connection::connect(&ConnectOptions::default())
    }

    pub(crate) fn raw(&self) -> *mut sys::LC {
        self.handle.as_ptr()
    }

    /// The handle's current error (after a failed call).
    pub(crate) fn last_error(&self) -> Error {
        // SAFETY: the handle is live for as long as `self`.
        unsafe { from_handle(self.raw()) }
    }

    /// Runs one statement. A SELECT gives its rows as a `QueryResult` that
    /// must be gone before the connection is; others give `None`.
    pub fn query(&mut self, sql: &str) -> Result<Option<QueryResult<'_>>, Error> {
        let sql = query_cstring(sql)?;
        // SAFETY: live handle; `sql` is NUL-terminated and outlives the call.
        if unsafe { sys::lc_query(self.raw(), sql.as_ptr()) } != 0 {
            return Err(self.last_error());
        }
        self.store_result()
    }

    /// Stores the rows of the last SELECT, calling the row callback (if any)
    /// once per row; a panic in it comes back as `Error::CallbackPanicked`.
    fn store_result(&mut self) -> Result<Option<QueryResult<'_>>, Error> {
        // SAFETY: live handle.
        let result = unsafe { sys::lc_store_result(self.raw()) };
        if let Some(panic) = self.callback.as_mut().and_then(|slot| slot.take_panic()) {
            // SAFETY: a non-null result is ours to free; C stopped at the abort.
            drop(unsafe { QueryResult::from_raw(result, 0) });
            return Err(panic);
        }
        if result.is_null() {
            // SAFETY: live handle.
            if unsafe { sys::lc_errno(self.raw()) } != 0 {
                return Err(self.last_error());
            }
            return Ok(None);
        }
        let affected_rows = self.affected_rows();
        // SAFETY: a caller-owned result of this handle, tied to `&mut self`.
        Ok(unsafe { QueryResult::from_raw(result, affected_rows) })
    }

    /// Rows affected by the last statement.
    pub fn affected_rows(&self) -> u64 {
        // SAFETY: live handle; reads one field.
        unsafe { sys::lc_affected_rows(self.raw()) }
    }

    /// Prepares a statement; it borrows the connection, which cannot close
    /// while the statement is open.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement<'_>, Error> {
        Statement::prepare(self, sql)
    }

    /// The server status line, from a string C allocates for us to free.
    pub fn stat(&mut self) -> Result<String, Error> {
        // SAFETY: live handle; the returned string is ours, owned by LcString.
        let text = unsafe { LcString::from_raw(sys::lc_stat(self.raw()), "lc_stat") }
            .map_err(|_| self.last_error())?;
        Ok(text.to_str()?.to_owned())
    }

    /// Escapes `input` for a text literal into a buffer of 2n+1 bytes.
    pub fn escape(&self, input: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; input.len() * 2 + 1];
        // SAFETY: `out` has the 2n+1 bytes the API requires for n input
        // bytes; the function writes at most that and reads `input.len()`.
        let written = unsafe {
            sys::lc_real_escape_string(
                self.raw(),
                out.as_mut_ptr().cast(),
                input.as_ptr().cast(),
                input.len() as libc::c_ulong,
            )
        };
        out.truncate(written as usize);
        out
    }

    /// Turns the C library's float-conversion bug (BUG#29909157) on or off.
    pub fn set_compat_float_leak(&mut self, on: bool) {
        // SAFETY: live handle; sets one flag.
        unsafe { sys::lc_set_compat_float_leak(self.raw(), i32::from(on)) }
    }

    /// Registers `callback`, called with each row `query` stores; return
    /// `false` to abort the query. It replaces (and drops) any earlier one.
    /// `'static` because C keeps the pointer beyond any borrow.
    pub fn set_row_callback<F>(&mut self, callback: F)
    where
        F: FnMut(&CallbackRow<'_>) -> bool + Send + 'static,
    {
        let slot = SlotOwner::new(Box::new(callback));
        // SAFETY: live handle; the slot's address is stable (heap, behind a
        // raw pointer) and its owner is kept in `self.callback` until C no
        // longer holds it.
        unsafe {
            sys::lc_set_row_callback(self.raw(), Some(CallbackSlot::trampoline), slot.user_data())
        };
        // The old slot is dropped only now that C holds the new one.
        self.callback = Some(slot);
    }

    /// Unregisters the row callback and drops it.
    pub fn clear_row_callback(&mut self) {
        // SAFETY: live handle; NULL unregisters.
        unsafe { sys::lc_set_row_callback(self.raw(), None, std::ptr::null_mut()) };
        self.callback = None;
    }

    /// Closes the connection and reports the C error instead of swallowing
    /// it: on failure the connection comes back, still open.
    pub fn close(self) -> Result<(), (Connection, Error)> {
        // SAFETY: live handle; on success it is freed and never used again.
        let code = unsafe { sys::lc_close(self.raw()) };
        if code != 0 {
            let error = self.last_error();
            return Err((self, error));
        }
        // The handle is gone: skip Drop's close, but drop the callback.
        let mut this = std::mem::ManuallyDrop::new(self);
        this.callback = None;
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: live handle, closed once. It can only refuse (BUSY) if a
        // Statement was leaked with mem::forget; then the handle leaks too,
        // which is what forgetting a statement means.
        unsafe { sys::lc_close(self.raw()) };
    }
}

impl Backend for Connection {
    fn execute(&mut self, sql: &str) -> Result<Outcome, Error> {
        if let Some(mut result) = self.query(sql)? {
            return result.collect();
        }
        Ok(Outcome {
            affected_rows: self.affected_rows(),
            ..Outcome::default()
        })
    }

    fn execute_prepared(&mut self, sql: &str, params: &[Param]) -> Result<Outcome, Error> {
        let mut statement = self.prepare(sql)?;
        statement.bind_all(params)?;
        statement.execute()?;
        let affected_rows = statement.affected_rows();
        match statement.store_result()? {
            Some(mut result) => result.collect(),
            None => Ok(Outcome {
                affected_rows,
                ..Outcome::default()
            }),
        }
    }

    fn expanded_sql(&mut self, sql: &str, params: &[Param]) -> Result<String, Error> {
        let mut statement = self.prepare(sql)?;
        statement.bind_all(params)?;
        statement.expanded_sql()
    }

    fn escape(&self, input: &[u8]) -> Vec<u8> {
        Connection::escape(self, input)
    }

    fn stat(&mut self) -> Result<String, Error> {
        Connection::stat(self)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("handle", &self.handle)
            .field("row_callback", &self.callback.is_some())
            .finish()
    }
}
