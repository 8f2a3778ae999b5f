//! The error of both SQLite bindings.

use std::fmt;

/// A failed SQLite call, or input SQLite cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A result code other than SQLITE_OK/ROW/DONE, with SQLite's message.
    Sqlite { code: i32, message: String },
    /// The SQL text holds a NUL byte at `position`.
    InteriorNul { position: usize },
    /// The SQL text holds no statement (only spaces or comments).
    EmptyStatement,
}

impl Error {
    /// SQLite's result code, if SQLite returned one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Sqlite { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite { code, message } => write!(f, "SQLite error {code}: {message}"),
            Error::InteriorNul { position } => {
                write!(f, "SQL text holds a NUL byte at {position}")
            }
            Error::EmptyStatement => write!(f, "the SQL text holds no statement"),
        }
    }
}

impl std::error::Error for Error {}
