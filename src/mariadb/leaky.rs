//! The leaky binding to libmariadb: raw pointers and hand-placed frees,
//! each method with one of the stand-in's mistakes (src/connector/leaky.rs)
//! made on the real API. Every MISTAKE names its safe counterpart in
//! src/mariadb/safe.rs or in its scenario's file.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{null, null_mut};

use super::Error;
use super::safe::api_error;
use crate::sys::mariadb as sys;

/// A connection held as a raw handle. Closed on drop: the connection
/// itself is not the leak; each method's mistake is.
///
/// ```no_run
/// use leaklab_lab::mariadb::{leaky::LeakyConnection, server};
/// let mut conn = LeakyConnection::connect(&server::socket()?, Some("shop")).map_err(|e| e.to_string())?;
/// // Every call keeps one result set for good: the mistake this type shows.
/// let rows = conn.query_rows("SELECT name FROM people").map_err(|e| e.to_string())?;
/// assert_eq!(rows.len(), 5);
/// # Ok::<(), String>(())
/// ```
pub struct LeakyConnection {
    handle: *mut sys::MYSQL,
}

impl LeakyConnection {
    /// MISTAKE (failed connect without close): when `mysql_real_connect`
    /// fails, the handle from `mysql_init` is dropped on the floor. The C
    /// API leaves it allocated and the caller's (mysqlclient PR #350).
    /// Safe counterpart: `safe::Connection::connect` owns the handle first.
    pub fn connect(socket: &Path, database: Option<&str>) -> Result<LeakyConnection, Error> {
        let socket = CString::new(socket.as_os_str().as_bytes()).map_err(|_| Error::Nul)?;
        let database = database
            .map(CString::new)
            .transpose()
            .map_err(|_| Error::Nul)?;
        // SAFETY: mysql_init(NULL) allocates a handle; the strings outlive
        // the connect call.
        unsafe {
            let handle = sys::mysql_init(null_mut());
            if handle.is_null() {
                return Err(Error::Null {
                    function: "mysql_init",
                });
            }
            let connected = sys::mysql_real_connect(
                handle,
                null(),
                c"root".as_ptr(),
                null(),
                database.as_ref().map_or(null(), |d| d.as_ptr()),
                0,
                socket.as_ptr(),
                0,
            );
            if connected.is_null() {
                return Err(api_error("mysql_real_connect", handle));
            }
            Ok(LeakyConnection { handle })
        }
    }

    /// Runs `sql` and returns its stored result, the caller's to free.
    fn store(&mut self, sql: &str) -> Result<*mut sys::MYSQL_RES, Error> {
        // SAFETY: a live handle; the text and length describe one buffer.
        unsafe {
            if sys::mysql_real_query(self.handle, sql.as_ptr().cast(), sql.len() as _) != 0 {
                return Err(api_error("mysql_real_query", self.handle));
            }
            let result = sys::mysql_store_result(self.handle);
            if result.is_null() {
                return Err(api_error("mysql_store_result", self.handle));
            }
            Ok(result)
        }
    }

