//! The safe binding to libmariadb: every C object the caller owns is held
//! by a Rust owner whose `Drop` gives it back, so `?`, a panic or an
//! early return free it too.
//!
//! - [`Connection`] owns the handle from `mysql_init` *before* connecting,
//!   so a failed connect closes it (the C API leaves it to the caller);
//! - [`StoredResult`] owns a `MYSQL_RES` and calls `mysql_free_result`;
//!   it borrows its connection (or statement), which must outlive it;
//! - [`Statement`] owns a `MYSQL_STMT` and calls `mysql_stmt_close`.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{NonNull, null, null_mut};

use super::Error;
use crate::sys::mariadb as sys;

/// The account the lab's private server has: root over its socket.
const USER: &CStr = c"root";

/// A connection to a server, closed on drop.
///
/// ```no_run
/// use leaklab_lab::mariadb::{safe::Connection, server};
/// let mut conn = Connection::connect(&server::socket()?, Some("shop")).map_err(|e| e.to_string())?;
/// let mut rows = conn.query("SELECT name FROM people").map_err(|e| e.to_string())?;
/// while let Some(row) = rows.fetch() {
///     println!("{}", row.get_str(0).map_err(|e| e.to_string())?);
/// }
/// # Ok::<(), String>(())
/// ```
pub struct Connection {
    handle: NonNull<sys::MYSQL>,
}

impl Connection {
    /// Connects as root over `socket`, to `database` if given.
    pub fn connect(socket: &Path, database: Option<&str>) -> Result<Connection, Error> {
        let socket = CString::new(socket.as_os_str().as_bytes()).map_err(|_| Error::Nul)?;
        let database = database
            .map(CString::new)
            .transpose()
            .map_err(|_| Error::Nul)?;
        // SAFETY: mysql_init(NULL) allocates a fresh handle (NULL when out
        // of memory); it takes no other input.
        let raw = unsafe { sys::mysql_init(null_mut()) };
        // Owned from here: if the connect below fails, dropping `conn`
        // closes the handle.
        let conn = Connection {
            handle: NonNull::new(raw).ok_or(Error::Null {
                function: "mysql_init",
            })?,
        };
        // SAFETY: a handle from mysql_init; every string is NUL-terminated
        // and outlives the call (the library copies what it keeps).
        let connected = unsafe {
            sys::mysql_real_connect(
                conn.raw(),
                null(),
                USER.as_ptr(),
                null(),
                database.as_ref().map_or(null(), |d| d.as_ptr()),
                0,
                socket.as_ptr(),
                0,
            )
        };
        if connected.is_null() {
            return Err(conn.error("mysql_real_connect"));
        }
        Ok(conn)
    }

    /// The handle, for calls this binding does not wrap.
    pub fn raw(&self) -> *mut sys::MYSQL {
        self.handle.as_ptr()
    }

    /// The handle's last error, copied (the string is the handle's).
    pub fn error(&self, function: &'static str) -> Error {
        // SAFETY: a live handle; mysql_error returns a NUL-terminated string
        // the handle owns, copied before any other call on it.
        unsafe { api_error(function, self.raw()) }
    }

    /// Runs a statement that returns no rows (or whose rows are dropped).
    pub fn execute(&mut self, sql: &str) -> Result<(), Error> {
        self.send(sql)?;
        // SAFETY: a live handle right after a query; a NULL result with a
        // zero field count is a statement without rows.
        let result = unsafe { sys::mysql_store_result(self.raw()) };
        if let Some(result) = NonNull::new(result) {
            drop(StoredResult::<'_>::own(result));
        }
        Ok(())
    }

    /// Runs a query and stores its whole result on the client.
    pub fn query(&mut self, sql: &str) -> Result<StoredResult<'_>, Error> {
        self.send(sql)?;
        // SAFETY: a live handle right after a successful query.
        let result = unsafe { sys::mysql_store_result(self.raw()) };
        match NonNull::new(result) {
            Some(result) => Ok(StoredResult::own(result)),
            None => Err(self.error("mysql_store_result")),
        }
    }

    /// Sends `sql` (mysql_real_query): the first half of every query.
    pub fn send(&mut self, sql: &str) -> Result<(), Error> {
        // SAFETY: a live handle; the text and its length describe one
        // buffer, read during the call only.
        let code =
            unsafe { sys::mysql_real_query(self.raw(), sql.as_ptr().cast(), sql.len() as _) };
        if code != 0 {
            return Err(self.error("mysql_real_query"));
        }
        Ok(())
    }

