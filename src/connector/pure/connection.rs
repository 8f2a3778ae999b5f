//! `PureConnection`: the handle, owning its in-memory server (one table and
//! a query counter), as each connected `LC` owns its own server.

use super::engine;
use super::error;
use super::format::escape;
use super::statement::{Statement, parse};
use super::table::Table;
use crate::connector::types::{Backend, Error, Outcome, Param, check_c_string, check_length};

/// The only credentials the stand-in server accepts.
const USER: &str = "lab";
const PASSWORD: &str = "lab";
const DATABASE: &str = "shop";

/// A connected handle with its own freshly seeded `people` table.
#[derive(Debug, Clone, PartialEq)]
pub struct PureConnection {
    table: Table,
    queries: u64,
}

impl PureConnection {
    /// Refuses what the safe binding cannot pass to C (each of host, user,
    /// password and database, in that order: longer than the query limit or
    /// holding a NUL byte), then checks user and password (1045), then the
    /// database (1049); the host is ignored, as in the C library.
    pub fn connect(
        host: &str,
        user: &str,
        passwd: &str,
        db: &str,
    ) -> Result<PureConnection, Error> {
        for text in [host, user, passwd, db] {
            check_c_string(text)?;
        }
        if user != USER || passwd != PASSWORD {
            return Err(error::access_denied(user));
        }
        if db != DATABASE {
            return Err(error::bad_db(db));
        }
        Ok(PureConnection {
            table: Table::seeded(),
            queries: 0,
        })
    }

    /// `lc_real_query` + `lc_store_result`: the whole query is bytes, so it
    /// may hold NUL inside text literals.
    pub fn query_bytes(&mut self, sql: &[u8]) -> Result<Outcome, Error> {
        let stmt = parse(sql, false)?;
        self.run(&stmt, &[])
    }

    /// `lc_stmt_execute` + `lc_stmt_store_result`: `params[i]` is the value
    /// of the i-th '?', `None` when unbound. Counts as a query on success.
    pub fn run(&mut self, stmt: &Statement, params: &[Option<Param>]) -> Result<Outcome, Error> {
        let outcome = engine::execute(&mut self.table, stmt, params)?;
        self.queries += 1;
        Ok(outcome)
    }

    /// `lc_stat`: successful queries and executions, and rows now in people.
    pub fn stat_line(&self) -> String {
        format!("Queries: {}  Rows: {}", self.queries, self.table.rows.len())
    }
}

/// Binds `params` in order, as the C backend does with `lc_stmt_bind_*`:
/// one past the statement's count fails with 2034.
fn bind_all(stmt: &Statement, params: &[Param]) -> Result<Vec<Option<Param>>, Error> {
    if params.len() > stmt.param_count() {
        return Err(error::invalid_parameter_no());
    }
    Ok(params.iter().cloned().map(Some).collect())
}

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
        let bound = bind_all(&stmt, params)?;
        self.run(&stmt, &bound)
    }

    fn expanded_sql(&mut self, sql: &str, params: &[Param]) -> Result<String, Error> {
        check_length(sql)?;
        let stmt = parse(sql.as_bytes(), true)?;
        let bound = bind_all(&stmt, params)?;
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
