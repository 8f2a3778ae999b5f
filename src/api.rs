//! The connector's API as every backend speaks it (`crate::connector::types`):
//! values, error codes and the `Backend` trait. The C binding and the
//! pure-Rust backend return the very same values, so a caller (and a test)
//! can swap one for the other; the SQL engine and the Miri model of the C
//! API, beneath both, speak it too.

use std::fmt;

/// Column type, as the C library's `lc_field_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FieldType {
    Text,
    Int,
    Double,
}

/// One column of a result set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    pub name: String,
    pub field_type: FieldType,
}

/// A whole query outcome, collected: what both backends agree on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Empty for statements without a result set (INSERT, DELETE).
    pub fields: Vec<Field>,
    /// Values in the text protocol: TEXT as stored, INT as `%lld`, DOUBLE as `%.2f`.
    pub rows: Vec<Vec<Vec<u8>>>,
    pub affected_rows: u64,
}

/// A prepared-statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Double(f64),
    Text(Vec<u8>),
}

/// Error codes of the connector, numbered as the MySQL server and client.
pub mod code {
    pub const ACCESS_DENIED: u32 = 1045;
    pub const BAD_DB: u32 = 1049;
    pub const BAD_FIELD: u32 = 1054;
    pub const PARSE: u32 = 1064;
    pub const EMPTY_QUERY: u32 = 1065;
    pub const NET_PACKET_TOO_LARGE: u32 = 1153;
    pub const NO_SUCH_TABLE: u32 = 1146;
    pub const QUERY_INTERRUPTED: u32 = 1317;
    pub const WRONG_VALUE: u32 = 1366;
    pub const SERVER_GONE: u32 = 2006;
    pub const OUT_OF_MEMORY: u32 = 2008;
    pub const COMMANDS_OUT_OF_SYNC: u32 = 2014;
    pub const NO_PREPARED_STMT: u32 = 2030;
    pub const PARAMS_NOT_BOUND: u32 = 2031;
    pub const INVALID_PARAMETER_NO: u32 = 2034;
    pub const BUSY: u32 = 2099;
}

/// Longest query the connector accepts, in bytes (`LC_MAX_QUERY_LEN`).
pub const MAX_QUERY_LEN: usize = 65536;

/// What the bindings refuse before the connector sees a query: more than
/// [`MAX_QUERY_LEN`] bytes. Both backends check it the same way, so a caller
/// gets `QueryTooLong` whichever one runs.
pub fn check_length(text: &str) -> Result<(), Error> {
    if text.len() > MAX_QUERY_LEN {
        return Err(Error::QueryTooLong {
            length: text.len(),
            max: MAX_QUERY_LEN,
        });
    }
    Ok(())
}

/// [`check_length`], then what a NUL-terminated C string cannot carry: a
/// NUL byte (`InteriorNul` at its offset). For text passed to C without a
/// length (`lc_query`, `lc_real_connect`).
pub fn check_c_string(text: &str) -> Result<(), Error> {
    check_length(text)?;
    match text.bytes().position(|b| b == 0) {
        Some(position) => Err(Error::InteriorNul { position }),
        None => Ok(()),
    }
}

/// Everything that can go wrong through the safe API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The connector reported an error: its code and the message copied
    /// from the handle (the C string is only valid until the next call).
    Connector { code: u32, message: String },
    /// The query holds a NUL byte at this offset; C strings cannot carry it.
    InteriorNul { position: usize },
    /// A value or name from C is not UTF-8 (use the lossy/bytes accessors).
    InvalidUtf8 { valid_up_to: usize },
    /// The query is longer than [`MAX_QUERY_LEN`]; refused before calling C.
    QueryTooLong { length: usize, max: usize },
    /// A column index past the row's width.
    ColumnOutOfRange { index: usize, count: usize },
    /// A C function returned NULL where it promised an object.
    NullReturn { function: &'static str },
    /// A value could not be converted to the Rust type asked for.
    Conversion { value: String, target: &'static str },
    /// A Rust callback panicked while C was calling it; the panic was caught
    /// at the boundary and C was told to stop.
    CallbackPanicked { message: String },
}

impl Error {
    /// The connector error code, if this error came from the connector.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Connector { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connector { code, message } => write!(f, "connector error {code}: {message}"),
            Error::InteriorNul { position } => {
                write!(f, "query holds a NUL byte at offset {position}")
            }
            Error::InvalidUtf8 { valid_up_to } => {
                write!(f, "value is not UTF-8 (valid up to byte {valid_up_to})")
            }
            Error::QueryTooLong { length, max } => {
                write!(f, "query is {length} bytes, longer than the limit of {max}")
            }
            Error::ColumnOutOfRange { index, count } => {
                write!(
                    f,
                    "column {index} out of range: the row has {count} columns"
                )
            }
            Error::NullReturn { function } => write!(f, "{function} returned NULL"),
            Error::Conversion { value, target } => {
                write!(f, "cannot convert '{value}' to {target}")
            }
            Error::CallbackPanicked { message } => {
                write!(f, "a callback panicked inside C: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The same workload, whichever backend runs it: the lab's `use_pure` switch.
pub trait Backend {
    /// Runs one statement and collects everything it returns.
    fn execute(&mut self, sql: &str) -> Result<Outcome, Error>;
    /// Prepares `sql`, binds `params` in order, executes, collects.
    fn execute_prepared(&mut self, sql: &str, params: &[Param]) -> Result<Outcome, Error>;
    /// The text `sql` would run with `params` bound (`lc_stmt_expanded_sql`).
    fn expanded_sql(&mut self, sql: &str, params: &[Param]) -> Result<String, Error>;
    /// Escapes `input` for a text literal (`lc_real_escape_string`).
    fn escape(&self, input: &[u8]) -> Vec<u8>;
    /// The server status line (`lc_stat`).
    fn stat(&mut self) -> Result<String, Error>;
}
