//! sqlite-unfinalized-stmt: a statement never finalized makes sqlite3_close
//! refuse (SQLITE_BUSY); the binding ignores that, losing the connection.
//!
//! The leak is a whole connection, whose structures are SQLite's private
//! business: its size is a footprint measurement
//! (`sqlite_footprint::lost_connection`: a connection opened, the same
//! statement prepared and stepped in it, a close refused), not a run of
//! this leak.

use super::code::{Code, Item, SQLITE_DATABASE, SQLITE_LEAKY, SQLITE_STATEMENT};
use super::{
    BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err, sqlite_footprint,
};
use crate::sqlite::leaky::LeakyDatabase;
use crate::sqlite::safe::{Database, Step};

pub static SCENARIO: Scenario = Scenario {
    id: "sqlite-unfinalized-stmt",
    title: "Unfinalized statement: sqlite3_close refused, connection lost",
    origin: Origin {
        source: "rust-binding",
        reference: "SQLite C API: sqlite3_close returns SQLITE_BUSY and leaves the connection open \
                    'if the database connection is associated with unfinalized prepared statements'",
    },
    pattern: "a statement is left unfinalized, so sqlite3_close returns SQLITE_BUSY, which the binding ignores: the statement and the whole connection are lost",
    fix: "finalize statements on Drop and borrow the database from them, so it cannot close first; report SQLITE_BUSY from close",
    library: "sqlite",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    // 67920 B a leaky iteration with the bundled SQLite (measured): 5000
    // iterations keep 340 MB, under the default 1 GiB cap with SQLite's own
    // overhead; the growth detector's 20000 would not fit.
    iteration_budget: Some(5000),
    source_file: "src/scenarios/sqlite_unfinalized_statement.rs",
    source: include_str!("sqlite_unfinalized_statement.rs"),
    code: Code {
        leaky: &[
            Item::of(&SQLITE_LEAKY, "impl Drop for LeakyDatabase"),
            Item::of(&SQLITE_LEAKY, "    pub fn first_value_unfinalized("),
        ],
        safe: &[
            Item::of(&SQLITE_STATEMENT, "impl Drop for Statement"),
            Item::of(&SQLITE_DATABASE, "    pub fn close("),
        ],
    },
};

const SQL: &str = "SELECT 40 + 2";
const ANSWER: i64 = 42;

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let mut db = LeakyDatabase::open_in_memory().map_err(lab_err)?;
        let value = db.first_value_unfinalized(SQL).map_err(lab_err)?;
        check(value)
    }))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    Ok(Box::new(|| {
        let db = Database::open_in_memory().map_err(lab_err)?;
        let value = {
            let mut statement = db.prepare(SQL).map_err(lab_err)?;
            if statement.step().map_err(lab_err)? != Step::Row {
                return Err("no row".into());
            }
            statement.column_int64(0)
        };
        db.close().map_err(|(_, e)| lab_err(e))?;
        check(value)
    }))
}

fn check(value: i64) -> Result<(), String> {
    if value == ANSWER {
        Ok(())
    } else {
        Err(format!("expected {ANSWER}, got {value}"))
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        Variant::Leaky => Expected::c_lost(sqlite_footprint::lost_connection(SQL).total()),
        Variant::Safe => Expected::CLEAN,
    }
}
