//! The real MySQL C client API: MariaDB Connector/C (libmariadb), bound in
//! `crate::sys::mariadb`, with a leaky binding and a safe one in the style
//! of the stand-in's (src/connector/), and a private server to talk to.
//!
//! Behind the `mariadb` feature. The scenarios in src/scenarios/mariadb/
//! repeat the stand-in's patterns on this API, and their fidelity table
//! (src/scenarios/mariadb/fidelity.rs) says where the two agree and where
//! they differ.
//!
//! The ownership rules the bindings follow are the C API's own:
//! - the handle from `mysql_init(NULL)` is the caller's until
//!   `mysql_close`, whether or not `mysql_real_connect` succeeded on it;
//! - every result from `mysql_store_result` or `mysql_stmt_result_metadata`
//!   goes to `mysql_free_result`;
//! - `mysql_error`'s string belongs to the handle (copy it, never free it);
//! - `mysql_real_escape_string` writes into the caller's buffer of
//!   `2 * len + 1` bytes and allocates nothing.

pub mod leaky;
pub mod safe;
pub mod server;

/// An error of the C API, copied off the handle that reported it.
///
/// ```
/// let e = leaklab_lab::mariadb::Error::Api {
///     function: "mysql_real_query",
///     code: 1146,
///     message: "Table 'shop.nope' doesn't exist".into(),
/// };
/// assert!(e.to_string().contains("1146"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A call failed and the handle says why (`mysql_errno`, `mysql_error`).
    Api {
        function: &'static str,
        code: u32,
        message: String,
    },
    /// A call returned NULL with no error on the handle (out of memory).
    Null { function: &'static str },
    /// A value could not be converted (a name read as a number).
    Conversion { value: String, target: &'static str },
    /// A string with an interior NUL cannot cross to C.
    Nul,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Api {
                function,
                code,
                message,
            } => write!(f, "{function} failed ({code}): {message}"),
            Error::Null { function } => write!(f, "{function} returned NULL"),
            Error::Conversion { value, target } => {
                write!(f, "cannot convert {value:?} to {target}")
            }
            Error::Nul => write!(f, "a string with a NUL byte cannot be passed to C"),
        }
    }
}

impl std::error::Error for Error {}
