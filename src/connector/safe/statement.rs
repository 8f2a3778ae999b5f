//! `Statement`: owns an `LC_STMT` from `lc_stmt_init` to `lc_stmt_close`.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::connection::Connection;
use super::error::{from_handle, from_stmt};
use super::result::QueryResult;
use super::string::CString as LcString;
use crate::connector::types::{Error, Param, check_length};
use crate::sys;

/// A prepared statement. It borrows its connection: the connection cannot
/// close while a statement is open (C refuses with `LC_CR_BUSY`).
pub struct Statement<'conn> {
    raw: NonNull<sys::LC_STMT>,
    /// The query holds a NUL byte (inside a text literal): its expanded SQL,
    /// a NUL-terminated C string, cannot carry it whole.
    holds_nul: bool,
    _conn: PhantomData<&'conn mut Connection>,
}

impl<'conn> Statement<'conn> {
    pub(crate) fn prepare(conn: &'conn mut Connection, sql: &str) -> Result<Self, Error> {
        check_length(sql)?;
        // SAFETY: live handle; NULL means out of memory, reported on the handle.
        let raw = unsafe { sys::lc_stmt_init(conn.raw()) };
        // SAFETY: live handle.
        let raw = NonNull::new(raw).ok_or_else(|| unsafe { from_handle(conn.raw()) })?;
        // Owned from here: an early return closes it.
        let statement = Statement {
            raw,
            holds_nul: sql.as_bytes().contains(&0),
            _conn: PhantomData,
        };
        // SAFETY: live statement; C reads `sql.len()` bytes (NUL allowed).
        let code = unsafe {
            sys::lc_stmt_prepare(
                statement.raw(),
                sql.as_ptr().cast(),
                sql.len() as libc::c_ulong,
            )
        };
        statement.check(code)?;
        Ok(statement)
    }

    fn raw(&self) -> *mut sys::LC_STMT {
        self.raw.as_ptr()
    }

    fn check(&self, code: libc::c_int) -> Result<(), Error> {
        if code == 0 {
            Ok(())
        } else {
            // SAFETY: live statement.
            Err(unsafe { from_stmt(self.raw()) })
        }
    }

    pub fn param_count(&self) -> usize {
        // SAFETY: live statement; reads one field.
        unsafe { sys::lc_stmt_param_count(self.raw()) as usize }
    }

    /// Binds parameter `index` (from 0). C copies text values.
    pub fn bind(&mut self, index: usize, value: &Param) -> Result<(), Error> {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        // SAFETY: live statement; text is read for its length and copied.
        let code = unsafe {
            match value {
                Param::Int(v) => sys::lc_stmt_bind_int(self.raw(), index, *v),
                Param::Double(v) => sys::lc_stmt_bind_double(self.raw(), index, *v),
                Param::Text(v) => sys::lc_stmt_bind_text(
                    self.raw(),
                    index,
                    v.as_ptr().cast(),
                    v.len() as libc::c_ulong,
                ),
            }
        };
        self.check(code)
    }

    /// Binds `params` to parameters 0, 1, 2, …
    pub fn bind_all(&mut self, params: &[Param]) -> Result<(), Error> {
        params
            .iter()
            .enumerate()
            .try_for_each(|(i, p)| self.bind(i, p))
    }

    pub fn execute(&mut self) -> Result<(), Error> {
        // SAFETY: live statement.
        let code = unsafe { sys::lc_stmt_execute(self.raw()) };
        self.check(code)
    }

    pub fn affected_rows(&self) -> u64 {
        // SAFETY: live statement; reads one field.
        unsafe { sys::lc_stmt_affected_rows(self.raw()) }
    }

    /// The columns the statement returns, as a caller-owned (and here,
    /// RAII-freed) result without rows; `None` for INSERT and DELETE.
    pub fn metadata(&mut self) -> Result<Option<QueryResult<'_>>, Error> {
        // SAFETY: live statement; the result is ours.
        let raw = unsafe { sys::lc_stmt_result_metadata(self.raw()) };
        self.owned_result(raw)
    }

    /// The rows of the executed SELECT; `None` for INSERT and DELETE.
    pub fn store_result(&mut self) -> Result<Option<QueryResult<'_>>, Error> {
        // SAFETY: live statement; the result is ours.
        let raw = unsafe { sys::lc_stmt_store_result(self.raw()) };
        self.owned_result(raw)
    }

    fn owned_result(&self, raw: *mut sys::LC_RES) -> Result<Option<QueryResult<'_>>, Error> {
        let affected_rows = self.affected_rows();
        // SAFETY: a NULL or caller-owned result whose field names live in
        // the handle, which outlives the statement's borrow.
        match unsafe { QueryResult::from_raw(raw, affected_rows) } {
            Some(result) => Ok(Some(result)),
            // SAFETY: live statement.
            None if unsafe { sys::lc_stmt_errno(self.raw()) } != 0 => {
                // SAFETY: live statement.
                Err(unsafe { from_stmt(self.raw()) })
            }
            None => Ok(None),
        }
    }

    /// The query with its bound values in place (`lc_stmt_expanded_sql`,
    /// a string C allocates and `LcString` frees: rusqlite #552 forgot to).
    /// A query holding a NUL byte gives `InteriorNul` rather than the text
    /// up to it: bound values never render a NUL (TEXT is escaped), so the
    /// C string ends exactly at the query's first NUL.
    pub fn expanded_sql(&mut self) -> Result<String, Error> {
        // SAFETY: live statement; the string is ours, owned by LcString.
        let text = unsafe {
            LcString::from_raw(
                sys::lc_stmt_expanded_sql(self.raw()),
                "lc_stmt_expanded_sql",
            )
        }
        // SAFETY: live statement.
        .map_err(|_| unsafe { from_stmt(self.raw()) })?;
        if self.holds_nul {
            return Err(Error::InteriorNul {
                position: text.as_c_str().to_bytes().len(),
            });
        }
        Ok(text.to_str()?.to_owned())
    }

    /// Closes the statement, reporting a C error.
    pub fn close(self) -> Result<(), Error> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: live statement, closed once; Drop will not run.
        let code = unsafe { sys::lc_stmt_close(this.raw()) };
        if code == 0 {
            Ok(())
        } else {
            Err(Error::Connector {
                code: code as u32,
                message: "lc_stmt_close failed".into(),
            })
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the statement and close it exactly once.
        unsafe { sys::lc_stmt_close(self.raw()) };
    }
}

impl std::fmt::Debug for Statement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("params", &self.param_count())
            .finish()
    }
}