    /// Prepares `sql` as a server-side statement.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement<'_>, Error> {
        // SAFETY: a live handle; NULL is out of memory.
        let raw = unsafe { sys::mysql_stmt_init(self.raw()) };
        let stmt = Statement {
            raw: NonNull::new(raw).ok_or(Error::Null {
                function: "mysql_stmt_init",
            })?,
            _conn: PhantomData,
        };
        // SAFETY: a statement of this connection; the text and length
        // describe one buffer, read during the call.
        let code = unsafe {
            sys::mysql_stmt_prepare(stmt.raw.as_ptr(), sql.as_ptr().cast(), sql.len() as _)
        };
        if code != 0 {
            return Err(stmt.error("mysql_stmt_prepare"));
        }
        Ok(stmt)
    }

    /// `text` escaped for a quoted SQL string, written by the library into
    /// a buffer this binding owns (the API allocates nothing).
    pub fn escape(&self, text: &str) -> String {
        let mut buffer = vec![0u8; 2 * text.len() + 1];
        // SAFETY: a live handle; `buffer` holds the 2 * len + 1 bytes the
        // API may write, `text` is `len` readable bytes.
        let written = unsafe {
            sys::mysql_real_escape_string(
                self.raw(),
                buffer.as_mut_ptr().cast(),
                text.as_ptr().cast(),
                text.len() as _,
            )
        };
        buffer.truncate(written as usize);
        // Escaping adds backslashes before ASCII bytes only.
        String::from_utf8(buffer).expect("escaped UTF-8 stays UTF-8")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: the handle is this owner's, closed once, here; a handle
        // whose connect failed is closed the same way (it frees it).
        unsafe { sys::mysql_close(self.raw()) };
    }
}

/// A result held on the client, freed on drop. It borrows what produced it.
///
/// ```no_run
/// use leaklab_lab::mariadb::{safe::Connection, server};
/// let mut conn = Connection::connect(&server::socket()?, Some("shop")).map_err(|e| e.to_string())?;
/// let result = conn.query("SELECT name, age FROM people").map_err(|e| e.to_string())?;
/// assert_eq!(result.field_names(), ["name", "age"]);
/// assert_eq!(result.num_rows(), 5);
/// // Dropped here: mysql_free_result.
/// # Ok::<(), String>(())
/// ```
pub struct StoredResult<'a> {
    raw: NonNull<sys::MYSQL_RES>,
    _from: PhantomData<&'a mut ()>,
}

impl StoredResult<'_> {
    /// Takes ownership of a result the caller owned.
    fn own(raw: NonNull<sys::MYSQL_RES>) -> Self {
        StoredResult {
            raw,
            _from: PhantomData,
        }
    }

    pub fn num_rows(&self) -> u64 {
        // SAFETY: a live stored result.
        unsafe { sys::mysql_num_rows(self.raw.as_ptr()) }
    }

    pub fn num_fields(&self) -> usize {
        // SAFETY: a live result.
        unsafe { sys::mysql_num_fields(self.raw.as_ptr()) as usize }
    }

    /// Each column's name.
    pub fn field_names(&self) -> Vec<String> {
        (0..self.num_fields())
            .map(|i| {
                // SAFETY: `i` < num_fields of a live result: a field the
                // result owns, whose name is NUL-terminated.
                unsafe {
                    let field = sys::mysql_fetch_field_direct(self.raw.as_ptr(), i as u32);
                    CStr::from_ptr((*field).name).to_string_lossy().into_owned()
                }
            })
            .collect()
    }

    /// The next row, borrowed from the result until the next fetch.
    pub fn fetch(&mut self) -> Option<Row<'_>> {
        // SAFETY: a live result; NULL is the end of the rows.
        let values = unsafe { sys::mysql_fetch_row(self.raw.as_ptr()) };
        if values.is_null() {
            return None;
        }
        // SAFETY: right after a fetch that returned a row.
        let lengths = unsafe { sys::mysql_fetch_lengths(self.raw.as_ptr()) };
        Some(Row {
            values,
            lengths,
            fields: self.num_fields(),
            _result: PhantomData,
        })
    }
}

