//! The connector errors this backend raises, with the C library's exact
//! messages (see the comments next to each code in connector.h).

use crate::api::{Error, MAX_QUERY_LEN, code};

/// `LC_ERRMSG_SIZE`: the C handle keeps messages in a 512-byte buffer, so a
/// message (say, naming a long identifier) is cut to 511 bytes there too.
const ERRMSG_SIZE: usize = 512;

/// The cut is at the byte, as C's `snprintf` cuts, even inside a UTF-8
/// character; the message is then read lossily, as the safe binding reads
/// the C buffer, so a cut character becomes U+FFFD on both backends.
fn connector(code: u32, message: String) -> Error {
    let bytes = message.as_bytes();
    let cut = &bytes[..bytes.len().min(ERRMSG_SIZE - 1)];
    Error::Connector {
        code,
        message: String::from_utf8_lossy(cut).into_owned(),
    }
}

/// Names in messages are bytes from the query; they are ASCII identifiers
/// in practice, and anything else is shown lossily.
fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

pub fn access_denied(user: &str) -> Error {
    connector(
        code::ACCESS_DENIED,
        format!("Access denied for user '{user}'"),
    )
}

pub fn bad_db(db: &str) -> Error {
    connector(code::BAD_DB, format!("Unknown database '{db}'"))
}

pub fn bad_field(column: &[u8]) -> Error {
    connector(
        code::BAD_FIELD,
        format!("Unknown column '{}'", show(column)),
    )
}

pub fn parse(offset: usize) -> Error {
    connector(
        code::PARSE,
        format!("You have an error in your SQL syntax at offset {offset}"),
    )
}

pub fn empty_query() -> Error {
    connector(code::EMPTY_QUERY, "Query was empty".to_string())
}

pub fn too_long() -> Error {
    connector(
        code::NET_PACKET_TOO_LARGE,
        format!("Query is longer than {MAX_QUERY_LEN} bytes"),
    )
}

pub fn no_such_table(table: &[u8]) -> Error {
    connector(
        code::NO_SUCH_TABLE,
        format!("Table 'shop.{}' doesn't exist", show(table)),
    )
}

pub fn wrong_value(column: &str) -> Error {
    connector(
        code::WRONG_VALUE,
        format!("Incorrect value for column '{column}'"),
    )
}

pub fn params_not_bound() -> Error {
    connector(
        code::PARAMS_NOT_BOUND,
        "No data supplied for parameters in prepared statement".to_string(),
    )
}

pub fn invalid_parameter_no() -> Error {
    connector(
        code::INVALID_PARAMETER_NO,
        "Invalid parameter number".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_like_the_c_buffer() {
        let Error::Connector { message, .. } = no_such_table(&[b'x'; 1000]) else {
            panic!("not a connector error");
        };
        assert_eq!(message.len(), 511);
        assert!(message.starts_with("Table 'shop.xxx"));
    }

    #[test]
    fn a_cut_inside_a_character_reads_as_a_replacement_character() {
        // "Access denied for user '" is 24 bytes: 487 bytes of 'é' remain,
        // 243 whole characters and the first byte of one more.
        let Error::Connector { message, .. } = access_denied(&"é".repeat(300)) else {
            panic!("not a connector error");
        };
        assert_eq!(
            message,
            format!("Access denied for user '{}\u{fffd}", "é".repeat(243))
        );
    }
}
