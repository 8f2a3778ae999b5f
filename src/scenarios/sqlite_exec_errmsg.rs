//! sqlite-exec-errmsg: sqlite3_exec's error message never passed to sqlite3_free.

use super::code::{Code, Item, SQLITE_DATABASE, SQLITE_LEAKY, SQLITE_STRING};
use super::{
    BackendChoice, Expected, Iteration, Origin, Scenario, Variant, lab_err, sqlite_footprint,
};
use crate::sqlite::Error;
use crate::sqlite::leaky::LeakyDatabase;
use crate::sqlite::safe::Database;

pub static SCENARIO: Scenario = Scenario {
    id: "sqlite-exec-errmsg",
    title: "sqlite3_exec error message never freed",
    origin: Origin {
        source: "rust-binding",
        reference: "SQLite C API: sqlite3_exec's *errmsg 'is obtained from sqlite3_malloc'; \
                    'to avoid memory leaks, the application should invoke sqlite3_free()' on it",
    },
    pattern: "the message sqlite3_exec allocates for a failed statement is copied into the error and the pointer dropped, as if SQLite owned it like sqlite3_errmsg's",
    fix: "take the message into an owner (SqliteString) whose Drop calls sqlite3_free",
    library: "sqlite",
    leaky,
    safe,
    safe_backend: BackendChoice::C,
    pure_capable: false,
    expected,
    iteration_budget: None,
    source_file: "src/scenarios/sqlite_exec_errmsg.rs",
    source: include_str!("sqlite_exec_errmsg.rs"),
    code: Code {
        leaky: &[Item::of(&SQLITE_LEAKY, "    pub fn exec(")],
        safe: &[
            Item::of(&SQLITE_DATABASE, "    pub fn exec("),
            Item::of(&SQLITE_STRING, "impl Drop for SqliteString"),
        ],
    },
};

/// A statement that fails, and SQLite's message for it.
const SQL: &str = "SELECT * FROM missing";
const MESSAGE: &str = "no such table: missing";

fn leaky(_: BackendChoice) -> Result<Iteration, String> {
    let mut db = LeakyDatabase::open_in_memory().map_err(lab_err)?;
    Ok(Box::new(move || expect_message(db.exec(SQL))))
}

fn safe(_: BackendChoice) -> Result<Iteration, String> {
    let db = Database::open_in_memory().map_err(lab_err)?;
    Ok(Box::new(move || expect_message(db.exec(SQL))))
}

fn expect_message(outcome: Result<(), Error>) -> Result<(), String> {
    match outcome {
        Err(Error::Sqlite { message, .. }) if message == MESSAGE => Ok(()),
        other => Err(format!("expected {MESSAGE:?}, got {other:?}")),
    }
}

fn expected(variant: Variant, _: BackendChoice) -> Expected {
    match variant {
        // One block: the message and its NUL (sqlite_footprint::exec_message).
        Variant::Leaky => Expected::c_lost(sqlite_footprint::exec_message(MESSAGE)),
        Variant::Safe => Expected::CLEAN,
    }
}