    /// MISTAKE (result set never freed): the rows are copied out and the
    /// `MYSQL_RES` is never given to `mysql_free_result`.
    /// Safe counterpart: `safe::StoredResult`, freed on drop.
    pub fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        let result = self.store(sql)?;
        let mut rows = Vec::new();
        // SAFETY: a live stored result; each row's values have the lengths
        // mysql_fetch_lengths gives.
        unsafe {
            let fields = sys::mysql_num_fields(result) as usize;
            loop {
                let row = sys::mysql_fetch_row(result);
                if row.is_null() {
                    break;
                }
                rows.push(copy_row(row, sys::mysql_fetch_lengths(result), fields));
            }
        }
        Ok(rows)
    }

    /// MISTAKE (early return): a value that does not parse makes `?`
    /// return from the loop; the `mysql_free_result` after it never runs.
    /// Safe counterpart: the same `?` with the result in a `StoredResult`.
    pub fn sum_column(&mut self, sql: &str, column: usize) -> Result<i64, Error> {
        let result = self.store(sql)?;
        let mut sum = 0i64;
        // SAFETY: a live stored result, freed after the loop (if reached).
        unsafe {
            let fields = sys::mysql_num_fields(result) as usize;
            loop {
                let row = sys::mysql_fetch_row(result);
                if row.is_null() {
                    break;
                }
                let values = copy_row(row, sys::mysql_fetch_lengths(result), fields);
                sum += parse_i64(&values[column])?;
            }
            sys::mysql_free_result(result);
        }
        Ok(sum)
    }

    /// MISTAKE (panic between allocation and free): `expect` on a value
    /// that does not parse unwinds past the `mysql_free_result`.
    /// Safe counterpart: a `StoredResult`, dropped while unwinding.
    pub fn first_as_i64(&mut self, sql: &str) -> i64 {
        let result = self.store(sql).expect("query");
        // SAFETY: a live stored result, freed below (if reached).
        unsafe {
            let fields = sys::mysql_num_fields(result) as usize;
            let row = sys::mysql_fetch_row(result);
            assert!(!row.is_null(), "a row");
            let values = copy_row(row, sys::mysql_fetch_lengths(result), fields);
            let first = values[0].parse::<i64>().expect("first value is an integer");
            sys::mysql_free_result(result);
            first
        }
    }

    /// MISTAKE (`mem::forget` of an owner): an owner with a correct Drop
    /// is forgotten once its raw pointer is taken, so nothing frees it.
    /// Safe counterpart: let the owner drop.
    pub fn count_rows(&mut self, sql: &str) -> Result<u64, Error> {
        let owner = ResultOwner(self.store(sql)?);
        let raw = owner.0;
        std::mem::forget(owner);
        // SAFETY: the result is still live (and now owned by nobody).
        Ok(unsafe { sys::mysql_num_rows(raw) })
    }

    /// MISTAKE (prepared-statement metadata never freed): the column names
    /// come from `mysql_stmt_result_metadata`, a caller-owned result never
    /// given to `mysql_free_result` (mysql-connector-python's
    /// `MySQLPrepStmt_handle_result` on its success path).
    /// Safe counterpart: `safe::Statement::result_metadata`.
    pub fn prepared_columns(&mut self, sql: &str) -> Result<Vec<String>, Error> {
        // SAFETY: a live handle; the statement is closed on every path.
        unsafe {
            let stmt = sys::mysql_stmt_init(self.handle);
            if stmt.is_null() {
                return Err(Error::Null {
                    function: "mysql_stmt_init",
                });
            }
            if sys::mysql_stmt_prepare(stmt, sql.as_ptr().cast(), sql.len() as _) != 0 {
                let e = api_error("mysql_stmt_prepare", self.handle);
                sys::mysql_stmt_close(stmt);
                return Err(e);
            }
            let meta = sys::mysql_stmt_result_metadata(stmt);
            let mut names = Vec::new();
            if !meta.is_null() {
                for i in 0..sys::mysql_num_fields(meta) {
                    let field = &*sys::mysql_fetch_field_direct(meta, i);
                    names.push(
                        std::ffi::CStr::from_ptr(field.name)
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
            sys::mysql_stmt_close(stmt);
            Ok(names)
        }
    }

    /// MISTAKE (escape buffer forgotten): the `2n+1`-byte buffer the API
    /// writes into is a `Vec` that is `mem::forget`-ten after its pointer
    /// is taken: Rust's memory, lost on the Rust side.
    /// Safe counterpart: `safe::Connection::escape` keeps the `Vec`.
    pub fn escape(&mut self, input: &str) -> String {
        let mut buffer = vec![0u8; input.len() * 2 + 1];
        let out = buffer.as_mut_ptr();
        std::mem::forget(buffer);
        // SAFETY: `out` has 2n+1 bytes and is never freed, so it stays valid.
        unsafe {
            let written = sys::mysql_real_escape_string(
                self.handle,
                out.cast(),
                input.as_ptr().cast(),
                input.len() as _,
            );
            String::from_utf8_lossy(std::slice::from_raw_parts(out, written as usize)).into_owned()
        }
    }
}

impl Drop for LeakyConnection {
    fn drop(&mut self) {
        // SAFETY: a connected handle, closed once, here.
        unsafe { sys::mysql_close(self.handle) };
    }
}

/// An owner with a correct Drop (that `count_rows` forgets).
struct ResultOwner(*mut sys::MYSQL_RES);

impl Drop for ResultOwner {
    fn drop(&mut self) {
        // SAFETY: the owner holds a live, caller-owned result.
        unsafe { sys::mysql_free_result(self.0) }
    }
}

/// A row's values as strings (SQL NULL as "").
///
/// # Safety
/// `row` and `lengths` are a fetched row's, with `fields` entries each.
unsafe fn copy_row(row: sys::MYSQL_ROW, lengths: *mut libc::c_ulong, fields: usize) -> Vec<String> {
    (0..fields)
        .map(|i| {
            // SAFETY: the caller's row has `fields` values and lengths.
            unsafe {
                let value = *row.add(i);
                if value.is_null() {
                    return String::new();
                }
                let bytes =
                    std::slice::from_raw_parts(value.cast::<u8>(), *lengths.add(i) as usize);
                String::from_utf8_lossy(bytes).into_owned()
            }
        })
        .collect()
}

fn parse_i64(value: &str) -> Result<i64, Error> {
    value.parse().map_err(|_| Error::Conversion {
        value: value.to_owned(),
        target: "i64",
    })
}