impl Drop for StoredResult<'_> {
    fn drop(&mut self) {
        // SAFETY: the result is this owner's, freed once, here.
        unsafe { sys::mysql_free_result(self.raw.as_ptr()) };
    }
}

/// One row of a stored result, borrowed until the next fetch.
///
/// ```no_run
/// use leaklab_lab::mariadb::{safe::Connection, server};
/// let mut conn = Connection::connect(&server::socket()?, Some("shop")).map_err(|e| e.to_string())?;
/// let mut result = conn.query("SELECT age FROM people").map_err(|e| e.to_string())?;
/// let row = result.fetch().expect("a row");
/// let age: i64 = row.get_str(0).map_err(|e| e.to_string())?.parse().map_err(|_| "not a number")?;
/// # Ok::<(), String>(())
/// ```
pub struct Row<'r> {
    values: sys::MYSQL_ROW,
    lengths: *mut libc::c_ulong,
    fields: usize,
    _result: PhantomData<&'r ()>,
}

impl Row<'_> {
    /// Column `i`'s bytes (`None` for SQL NULL or no such column).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.fields {
            return None;
        }
        // SAFETY: `i` < the row's field count; the row's arrays live while
        // the result is borrowed, and value i has lengths[i] bytes.
        unsafe {
            let value = *self.values.add(i);
            if value.is_null() {
                return None;
            }
            Some(std::slice::from_raw_parts(
                value.cast::<u8>(),
                *self.lengths.add(i) as usize,
            ))
        }
    }

    /// Column `i` as text.
    pub fn get_str(&self, i: usize) -> Result<&str, Error> {
        let bytes = self.get(i).ok_or(Error::Conversion {
            value: format!("column {i}"),
            target: "text",
        })?;
        std::str::from_utf8(bytes).map_err(|_| Error::Conversion {
            value: String::from_utf8_lossy(bytes).into_owned(),
            target: "UTF-8 text",
        })
    }
}

/// A prepared statement, closed on drop.
///
/// ```no_run
/// use leaklab_lab::mariadb::{safe::Connection, server};
/// let mut conn = Connection::connect(&server::socket()?, Some("shop")).map_err(|e| e.to_string())?;
/// let statement = conn.prepare("SELECT name FROM people WHERE age > ?").map_err(|e| e.to_string())?;
/// let columns = statement.result_metadata().map_err(|e| e.to_string())?.field_names();
/// assert_eq!(columns, ["name"]);
/// # Ok::<(), String>(())
/// ```
pub struct Statement<'c> {
    raw: NonNull<sys::MYSQL_STMT>,
    _conn: PhantomData<&'c mut Connection>,
}

impl Statement<'_> {
    /// The statement's result columns, as a result of their own (with no
    /// rows) that the caller must free: here an owner that does.
    pub fn result_metadata(&self) -> Result<StoredResult<'_>, Error> {
        // SAFETY: a live, prepared statement; NULL is no result columns or
        // out of memory.
        let raw = unsafe { sys::mysql_stmt_result_metadata(self.raw.as_ptr()) };
        NonNull::new(raw)
            .map(StoredResult::own)
            .ok_or_else(|| self.error("mysql_stmt_result_metadata"))
    }

    /// The raw statement, for calls this binding does not wrap.
    pub fn raw(&self) -> *mut sys::MYSQL_STMT {
        self.raw.as_ptr()
    }

    fn error(&self, function: &'static str) -> Error {
        // SAFETY: a live statement; its error string is its own,
        // NUL-terminated, copied at once.
        let message = unsafe { CStr::from_ptr(sys::mysql_stmt_error(self.raw.as_ptr())) };
        Error::Api {
            function,
            code: 0,
            message: message.to_string_lossy().into_owned(),
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is this owner's, closed once, here.
        unsafe { sys::mysql_stmt_close(self.raw.as_ptr()) };
    }
}

/// The handle's error, copied.
///
/// # Safety
/// `handle` is a live handle from `mysql_init`.
pub(super) unsafe fn api_error(function: &'static str, handle: *mut sys::MYSQL) -> Error {
    // SAFETY: the caller's handle is live; mysql_error's string is the
    // handle's, NUL-terminated, and copied before any other call on it.
    let (code, message) = unsafe {
        (
            sys::mysql_errno(handle),
            CStr::from_ptr(sys::mysql_error(handle))
                .to_string_lossy()
                .into_owned(),
        )
    };
    Error::Api {
        function,
        code,
        message,
    }
}
