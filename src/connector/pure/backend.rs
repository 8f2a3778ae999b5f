//! The pure backend behind the shared trait: it answers exactly as the
//! safe binding over C does.

use crate::connector::types::{Backend, Error, Outcome, Param, check_c_string, check_length};
use crate::sql::{escape, parse};

use super::PureConnection;

/// The trait answers exactly as the safe binding over C does, so the
/// binding's own checks come first: a query for `lc_query` is a C string
/// (`QueryTooLong`, then `InteriorNul`); a prepared one goes with its length
/// (`QueryTooLong` only); an expanded SQL comes back as a C string.
impl Backend for PureConnection {
    fn execute(&mut self, sql: &str) -> Result<Outcome, Error> {
        check_c_string(sql)?;
        self.query_bytes(sql.as_bytes())
    }

    fn execute_prepared(&mut self, sql: &str, params: &[Param]) -> Result<Outcome, Error> {
        check_length(sql)?;
        let stmt = parse(sql.as_bytes(), true)?;
        let bound = stmt.bind_all(params)?;
        self.run(&stmt, &bound)
    }

    fn expanded_sql(&mut self, sql: &str, params: &[Param]) -> Result<String, Error> {
        check_length(sql)?;
        let stmt = parse(sql.as_bytes(), true)?;
        let bound = stmt.bind_all(params)?;
        let expanded = stmt.expanded_sql(&bound);
        if let Some(position) = expanded.iter().position(|&b| b == 0) {
            return Err(Error::InteriorNul { position });
        }
        String::from_utf8(expanded).map_err(|e| Error::InvalidUtf8 {
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    }

    fn escape(&self, input: &[u8]) -> Vec<u8> {
        escape(input)
    }

    fn stat(&mut self) -> Result<String, Error> {
        Ok(self.stat_line())
    }
}
