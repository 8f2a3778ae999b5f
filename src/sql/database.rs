//! `Database`: a connected handle's in-memory server (one table and a
//! query counter), as each connected `LC` owns its own server.

use super::engine;
use super::error;
use super::statement::{Statement, parse};
use super::table::Table;
use crate::api::{Error, Outcome, Param, check_c_string};

/// The only credentials the stand-in server accepts.
const USER: &str = "lab";
const PASSWORD: &str = "lab";
const DATABASE: &str = "shop";

/// A connected handle with its own freshly seeded `people` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    table: Table,
    queries: u64,
}

impl Database {
    /// Refuses what the safe binding cannot pass to C (each of host, user,
    /// password and database, in that order: longer than the query limit or
    /// holding a NUL byte), then checks user and password (1045), then the
    /// database (1049); the host is ignored, as in the C library.
    pub fn connect(host: &str, user: &str, passwd: &str, db: &str) -> Result<Database, Error> {
        for text in [host, user, passwd, db] {
            check_c_string(text)?;
        }
        if user != USER || passwd != PASSWORD {
            return Err(error::access_denied(user));
        }
        if db != DATABASE {
            return Err(error::bad_db(db));
        }
        Ok(Database {
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
